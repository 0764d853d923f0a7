// Global safety invariants, checked against everything any node ever did.
//
// The checker only sees what a real observer could: Readys (persisted entries,
// sent messages, applied entries, read states), the synced disks and status().
// Every check is incremental so it can run after every step of thousands of
// schedules. "Committed" means observed committed: applied by some node, or
// covered by some node's persisted commit index.
import type { Entry, HardState, Message, NodeId, ReadState } from '../../src/raft/types.js';
import type { SimDisk } from './disk.js';
import { decodeSnapshot, fingerprint, type AppliedRecord } from './state-machine.js';
import { violation } from './violation.js';

interface CommittedEntry {
  readonly term: number;
  readonly fp: string;
  /**
   * Upper bound on the term in which the entry was committed: the lowest current
   * term of any node when it observed the entry committed. Leader Completeness
   * binds leaders of terms above the commit term; using an upper bound is sound.
   */
  commitTermBound: number;
}

/** A leader whose in-memory log equals its synced disk (no undrained Ready). */
export interface LeaderLog {
  readonly id: NodeId;
  readonly term: number;
  readonly disk: SimDisk;
}

export class InvariantChecker {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** `${index}:${term}` -> payload and the term of the entry before it (Log Matching). */
  private readonly seen = new Map<string, { fp: string; prevTerm: number }>();
  private readonly committed = new Map<number, CommittedEntry>();
  private readonly appliedBy = new Map<number, { fp: string; term: number; node: NodeId }>();
  private readonly commitRecorded = new Map<NodeId, number>();
  private readonly checkedLeaderLogs = new Set<string>();
  private readonly pendingReads = new Map<string, number>();
  private readonly snapshotCache = new WeakMap<Uint8Array, AppliedRecord[]>();
  maxCommittedIndex = 0;
  readsConfirmed = 0;

  constructor(private readonly currentLeaders: () => readonly LeaderLog[]) {}

  // ---- Election Safety -------------------------------------------------------

  onLeaderObserved(id: NodeId, term: number): void {
    const known = this.leaderOfTerm.get(term);
    if (known === undefined) this.leaderOfTerm.set(term, id);
    else if (known !== id) violation('election-safety', `term ${term} has two leaders: ${known} and ${id}`);
  }

  leaderCount(): number {
    return this.leaderOfTerm.size;
  }

  // ---- Persistence: hard state, Log Matching, no committed entry lost ---------

  onPersisted(id: NodeId, disk: SimDisk, prev: HardState, entries: readonly Entry[], removed: readonly Entry[]): void {
    this.checkHardState(id, prev, disk.hardState, disk.lastIndex);
    for (const e of entries) this.checkLogMatching(id, e, disk.termAt(e.index - 1));
    for (const r of removed) {
      const c = this.committed.get(r.index);
      if (c !== undefined && c.term === r.term && disk.termAt(r.index) !== r.term) {
        violation('durability', `${id} truncated committed entry ${r.index}/${r.term} (${c.fp})`);
      }
    }
    this.recordCommitIndex(id, disk);
  }

  private checkHardState(id: NodeId, prev: HardState, next: HardState, lastIndex: number): void {
    if (next.term < prev.term) violation('hard-state', `${id} persisted term ${next.term} after ${prev.term}`);
    if (next.term === prev.term && prev.vote !== null && next.vote !== prev.vote) {
      violation('hard-state', `${id} changed its vote in term ${next.term} from ${prev.vote} to ${String(next.vote)}`);
    }
    if (next.commitIndex < prev.commitIndex) {
      violation('hard-state', `${id} persisted commitIndex ${next.commitIndex} after ${prev.commitIndex}`);
    }
    if (next.commitIndex > lastIndex) {
      violation('hard-state', `${id} persisted commitIndex ${next.commitIndex} beyond its last log index ${lastIndex}`);
    }
  }

  /**
   * Same (index, term) must mean same payload and same predecessor term. By
   * induction over the index that makes two logs with a common (index, term)
   * identical up to it, which is the Log Matching property.
   */
  private checkLogMatching(id: NodeId, e: Entry, prevTerm: number | undefined): void {
    if (prevTerm === undefined) violation('ready-contract', `${id} stored entry ${e.index} with no predecessor`);
    if (prevTerm > e.term)
      violation('log-matching', `${id} log has term ${prevTerm} at ${e.index - 1} before term ${e.term} at ${e.index}`);
    const key = `${e.index}:${e.term}`;
    const fp = fingerprint(e);
    const known = this.seen.get(key);
    if (known === undefined) {
      this.seen.set(key, { fp, prevTerm });
      return;
    }
    if (known.fp !== fp) violation('log-matching', `${id} has entry ${key} = ${fp}, another log has ${known.fp}`);
    if (known.prevTerm !== prevTerm) {
      violation('log-matching', `${id} has entry ${key} after term ${prevTerm}, another log has it after term ${known.prevTerm}`);
    }
  }

  private recordCommitIndex(id: NodeId, disk: SimDisk): void {
    const from = Math.max(this.commitRecorded.get(id) ?? 0, disk.snapshotIndex) + 1;
    for (let i = from; i <= disk.hardState.commitIndex; i++) {
      const e = disk.entryAt(i);
      if (e === undefined) violation('hard-state', `${id} commitIndex ${disk.hardState.commitIndex} covers missing entry ${i}`);
      this.recordCommitted(id, e.index, e.term, fingerprint(e), disk.hardState.term, 'log-matching');
    }
    this.commitRecorded.set(id, Math.max(this.commitRecorded.get(id) ?? 0, disk.hardState.commitIndex));
  }

  private recordCommitted(
    id: NodeId,
    index: number,
    term: number,
    fp: string,
    observerTerm: number,
    onConflict: 'log-matching' | 'state-machine-safety',
  ): void {
    const known = this.committed.get(index);
    if (known !== undefined) {
      if (known.term !== term || known.fp !== fp) {
        violation(
          onConflict,
          `${id} has ${index}/${term} (${fp}) committed, but ${index}/${known.term} (${known.fp}) was committed before`,
        );
      }
      known.commitTermBound = Math.min(known.commitTermBound, Math.max(term, observerTerm));
      return;
    }
    const entry: CommittedEntry = { term, fp, commitTermBound: Math.max(term, observerTerm) };
    this.committed.set(index, entry);
    this.maxCommittedIndex = Math.max(this.maxCommittedIndex, index);
    for (const leader of this.currentLeaders()) {
      if (leader.term > entry.commitTermBound) this.checkLeaderHas(leader.id, leader.term, leader.disk, index, entry);
    }
  }

  // ---- Leader Completeness ---------------------------------------------------

  leaderLogChecked(id: NodeId, term: number): boolean {
    return this.checkedLeaderLogs.has(`${id}:${term}`);
  }

  /** Call when `id` is leader of `term` and its whole log is on `disk` (memory == disk). */
  onLeaderLog(id: NodeId, term: number, disk: SimDisk): void {
    const key = `${id}:${term}`;
    if (this.checkedLeaderLogs.has(key)) return;
    this.checkedLeaderLogs.add(key);
    for (const [index, c] of this.committed) {
      if (term > c.commitTermBound) this.checkLeaderHas(id, term, disk, index, c);
    }
  }

  private checkLeaderHas(id: NodeId, term: number, disk: SimDisk, index: number, c: CommittedEntry): void {
    if (index > disk.snapshotIndex) {
      const e = disk.entryAt(index);
      if (e === undefined || e.term !== c.term || fingerprint(e) !== c.fp) {
        const got = e === undefined ? 'nothing' : `${e.index}/${e.term} (${fingerprint(e)})`;
        violation('leader-completeness', `leader ${id} of term ${term} lacks committed ${index}/${c.term} (${c.fp}); has ${got}`);
      }
      return;
    }
    const snap = disk.snapshot;
    if (snap === null) throw new Error('harness bug: snapshotIndex > 0 without a snapshot');
    const record = this.decodeCached(snap.data)[index - 1];
    if (record === undefined || record.term !== c.term || record.fp !== c.fp) {
      violation('leader-completeness', `leader ${id} of term ${term}: snapshot lacks committed ${index}/${c.term} (${c.fp})`);
    }
  }

  private decodeCached(data: Uint8Array): AppliedRecord[] {
    let records = this.snapshotCache.get(data);
    if (records === undefined) {
      records = decodeSnapshot(data);
      this.snapshotCache.set(data, records);
    }
    return records;
  }

  // ---- State Machine Safety --------------------------------------------------

  onApplied(id: NodeId, record: AppliedRecord, observerTerm: number): void {
    const known = this.appliedBy.get(record.index);
    if (known === undefined) this.appliedBy.set(record.index, { fp: record.fp, term: record.term, node: id });
    else if (known.fp !== record.fp || known.term !== record.term) {
      violation(
        'state-machine-safety',
        `${id} applied ${record.index}/${record.term} (${record.fp}) but ${known.node} applied ${record.index}/${known.term} (${known.fp})`,
      );
    }
    this.recordCommitted(id, record.index, record.term, record.fp, observerTerm, 'state-machine-safety');
  }

  onSnapshotRestored(id: NodeId, records: readonly AppliedRecord[], observerTerm: number): void {
    for (const r of records) this.onApplied(id, r, observerTerm);
  }

  appliedAt(index: number): { fp: string; term: number } | undefined {
    return this.appliedBy.get(index);
  }

  committedEntries(): ReadonlyMap<number, { readonly term: number; readonly fp: string }> {
    return this.committed;
  }

  // ---- Persist before send ---------------------------------------------------

  /** `disk` is the sender's disk after the Ready carrying `msg` was persisted. */
  onSend(id: NodeId, msg: Message, disk: SimDisk): void {
    if (msg.from !== id) violation('ready-contract', `${id} sent a message from ${msg.from}`);
    if (msg.to === id) violation('ready-contract', `${id} sent a ${msg.type} to itself`);
    if (msg.type === 'preVote' || msg.type === 'preVoteResp') return;
    const hs = disk.hardState;
    if (msg.term > hs.term) violation('persist-before-send', `${id} sent ${msg.type} in term ${msg.term} with term ${hs.term} on disk`);
    if (msg.term !== hs.term) return;
    if (msg.type === 'vote' && hs.vote !== id) {
      violation('persist-before-send', `${id} campaigns in term ${msg.term} but its disk vote is ${String(hs.vote)}`);
    }
    if (msg.type === 'voteResp' && msg.granted && hs.vote !== msg.to) {
      violation('persist-before-send', `${id} granted ${msg.to} its vote in term ${msg.term} but its disk vote is ${String(hs.vote)}`);
    }
    if (msg.type === 'appendResp' && msg.success && msg.matchIndex > disk.lastIndex) {
      violation('persist-before-send', `${id} acked matchIndex ${msg.matchIndex} with last index ${disk.lastIndex} on disk`);
    }
    if (msg.type === 'snapshotResp' && msg.installed && msg.success && msg.snapshotIndex > disk.snapshotIndex) {
      violation('persist-before-send', `${id} acked snapshot ${msg.snapshotIndex} with snapshot ${disk.snapshotIndex} on disk`);
    }
  }

  // ---- ReadIndex linearizability ---------------------------------------------

  /** `minIndex`: the highest index known committed anywhere when the read was issued. */
  onReadRequested(id: NodeId, requestId: number, minIndex: number): void {
    this.pendingReads.set(`${id}:${requestId}`, minIndex);
  }

  onReadState(id: NodeId, rs: ReadState): void {
    const minIndex = this.pendingReads.get(`${id}:${rs.requestId}`);
    if (minIndex === undefined) violation('read-linearizability', `${id} returned ReadState for unknown request ${rs.requestId}`);
    if (rs.readIndex < minIndex) {
      violation(
        'read-linearizability',
        `${id} read ${rs.requestId} got readIndex ${rs.readIndex}, but ${minIndex} was committed when it was issued`,
      );
    }
    this.readsConfirmed++;
  }

  onReadDropped(id: NodeId, requestId: number): void {
    if (!this.pendingReads.has(`${id}:${requestId}`)) violation('read-linearizability', `${id} dropped unknown read ${requestId}`);
  }
}
