// The write rules of RaftStorage, as pure functions over the log's bounds.
//
// Both implementations (LevelDB and memory) compute what to delete and what the
// log looks like afterwards with these functions, so they cannot drift apart;
// they differ only in how they apply the result. A batch that breaks a rule is
// a bug in the caller and throws RatifyError('INTERNAL') before anything is
// written (assert before write, verify again after read in load()).
import { RatifyError } from '../errors.js';
import type { Entry, HardState, SnapshotMeta } from '../raft/types.js';
import type { SaveBatch } from './raft-storage.js';

/**
 * Where the stored log starts and ends.
 * Invariant: entries occupy exactly (snapshotIndex, lastIndex], contiguously;
 * lastIndex >= snapshotIndex, and lastTerm === snapshotTerm when they are equal.
 */
export interface LogBounds {
  readonly snapshotIndex: number;
  readonly snapshotTerm: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
}

export const EMPTY_BOUNDS: LogBounds = { snapshotIndex: 0, snapshotTerm: 0, lastIndex: 0, lastTerm: 0 };

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: null, commitIndex: 0 };

/** Inclusive range of entry indexes to delete. */
export interface IndexRange {
  readonly from: number;
  readonly to: number;
}

export interface WritePlan {
  readonly deletes: readonly IndexRange[];
  readonly bounds: LogBounds;
  readonly hardState: HardState;
}

/**
 * The term of the entry at `index` if the bounds alone know it, null if the log
 * holds no entry there, or 'read' when the caller must look the entry up.
 */
export function termFromBounds(bounds: LogBounds, index: number): number | null | 'read' {
  if (index === bounds.snapshotIndex) return bounds.snapshotTerm;
  if (index === bounds.lastIndex) return bounds.lastTerm;
  if (index > bounds.snapshotIndex && index < bounds.lastIndex) return 'read';
  return null;
}

/**
 * Plans one save. `termAtSnapshotIndex` is the stored term at batch.snapshot's
 * index (null when absent); it decides whether entries after the snapshot stay.
 */
export function planSave(bounds: LogBounds, stored: HardState, batch: SaveBatch, termAtSnapshotIndex: number | null): WritePlan {
  const deletes: IndexRange[] = [];
  let next = bounds;
  if (batch.snapshot !== null) {
    next = installSnapshot(next, batch.snapshot.meta, termAtSnapshotIndex, deletes);
  }
  if (batch.entries.length > 0) {
    next = appendEntries(next, batch.entries, deletes);
  }
  const hardState = batch.hardState ?? stored;
  checkHardState(hardState, next);
  return { deletes, bounds: next, hardState };
}

/** A received snapshot replaces the log up to its index; later entries stay only if the log agrees at that index. */
function installSnapshot(bounds: LogBounds, meta: SnapshotMeta, termAtIndex: number | null, deletes: IndexRange[]): LogBounds {
  if (meta.index < bounds.snapshotIndex) {
    throw internal(`snapshot at index ${meta.index} is older than the stored snapshot at ${bounds.snapshotIndex}`);
  }
  const keepSuffix = termAtIndex === meta.term && meta.index <= bounds.lastIndex;
  const deleteTo = keepSuffix ? meta.index : bounds.lastIndex;
  pushRange(deletes, bounds.snapshotIndex + 1, deleteTo);
  const snapshotPart = { snapshotIndex: meta.index, snapshotTerm: meta.term };
  return keepSuffix
    ? { ...snapshotPart, lastIndex: bounds.lastIndex, lastTerm: bounds.lastTerm }
    : { ...snapshotPart, lastIndex: meta.index, lastTerm: meta.term };
}

function appendEntries(bounds: LogBounds, entries: readonly Entry[], deletes: IndexRange[]): LogBounds {
  checkRun(entries);
  const first = entries[0]!;
  const last = entries[entries.length - 1]!;
  if (first.index <= bounds.snapshotIndex || first.index > bounds.lastIndex + 1) {
    throw internal(
      `entries start at index ${first.index}, outside (${bounds.snapshotIndex}, ${bounds.lastIndex + 1}] ` +
        '(after the snapshot, at most one past the last entry)',
    );
  }
  const prevTerm = first.index - 1 === bounds.snapshotIndex ? bounds.snapshotTerm : null;
  if (prevTerm !== null && first.term < prevTerm) {
    throw internal(`entry ${first.index} has term ${first.term}, below the snapshot term ${prevTerm}`);
  }
  // New entries overwrite [first, last]; only the old suffix beyond them needs deleting.
  pushRange(deletes, last.index + 1, bounds.lastIndex);
  return { ...bounds, lastIndex: last.index, lastTerm: last.term };
}

/**
 * Whether a save must be synced before the caller may act on it (etcd's
 * MustSync): when it appends or replaces entries, installs a snapshot, or
 * changes the term or the vote, since messages and acknowledgements promise
 * exactly those. The commit index alone need not be: Raft treats it as
 * volatile, a restart relearns it from the leader, and an older stored value
 * only means re-applying committed entries on top of the last snapshot,
 * which is deterministic.
 */
export function mustSync(stored: HardState, batch: SaveBatch): boolean {
  if (batch.entries.length > 0 || batch.snapshot !== null) return true;
  const hs = batch.hardState;
  return hs !== null && (hs.term !== stored.term || hs.vote !== stored.vote);
}

/** Plans compaction by a locally taken snapshot, which must agree with the log. */
export function planCompact(bounds: LogBounds, stored: HardState, meta: SnapshotMeta, termAtIndex: number | null): WritePlan {
  if (meta.index < bounds.snapshotIndex || meta.index > bounds.lastIndex) {
    throw internal(`compaction to index ${meta.index} is outside the stored log [${bounds.snapshotIndex}, ${bounds.lastIndex}]`);
  }
  if (termAtIndex !== meta.term) {
    throw internal(`compaction snapshot has term ${meta.term} at index ${meta.index}, but the log has term ${String(termAtIndex)}`);
  }
  const deletes: IndexRange[] = [];
  pushRange(deletes, bounds.snapshotIndex + 1, meta.index);
  const next = { ...bounds, snapshotIndex: meta.index, snapshotTerm: meta.term };
  checkHardState(stored, next);
  return { deletes, bounds: next, hardState: stored };
}

/** Entries within one batch: contiguous, terms non-decreasing. */
function checkRun(entries: readonly Entry[]): void {
  for (let i = 1; i < entries.length; i++) {
    const prev = entries[i - 1]!;
    const cur = entries[i]!;
    if (cur.index !== prev.index + 1) throw internal(`entries are not contiguous: ${prev.index} then ${cur.index}`);
    if (cur.term < prev.term) throw internal(`entry ${cur.index} has term ${cur.term}, below entry ${prev.index}'s term ${prev.term}`);
  }
}

/** Raft invariants between the hard state and the log, checked before every write. */
export function hardStateProblem(hs: HardState, bounds: LogBounds): string | null {
  if (hs.commitIndex > bounds.lastIndex) return `commitIndex ${hs.commitIndex} is beyond the last index ${bounds.lastIndex}`;
  if (hs.term < bounds.lastTerm) return `term ${hs.term} is below the last entry's term ${bounds.lastTerm}`;
  return null;
}

function checkHardState(hs: HardState, bounds: LogBounds): void {
  const problem = hardStateProblem(hs, bounds);
  if (problem !== null) throw internal(`refusing to write: hard state ${problem}`);
}

function pushRange(deletes: IndexRange[], from: number, to: number): void {
  if (from <= to) deletes.push({ from, to });
}

function internal(message: string): RatifyError {
  return new RatifyError('INTERNAL', `storage: ${message}`);
}
