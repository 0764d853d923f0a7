// The life of a locally taken snapshot: serialized at a Ready boundary, written
// to storage off the Raft loop, handed to the core between two Readys once it is
// durable. Pure bookkeeping, so the seeded simulation (test/sim/) runs the same
// rules as the driver (node-snapshots.ts), with the write's completion (or a crash
// before it) at a step of its choosing.
//
// WHY in the background: awaited inside the Ready loop, writing a snapshot (a
// file of megabytes, an fsync, a batch deleting the compacted entries) stalled
// every proposal for 25-110 ms every 10,000 entries (1.5 s at full load), which
// was most of the writes benchmark's p99.9. Nothing waits for it: entries stay
// in the log (and in memory) until the core is handed the durable snapshot.
// Only between Readys: compacting the core's log while a Ready's save is in
// flight would change the log under the advance() that follows it.
import type { Snapshot } from '../raft/types.js';

export class BackgroundSnapshots {
  /** Being written to storage; one at a time. */
  private writing: Snapshot | null = null;
  /** Durable in storage, not handed to the core yet. */
  private durable: Snapshot | null = null;

  constructor(private readonly thresholdEntries: number) {}

  /** Whether to serialize a snapshot now, at this Ready boundary. */
  due(appliedIndex: number, coreSnapshotIndex: number): boolean {
    return this.writing === null && this.durable === null && appliedIndex - coreSnapshotIndex >= this.thresholdEntries;
  }

  get inFlight(): Snapshot | null {
    return this.writing;
  }

  started(s: Snapshot): void {
    this.writing = s;
  }

  /** The write of the snapshot in flight completed. */
  written(): void {
    this.durable = this.writing;
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
  takeDurable(coreSnapshotIndex: number): Snapshot | null {
    const s = this.durable;
    this.durable = null;
    return s !== null && s.meta.index > coreSnapshotIndex ? s : null;
  }
}
