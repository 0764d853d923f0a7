// Digests of the applied state, for the consistency check across replicas (like
// etcd's corruption check): at every applied index that is a multiple of
// intervalEntries, the sha256 of the state machine's snapshot bytes.
//
// WHY whole-state digests at fixed indexes rather than a running hash of applied
// entries: a running hash over the entries proves that the replicas applied the
// same log, not that they hold the same state; a replica whose memory or disk lost
// or flipped a record would still agree. The snapshot bytes are the state itself,
// and a deterministic function of the applied log (apply() is deterministic and
// the snapshot encoding canonical), so equal states digest equal at equal indexes.
// Nothing needs checkpointing either: a node restored from a snapshot, a backup
// or a leader's InstallSnapshot digests its own state at the next multiple.
// The cost is one serialization per interval, as for a local snapshot (the
// default interval is five snapshot thresholds; config/fields.ts says why). The
// node captures the state at the index and encodes it in slices off the Raft
// loop (snapshot-slicer.ts), recording the digest when done: a digest appears a
// little after its index was applied, and is still the digest of the state at
// that index.
import { createHash } from 'node:crypto';

export interface StateDigest {
  readonly index: number;
  /** Hex sha256 of the state machine's snapshot at `index`. */
  readonly sha256: string;
}

/** Digests kept, newest last: enough that a lagging follower still shares one with the leader. */
const KEPT_MAX = 16;

export class StateDigests {
  private readonly kept: StateDigest[] = [];
  /** The newest index due() said yes to: each index is digested once. */
  private lastDue = 0;

  constructor(readonly intervalEntries: number) {
    if (!Number.isSafeInteger(intervalEntries) || intervalEntries < 1)
      throw new RangeError(`intervalEntries (${intervalEntries}) must be a positive integer`);
  }

  /** After the state reached `appliedIndex` (by an entry or a snapshot): digest it now if the index is due. */
  applied(appliedIndex: number, snapshot: () => Uint8Array): void {
    if (this.due(appliedIndex)) this.record({ index: appliedIndex, sha256: createHash('sha256').update(snapshot()).digest('hex') });
  }

  /** Whether the state at `appliedIndex` (just reached) is to be digested: a multiple of the interval not asked before. */
  due(appliedIndex: number): boolean {
    if (appliedIndex % this.intervalEntries !== 0 || appliedIndex === this.lastDue) return false;
    this.lastDue = appliedIndex;
    return true;
  }

  /** A digest of the state at an index due() said yes to, computed since (in index order, or not at all). */
  record(d: StateDigest): void {
    let at = this.kept.length;
    while (at > 0 && this.kept[at - 1]!.index > d.index) at--;
    if (this.kept[at - 1]?.index === d.index) return;
    this.kept.splice(at, 0, d);
    if (this.kept.length > KEPT_MAX) this.kept.shift();
  }

  list(): readonly StateDigest[] {
    return [...this.kept];
  }
}
