// The public surface of the pure Raft core (implemented in ./raft.ts).
// The driver (src/node/) and the simulation harness (test/sim/) use only this.
import type { LocalState } from './plausibility.js';
import type { ConfChange, HardState, Member, Message, NodeId, ProposeResult, Ready, Role, SnapshotBytes, SnapshotMeta } from './types.js';

export interface CoreStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly leaderId: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  /** The first entry the log holds: snapshotIndex + 1, or lower by the trail kept behind it (snapshotCatchUpEntries). */
  readonly firstIndex: number;
  /** Latest membership in the log (may be uncommitted). */
  readonly members: readonly Member[];
  /** Index of the entry (or snapshot) that set `members`; 0 for the bootstrap membership. */
  readonly configIndex: number;
  readonly hardState: HardState;
}

export interface RaftCoreApi {
  /** Advance logical time by one tick. */
  tick(): void;
  /** Feed one received message. Messages from unknown senders or stale terms are handled per the paper. */
  step(msg: Message): void;
  /** Append one client entry (leader only). Several calls before ready() share one Ready (batching). */
  propose(data: Uint8Array): ProposeResult;
  /** Single-server membership change (thesis §4.1); one uncommitted change at a time. */
  proposeConfChange(change: ConfChange): ProposeResult;
  /** Start a ReadIndex round (thesis §6.4). The answer comes out as a ReadState or a droppedReads id. */
  readIndex(requestId: number): void;
  /** Leadership transfer (thesis §3.10): catch `to` up, then send TimeoutNow. */
  transferLeadership(to: NodeId): ProposeResult;
  hasReady(): boolean;
  ready(): Ready;
  /**
   * Heartbeats and their answers of the durable term queued since the last
   * ready(), taken out of the next Ready: safe to send while a Ready's save is in
   * flight (raft.ts says why).
   */
  takeHeartbeats(): Message[];
  /** The driver finished everything in `ready`. */
  advance(ready: Ready): void;
  /**
   * The driver took a state-machine snapshot at meta.index (<= applied index) and
   * persisted it; the core drops log entries up to meta.index and keeps `data`
   * (the bytes, or a reader over where they were stored) to send to followers
   * that fell behind the log.
   */
  compact(meta: SnapshotMeta, data: SnapshotBytes): void;
  /**
   * A snapshot received from the leader was persisted (its Ready advanced), and
   * the storage gave back its bytes as stored: the core sends from those
   * instead of the received array, if that snapshot is still its latest.
   */
  snapshotStored(meta: SnapshotMeta, data: SnapshotBytes): void;
  status(): CoreStatus;
  /** status().snapshotIndex, without building a status (the driver asks on every Ready). */
  snapshotIndex(): number;
  /** status().members, without building a status (the driver asks on every Ready). */
  members(): readonly Member[];
  /** What the inbound plausibility check reads (plausibility.ts), taken before each message is stepped. */
  localState(): LocalState;
}
