// The in-memory Raft log of one node: a snapshot base, the entries after it,
// how far they are durable (stable), committed and applied.
//
// Layout (indexes grow to the right):
//
//   baseIndex | entries ......................................... lastIndex
//             |-- trail --| snapshotIndex
//             |-- stable (persisted) ------|-- unstable (to persist) --|
//   applied <= commit <= lastIndex; only stable, committed entries are handed
//   out for apply, so nothing is applied before it is durable.
//
// The trail: compact() may keep some entries the snapshot already covers, as
// etcd (SnapshotCatchUpEntries) and hashicorp/raft (TrailingLogs) do, so that a
// follower a little behind the snapshot (a node restarted after a few seconds)
// catches up from the log instead of receiving and restoring the whole
// snapshot. Trail entries are committed and applied; they are only ever read.
// How long a trail to keep is the caller's policy (RaftCore.catchUpTrail: on a
// leader, what its furthest-behind peer lacks, bounded).
import { assert } from './assert.js';
import type { Entry, Member, SendableSnapshot, Snapshot, SnapshotBytes, SnapshotMeta } from './types.js';
import { assertNever } from './types.js';

/** Rough per-entry framing cost, so that tiny entries still count against byte budgets. */
const ENTRY_OVERHEAD_BYTES = 24;

export function entryBytes(e: Entry): number {
  switch (e.kind) {
    case 'normal':
      return ENTRY_OVERHEAD_BYTES + e.data.byteLength;
    case 'noop':
      return ENTRY_OVERHEAD_BYTES;
    case 'config':
      return ENTRY_OVERHEAD_BYTES + e.members.reduce((n, m) => n + m.id.length + m.url.length + 8, 0);
    default:
      return assertNever(e);
  }
}

export interface LogInit {
  readonly snapshot: SendableSnapshot | null;
  /** Durable entries after the snapshot, contiguous. */
  readonly entries: readonly Entry[];
  readonly commitIndex: number;
  readonly appliedIndex: number;
}

export interface ConfigAt {
  /** Index of the config entry (or snapshot) that set `members`; 0 for bootstrap. */
  readonly index: number;
  readonly members: readonly Member[];
}

export class RaftLog {
  // Invariant: entries[k].index === baseIndex + 1 + k, and terms never decrease
  // along the log, starting at baseTerm. baseIndex <= snapIndex, and the entry
  // at snapIndex, if held, has snapTerm.
  private baseIndex: number;
  private baseTerm: number;
  private snapIndex: number;
  private snapTerm: number;
  private snapMembers: readonly Member[] | null;
  private entries: Entry[];
  /** Latest snapshot (taken locally or installed), kept to send to lagging followers. */
  private sendable: SendableSnapshot | null;
  /** A snapshot received from the leader that the driver has not persisted yet. */
  private pendingSnap: Snapshot | null = null;
  // Invariant: snapIndex <= stable <= lastIndex(). Entries up to `stable` are
  // durable (or covered by the pending snapshot, which goes to disk first).
  private stable: number;
  // Invariant: applied <= commit <= lastIndex(), snapIndex <= commit.
  private commit: number;
  private applied: number;

  constructor(init: LogInit) {
    this.snapIndex = init.snapshot?.meta.index ?? 0;
    this.snapTerm = init.snapshot?.meta.term ?? 0;
    this.snapMembers = init.snapshot?.meta.members ?? null;
    this.baseIndex = this.snapIndex;
    this.baseTerm = this.snapTerm;
    this.sendable = init.snapshot;
    this.entries = [...init.entries];
    this.stable = this.lastIndex();
    this.commit = Math.max(init.commitIndex, this.snapIndex);
    this.applied = init.appliedIndex;
    this.checkInvariants();
  }

  get commitIndex(): number {
    return this.commit;
  }
  get appliedIndex(): number {
    return this.applied;
  }
  get snapshotIndex(): number {
    return this.snapIndex;
  }
  get stableIndex(): number {
    return this.stable;
  }
  /** The snapshot to send to followers whose next index was compacted away. */
  get snapshot(): SendableSnapshot | null {
    return this.sendable;
  }
  /** A received snapshot waiting to be persisted and restored by the driver. */
  get pendingSnapshot(): Snapshot | null {
    return this.pendingSnap;
  }

  /** The first entry held: snapshotIndex + 1, or lower by the trail kept behind the snapshot. */
  firstIndex(): number {
    return this.baseIndex + 1;
  }
  lastIndex(): number {
    return this.baseIndex + this.entries.length;
  }
  lastTerm(): number {
    return this.entries.at(-1)?.term ?? this.baseTerm;
  }

  /** Term of the entry at `i`; undefined if compacted away or beyond the end. */
  termAt(i: number): number | undefined {
    if (i === this.baseIndex) return this.baseTerm;
    if (i < this.baseIndex || i > this.lastIndex()) return undefined;
    return this.entryAt(i).term;
  }

  matchTerm(i: number, term: number): boolean {
    return this.termAt(i) === term;
  }

  entryAt(i: number): Entry {
    const e = this.entries[i - this.baseIndex - 1];
    assert(e !== undefined && e.index === i, () => `no entry ${i} in log (${this.firstIndex()}..${this.lastIndex()})`);
    return e;
  }

  /** §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm() || (lastTerm === this.lastTerm() && lastIndex >= this.lastIndex());
  }

  /** Leader-side append of new entries at the end. */
  append(ents: readonly Entry[]): void {
    const first = ents[0];
    if (first === undefined) return;
    assert(first.index === this.lastIndex() + 1, () => `append at ${first.index} after last ${this.lastIndex()}`);
    assert(first.term >= this.lastTerm(), 'appended term below last term');
    this.entries.push(...ents);
  }

  /**
   * Follower-side AppendEntries (§5.3). Returns the index of the last entry
   * known to match the leader's log, or null if the consistency check fails.
   */
  maybeAppend(prevIndex: number, prevTerm: number, leaderCommit: number, ents: readonly Entry[]): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    ents.forEach((e, k) => assert(e.index === prevIndex + 1 + k, 'append entries are not contiguous'));
    const lastNew = prevIndex + ents.length;
    const conflict = this.findConflict(ents);
    if (conflict !== 0) {
      const from = ents[conflict - prevIndex - 1];
      assert(from !== undefined, 'conflict index outside the appended entries');
      this.truncateAndAppend(ents.slice(conflict - prevIndex - 1));
    }
    this.commitTo(Math.min(leaderCommit, lastNew));
    return lastNew;
  }

  /** Index of the first entry whose term differs from ours (or is new), 0 if all match. */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Fast backtracking (§5.3, etcd's findConflictByTerm): the largest index <= `index`
   * whose term is <= `term`. Entries between it and `index` cannot match a log
   * whose entry at `index` has `term`.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    assert(index <= this.lastIndex(), () => `findConflictByTerm(${index}) beyond last ${this.lastIndex()}`);
    for (let i = index; i > 0; i--) {
      const t = this.termAt(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  private truncateAndAppend(ents: readonly Entry[]): void {
    const first = ents[0];
    if (first === undefined) return;
    // Committed entries are never overwritten: that would break State Machine Safety.
    assert(first.index > this.commit, () => `truncating committed entry ${first.index} (commit ${this.commit})`);
    assert(first.index > this.snapIndex && first.index <= this.lastIndex() + 1, 'truncation outside the log');
    this.entries.length = first.index - this.baseIndex - 1;
    this.entries.push(...ents);
    this.stable = Math.min(this.stable, first.index - 1);
    assert(this.lastTerm() >= (this.termAt(first.index - 1) ?? 0), 'terms decrease after truncation');
  }

  /** Entries from `lo` on, within `maxBytes` (at least one) and `maxCount`. */
  slice(lo: number, maxBytes: number, maxCount: number): Entry[] {
    assert(lo > this.baseIndex, () => `slice from compacted index ${lo}`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i <= this.lastIndex() && out.length < maxCount; i++) {
      const e = this.entryAt(i);
      bytes += entryBytes(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Entries the driver still has to persist. */
  unstableEntries(): Entry[] {
    return this.entries.slice(this.stable - this.baseIndex);
  }

  /** The driver persisted entries up to (index, term). Ignored if they were since overwritten. */
  stableTo(index: number, term: number): void {
    if (this.matchTerm(index, term) && index > this.stable) this.stable = index;
  }

  /** Committed, durable entries not yet applied (none while a snapshot is pending). */
  nextToApply(maxCount: number): Entry[] {
    if (this.pendingSnap !== null) return [];
    const hi = Math.min(this.commit, this.stable, this.applied + maxCount);
    if (hi <= this.applied) return [];
    assert(this.applied >= this.snapIndex, () => `applied ${this.applied} below snapshot ${this.snapIndex}`);
    return this.entries.slice(this.applied - this.baseIndex, hi - this.baseIndex);
  }

  appliedTo(index: number): void {
    assert(index > this.applied && index <= Math.min(this.commit, this.stable), () => `appliedTo(${index}) out of range`);
    this.applied = index;
  }

  commitTo(index: number): void {
    if (index <= this.commit) return;
    assert(index <= this.lastIndex(), () => `commit ${index} beyond last index ${this.lastIndex()}`);
    this.commit = index;
  }

  /**
   * Drops entries covered by a snapshot the driver took at meta.index (<= applied),
   * but for the last `trailEntries` of them (see the trail, above).
   */
  compact(meta: SnapshotMeta, data: SnapshotBytes, trailEntries = 0): boolean {
    assert(meta.index <= this.applied, () => `compact at ${meta.index} beyond applied ${this.applied}`);
    if (meta.index <= this.snapIndex) return false;
    assert(this.matchTerm(meta.index, meta.term), () => `compact meta term ${meta.term} != log term at ${meta.index}`);
    const base = Math.max(this.baseIndex, meta.index - trailEntries);
    if (base > this.baseIndex) {
      const term = this.termAt(base);
      assert(term !== undefined, () => `no term at new base ${base}`);
      this.baseTerm = term;
      this.entries.splice(0, base - this.baseIndex);
      this.baseIndex = base;
    }
    this.snapIndex = meta.index;
    this.snapTerm = meta.term;
    this.snapMembers = meta.members;
    this.sendable = { meta, data };
    this.checkInvariants();
    return true;
  }

  /**
   * Installs a snapshot from the leader whose last entry our log does not hold:
   * by the Log Matching property no entry of ours after it can match the
   * leader's log either, so the whole log is replaced.
   */
  restore(snap: Snapshot): void {
    assert(snap.meta.index > this.commit, 'restoring a snapshot at or below the commit index');
    assert(!this.matchTerm(snap.meta.index, snap.meta.term), 'restoring a snapshot the log already contains');
    this.entries = [];
    this.baseIndex = snap.meta.index;
    this.baseTerm = snap.meta.term;
    this.snapIndex = snap.meta.index;
    this.snapTerm = snap.meta.term;
    this.snapMembers = snap.meta.members;
    this.sendable = snap;
    this.pendingSnap = snap;
    this.stable = snap.meta.index;
    this.commit = snap.meta.index;
    this.checkInvariants();
  }

  /**
   * The driver stored the snapshot at meta.index and gives its bytes as stored
   * (a reader over its file): the latest snapshot, if it is still that one and
   * no longer waits to be persisted, is sent from those from now on. A transfer
   * already under way keeps the bytes it started with.
   */
  snapshotStored(meta: SnapshotMeta, data: SnapshotBytes): boolean {
    const s = this.sendable;
    if (s === null || this.pendingSnap !== null || s.meta.index !== meta.index || s.meta.term !== meta.term) return false;
    if (data.byteLength !== s.data.byteLength) return false;
    this.sendable = { meta: s.meta, data };
    return true;
  }

  /** The driver persisted and restored `meta`'s snapshot. */
  snapshotPersisted(meta: SnapshotMeta): void {
    const p = this.pendingSnap;
    if (p === null || p.meta.index !== meta.index || p.meta.term !== meta.term) return;
    this.pendingSnap = null;
    this.applied = Math.max(this.applied, meta.index);
  }

  /** Membership in effect after the last entry (config entries take effect when appended). */
  lastConfig(): ConfigAt | null {
    return this.configAt(this.lastIndex());
  }

  /** Membership in effect as of `index` (>= snapshotIndex); null if only bootstrap applies. */
  configAt(index: number): ConfigAt | null {
    assert(index >= this.snapIndex && index <= this.lastIndex(), () => `configAt(${index}) outside the log`);
    for (let i = index; i > this.snapIndex; i--) {
      const e = this.entryAt(i);
      if (e.kind === 'config') return { index: i, members: e.members };
    }
    return this.snapMembers === null ? null : { index: this.snapIndex, members: this.snapMembers };
  }

  checkInvariants(): void {
    assert(this.baseIndex <= this.snapIndex, () => `base ${this.baseIndex} above snapshot ${this.snapIndex}`);
    assert(
      this.snapIndex === this.baseIndex || this.termAt(this.snapIndex) === this.snapTerm,
      () => `entry at snapshot ${this.snapIndex} has term ${this.termAt(this.snapIndex)}, not ${this.snapTerm}`,
    );
    assert(
      this.snapIndex <= this.stable && this.stable <= this.lastIndex(),
      () => `stable ${this.stable} outside ${this.snapIndex}..${this.lastIndex()}`,
    );
    assert(this.snapIndex <= this.commit, () => `commit ${this.commit} below snapshot ${this.snapIndex}`);
    assert(this.applied <= this.commit, () => `applied ${this.applied} > commit ${this.commit}`);
    assert(this.commit <= this.lastIndex(), () => `commit ${this.commit} > last index ${this.lastIndex()}`);
    let prevTerm = this.baseTerm;
    this.entries.forEach((e, k) => {
      assert(e.index === this.baseIndex + 1 + k, () => `entry ${e.index} at position ${k} after base ${this.baseIndex}`);
      assert(e.term >= prevTerm, () => `term decreases at entry ${e.index}`);
      prevTerm = e.term;
    });
  }
}
