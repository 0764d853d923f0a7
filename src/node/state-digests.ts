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
// The cost is one serialization per interval, as for a local snapshot
// (snapshotThresholdEntries has the same default).
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

  constructor(readonly intervalEntries: number) {
    if (!Number.isSafeInteger(intervalEntries) || intervalEntries < 1)
      throw new RangeError(`intervalEntries (${intervalEntries}) must be a positive integer`);
  }

  /** After the state reached `appliedIndex` (by an entry or a snapshot): digest it if the index is due. */
  applied(appliedIndex: number, snapshot: () => Uint8Array): void {
    if (appliedIndex % this.intervalEntries !== 0) return;
    if (this.kept.at(-1)?.index === appliedIndex) return;
    this.kept.push({ index: appliedIndex, sha256: createHash('sha256').update(snapshot()).digest('hex') });
    if (this.kept.length > KEPT_MAX) this.kept.shift();
  }

  list(): readonly StateDigest[] {
    return [...this.kept];
  }
}
