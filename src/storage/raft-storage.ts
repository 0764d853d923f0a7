// Durable storage for one Raft node.
//
// Term, vote and log entries must land in ONE synced batch (persist-before-send),
// so the log store and stable store share a single `save()`; the snapshot store
// is its own method set but writes through the same database so that installing
// a snapshot and truncating the log are atomic too.
import type { Entry, HardState, Snapshot, SnapshotBytes, SnapshotMeta } from '../raft/types.js';

export interface StoredState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  /**
   * The snapshot's bytes as the core should keep them to send to followers: a
   * reader over the stored file, so that snapshot.data can go once the state
   * machine has restored it. Absent: the core keeps snapshot.data.
   */
  readonly sendable?: SnapshotBytes;
  /** Contiguous entries after the snapshot (or from index 1). */
  readonly entries: readonly Entry[];
}

export interface SaveBatch {
  readonly hardState: HardState | null;
  /** If entries[0].index <= stored last index, the stored suffix from there is replaced. */
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader: replaces the log up to and including its index. */
  readonly snapshot: Snapshot | null;
  /**
   * false lets the storage skip the fsync when nothing in the batch needs one
   * (see mustSync in save-plan.ts: only the commit index changed). It is a
   * permission, not an order: entries, a snapshot or a new term or vote are
   * synced regardless. Absent or true: synced, as always.
   */
  readonly sync?: boolean;
}

export interface RaftStorage {
  /** Reads and verifies everything. Throws RatifyError('DATA_CORRUPT') on any failed check. */
  load(): Promise<StoredState>;
  /**
   * One atomic write (group commit: the driver batches many entries into one
   * call), synced unless batch.sync is false and mustSync() says it need not be.
   * Writes become durable in call order: an unsynced write is made durable by
   * the next synced one at the latest, never after it. Resolves with the
   * bytes of batch.snapshot as the core should keep them (see compact), or
   * null when the batch holds no snapshot.
   */
  save(batch: SaveBatch): Promise<SnapshotBytes | null>;
  /**
   * Persist a locally taken snapshot and delete log entries up to its index,
   * atomically. Resolves with the bytes as the core should keep them to send
   * (StoredState.sendable): a reader over the stored copy, or snapshot.data.
   */
  compact(snapshot: Snapshot): Promise<SnapshotBytes>;
  /**
   * compact() with the bytes given piece by piece, as they are encoded, so the
   * whole snapshot is never in memory at once (snapshot-slicer.ts). Nothing is
   * written before the first write(); nothing of it counts before commit().
   */
  snapshotWriter(meta: SnapshotMeta): SnapshotWriter;
  close(): Promise<void>;
}

/** A local snapshot on its way to storage (RaftStorage.snapshotWriter). One user, calls in order. */
export interface SnapshotWriter {
  /** Appends `piece`; the caller may reuse its memory once this resolves. */
  write(piece: Uint8Array): Promise<void>;
  /**
   * Every byte is written: persists the snapshot and deletes the log entries
   * up to its index, atomically, as compact() does, and resolves with what
   * compact() resolves with. After it, neither write() nor commit() may come.
   */
  commit(): Promise<SnapshotBytes>;
  /** Gives up (the encoding failed, the node stops): what was written goes. Idempotent; a no-op after commit(). */
  abort(): Promise<void>;
}
