// Where the state machine is: the index and term of the last entry applied to it
// (or of the snapshot it was restored from). The Ready loop (raft-node.ts) moves it
// one entry at a time; an installed snapshot (node-snapshots.ts) makes it jump.
// A position out of order is a bug in the core or the driver: it throws, and the
// node fails (the state machine would otherwise diverge).
import type { SnapshotMeta } from '../raft/types.js';

export class AppliedPosition {
  // Invariant: index only grows, by exactly one per applied entry, or jumps to a snapshot's index.
  private appliedIndex: number;
  private appliedTerm: number;

  constructor(index: number, term: number) {
    this.appliedIndex = index;
    this.appliedTerm = term;
  }

  get index(): number {
    return this.appliedIndex;
  }

  get term(): number {
    return this.appliedTerm;
  }

  /** Before the state machine applies entry `index`: it must be the next one. */
  assertNext(index: number): void {
    if (index !== this.appliedIndex + 1) throw new Error(`applying index ${index} after applied index ${this.appliedIndex}`);
  }

  /** The entry at (index, term) was applied. */
  applied(index: number, term: number): void {
    this.assertNext(index);
    this.appliedIndex = index;
    this.appliedTerm = term;
  }

  /** Before the state machine restores a snapshot: it must be ahead of what was applied. */
  assertAhead(meta: SnapshotMeta): void {
    if (meta.index <= this.appliedIndex) throw new Error(`snapshot at ${meta.index} is not ahead of applied index ${this.appliedIndex}`);
  }

  /** The state machine was restored from the snapshot with `meta`. */
  restored(meta: SnapshotMeta): void {
    this.assertAhead(meta);
    this.appliedIndex = meta.index;
    this.appliedTerm = meta.term;
  }
}
