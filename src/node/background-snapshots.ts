// The life of a locally taken snapshot: captured at a Ready boundary (started()),
// encoded in slices straight into storage off the Raft loop (snapshot-slicer.ts),
// handed to the core between two Readys once it is durable. Pure bookkeeping,
// so the seeded simulation (test/sim/) runs the same rules as the driver
// (node-snapshots.ts), with the write's completion (or a crash before it) at a
// step of its choosing.
//
// WHY in the background: awaited inside the Ready loop, writing a snapshot (a
// file of megabytes, an fsync, a batch deleting the compacted entries) stalled
// every proposal for 25-110 ms every 10,000 entries (1.5 s at full load), which
// was most of the writes benchmark's p99.9. Nothing waits for it: entries stay
// in the log (and in memory) until the core is handed the durable snapshot.
// Only between Readys: compacting the core's log while a Ready's save is in
// flight would change the log under the advance() that follows it.
//
// WHY a phase per node: every node applies the same entries at about the same
// time, so with one threshold all of them serialized their snapshot in the same
// few hundred milliseconds (35-60 ms each for the benchmark's KV state at 50,000
// keys on an idle core, 100-200 ms with three nodes on two busy cores). With
// the leader and both followers stalled at once no quorum could form, and every
// write in flight waited: the writes benchmark's p99.9 at concurrency 64
// (README, Performance). Spread over one threshold by rank, at most one node
// serializes at a time and the other two still make a majority. (Encoded in
// slices now, a snapshot no longer stalls its node; the spread still keeps the
// nodes' encoding work apart.)
import type { SendableSnapshot, SnapshotBytes, SnapshotMeta } from '../raft/types.js';

/**
 * `T` is what the caller tracks of a snapshot in flight: the node its meta (the
 * bytes go to storage as they are encoded), the simulation the whole snapshot.
 */
export class BackgroundSnapshots<T extends { readonly meta: SnapshotMeta } = { readonly meta: SnapshotMeta }> {
  /** Being encoded and written to storage; one at a time. */
  private writing: T | null = null;
  /** Durable in storage, not handed to the core yet: its bytes as the storage gave them back (RaftStorage.compact). */
  private durable: SendableSnapshot | null = null;

  /**
   * @param phaseEntries where in each run of thresholdEntries this node
   *   snapshots (0 <= phase < threshold; see snapshotPhaseEntries).
   */
  constructor(
    private readonly thresholdEntries: number,
    private readonly phaseEntries = 0,
  ) {
    if (!Number.isInteger(phaseEntries) || phaseEntries < 0 || phaseEntries >= Math.max(1, thresholdEntries))
      throw new RangeError(`snapshot phase ${phaseEntries} is not in [0, ${thresholdEntries})`);
  }

  /**
   * Whether to serialize a snapshot now, at this Ready boundary: when the
   * applied index (shifted by this node's phase) crossed a multiple of the
   * threshold since the last snapshot, and at least half a threshold of entries
   * came since (so a snapshot installed just before a crossing is not followed
   * by another at once). So one snapshot per threshold entries, at most 1.5
   * thresholds apart, at the same points on every restart.
   */
  due(appliedIndex: number, coreSnapshotIndex: number): boolean {
    if (this.writing !== null || this.durable !== null) return false;
    if (appliedIndex - coreSnapshotIndex < this.thresholdEntries / 2) return false;
    const period = (index: number): number => Math.floor((index + this.phaseEntries) / this.thresholdEntries);
    return period(appliedIndex) > period(coreSnapshotIndex);
  }

  get inFlight(): T | null {
    return this.writing;
  }

  started(s: T): void {
    this.writing = s;
  }

  /**
   * The write of the snapshot in flight completed; `stored` is what the storage
   * gave back for the core to keep (a reader over its file, or the bytes).
   */
  written(stored: SnapshotBytes): void {
    this.durable = this.writing === null ? null : { meta: this.writing.meta, data: stored };
    this.writing = null;
  }

  /** The write failed, or the node stopped or crashed before it completed. */
  abandoned(): void {
    this.writing = null;
    this.durable = null;
  }

  /**
   * Between Readys: the durable snapshot for core.compact(), or null. A leader's
   * snapshot installed meanwhile is at least as new: ours then has nothing to add.
   */
  takeDurable(coreSnapshotIndex: number): SendableSnapshot | null {
    const s = this.durable;
    this.durable = null;
    return s !== null && s.meta.index > coreSnapshotIndex ? s : null;
  }
}

/**
 * This node's snapshot phase: its rank among the voters it was configured
 * with, spread evenly over one threshold (0 for the first, a third of it for
 * the second of three...). A node absent from the list (added later) takes 0:
 * only the spread suffers, never correctness (when a node snapshots is its own
 * business).
 */
export function snapshotPhaseEntries(thresholdEntries: number, selfId: string, memberIds: readonly string[]): number {
  const ids = [...new Set(memberIds)].sort();
  const rank = ids.indexOf(selfId);
  if (rank <= 0) return 0;
  return Math.floor((rank * thresholdEntries) / ids.length);
}
