// Wire- and storage-level types of the pure Raft core.
//
// Nothing here touches I/O. The driver (src/node/) persists what the core hands
// out in a Ready, sends the messages only after that write is durable, applies
// committed entries to the state machine, and then calls advance().
//
// Naming rule for the whole project: "commit index" is Raft's notion (an entry
// is replicated on a quorum). A transaction's "decision" and "outcome" live in
// src/tx/ and never share a name with it.

export type NodeId = string;

/** A member of the cluster configuration. Learners receive the log but never vote. */
export interface Member {
  readonly id: NodeId;
  readonly url: string;
  readonly voter: boolean;
}

/**
 * Log entries. A `config` entry carries the complete new membership (hashicorp
 * style, not a delta), and takes effect as soon as it is appended to a log
 * (thesis §4.1), whether or not it is committed yet.
 */
export type Entry =
  | { readonly kind: 'normal'; readonly index: number; readonly term: number; readonly data: Uint8Array }
  | { readonly kind: 'noop'; readonly index: number; readonly term: number }
  | { readonly kind: 'config'; readonly index: number; readonly term: number; readonly members: readonly Member[] };

/** Must reach stable storage before any message that depends on it leaves. */
export interface HardState {
  readonly term: number;
  /** Invariant: never forgotten within `term`, across step-down and restart. */
  readonly vote: NodeId | null;
  /** Raft commit index; persisted only as a hint (it can always be re-learned). */
  readonly commitIndex: number;
}

export interface SnapshotMeta {
  /** Last log index the snapshot covers. */
  readonly index: number;
  /** Term of the entry at `index`. */
  readonly term: number;
  /** Membership as of `index`. */
  readonly members: readonly Member[];
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/**
 * The bytes of a snapshot the core keeps to send to lagging followers: the
 * array itself, or a reader over where the driver stored them (a file), so a
 * node need not hold a copy of its whole state for the rare follower that needs
 * it. The core only measures them and takes one chunk at a time; a reader
 * answers every range of the bytes it was made for, for as long as it is
 * reachable (the driver's reader keeps its file open even once it is replaced).
 */
export interface SnapshotBytes {
  readonly byteLength: number;
  /** A copy or view of bytes [begin, end), 0 <= begin <= end <= byteLength. */
  subarray(begin: number, end: number): Uint8Array;
}

/** A snapshot as the core keeps it to send (see SnapshotBytes). */
export interface SendableSnapshot {
  readonly meta: SnapshotMeta;
  readonly data: SnapshotBytes;
}

export type Role = 'follower' | 'candidate' | 'precandidate' | 'leader' | 'learner';

/**
 * Raft messages. `term` is the sender's current term, except for preVote where
 * it is the term the sender *would* campaign in (thesis §9.6).
 */
export type Message =
  | {
      readonly type: 'preVote';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly term: number;
      readonly lastLogIndex: number;
      readonly lastLogTerm: number;
    }
  | { readonly type: 'preVoteResp'; readonly from: NodeId; readonly to: NodeId; readonly term: number; readonly granted: boolean }
  | {
      readonly type: 'vote';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly term: number;
      readonly lastLogIndex: number;
      readonly lastLogTerm: number;
      /** Set when the campaign follows a TimeoutNow: voters ignore their leader lease (thesis §3.10). */
      readonly transfer: boolean;
    }
  | { readonly type: 'voteResp'; readonly from: NodeId; readonly to: NodeId; readonly term: number; readonly granted: boolean }
  | {
      readonly type: 'append';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly term: number;
      readonly prevLogIndex: number;
      readonly prevLogTerm: number;
      readonly entries: readonly Entry[];
      readonly leaderCommit: number;
    }
  | {
      readonly type: 'appendResp';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly term: number;
      readonly success: boolean;
      /** On success: the last index known to match the leader's log. On rejection: the rejected prevLogIndex (lets the leader spot stale rejections). */
      readonly matchIndex: number;
      /** On rejection: where the leader should probe next (fast backtracking, §5.3). */
      readonly rejectHint: number;
      /** On rejection: term of the follower's entry at rejectHint, or 0. */
      readonly rejectTerm: number;
    }
  | {
      readonly type: 'heartbeat';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly term: number;
      readonly leaderCommit: number;
      /** ReadIndex round (thesis §6.4); echoed back. 0 when no read is pending. */
      readonly readSeq: number;
    }
  | { readonly type: 'heartbeatResp'; readonly from: NodeId; readonly to: NodeId; readonly term: number; readonly readSeq: number }
  | {
      readonly type: 'snapshot';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly term: number;
      readonly meta: SnapshotMeta;
      /** Byte offset of this chunk in the snapshot data. */
      readonly offset: number;
      readonly chunk: Uint8Array;
      readonly done: boolean;
    }
  | {
      readonly type: 'snapshotResp';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly term: number;
      readonly snapshotIndex: number;
      /** Next offset the follower expects; equals data length once installed. */
      readonly nextOffset: number;
      readonly installed: boolean;
      readonly success: boolean;
    }
  | { readonly type: 'timeoutNow'; readonly from: NodeId; readonly to: NodeId; readonly term: number }
  /** A follower or learner asks the leader for a read index on behalf of a local read (thesis §6.4). */
  | { readonly type: 'readIndex'; readonly from: NodeId; readonly to: NodeId; readonly term: number; readonly requestId: number }
  /** index = 0 with ok = false when the leader could not confirm leadership. */
  | {
      readonly type: 'readIndexResp';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly term: number;
      readonly requestId: number;
      readonly readIndex: number;
      readonly ok: boolean;
    };

export type MessageType = Message['type'];

/** Outcome of a ReadIndex request, delivered in a Ready once leadership is confirmed. */
export interface ReadState {
  readonly requestId: number;
  /** Serve the read once the local applied index reaches this. */
  readonly readIndex: number;
}

export interface SoftState {
  readonly role: Role;
  readonly leaderId: NodeId | null;
  readonly term: number;
}

/**
 * Everything the core wants done. The driver must, in this order:
 *   1. persist `snapshot` (if any), `entries` and `hardState` in one synced batch;
 *   2. send `messages` (one exception, argued in src/node/raft-node.ts: a leader may send
 *      its appends while its own write runs, thesis §10.2.1, because the core counts the
 *      leader's own entries toward the commit index only once advance() reports them durable);
 *   3. restore `snapshot` into the state machine, then apply `committedEntries`;
 *   4. call advance(ready).
 */
export interface Ready {
  readonly softState: SoftState | null;
  readonly hardState: HardState | null;
  /** Entries to append. entries[0].index may be <= the stored last index: truncate from there first. */
  readonly entries: readonly Entry[];
  /**
   * A snapshot received from the leader, to persist and restore. The core only
   * installs one when its log lacks the snapshot's last entry, so storage keeps
   * no entry after it unless the stored entry at meta.index has meta.term.
   */
  readonly snapshot: Snapshot | null;
  readonly messages: readonly Message[];
  /** Committed (by Raft commit index), not yet applied. */
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
  /** ReadIndex requests the core refused (not leader, or leadership lost before confirmation). */
  readonly droppedReads: readonly number[];
}

/** What a restarting node hands the core: exactly what was synced to disk. */
export interface InitialState {
  readonly hardState: HardState;
  /** The stored snapshot (the state machine restored it already): only its meta and, to send, its bytes. */
  readonly snapshot: SendableSnapshot | null;
  /** Entries after the snapshot, contiguous. */
  readonly entries: readonly Entry[];
  /** Membership used when there is neither a snapshot nor a config entry (bootstrap). */
  readonly bootstrapMembers: readonly Member[];
  /** Highest index already applied to the state machine (snapshot index at restart). */
  readonly appliedIndex: number;
}

export interface RaftConfig {
  readonly id: NodeId;
  /** Randomized in [electionTicks, 2*electionTicks). */
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  /** Pipelined appends in flight per follower. */
  readonly maxInflightAppends: number;
  /** Byte budget of entries in one append message (at least one entry always goes). */
  readonly maxAppendBytes: number;
  /** Bytes of snapshot data per InstallSnapshot chunk. */
  readonly snapshotChunkBytes: number;
  /** Proposals refused with TOO_MANY_PENDING when this many entries are uncommitted. */
  readonly maxUncommittedEntries: number;
  /**
   * At most this many entries compact() keeps behind each snapshot (RaftLog's trail)
   * on a leader, for the peer furthest behind, so that it catches up from the log
   * rather than by the whole snapshot. 0 keeps none.
   */
  readonly snapshotCatchUpEntries: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Seeded random source in [0, 1). Only the driver may pass Math.random. */
  readonly random: () => number;
  /**
   * Whether a snapshot received from a leader can be restored: its data belongs to
   * the state machine, so only the driver can tell. Asked once every chunk has
   * arrived, before the snapshot replaces the log; a refused one is answered as a
   * failed transfer and changes nothing. It must not change what it reads. Default: accept.
   */
  readonly acceptSnapshot?: (data: Uint8Array) => boolean;
}

/** Reasons the core refuses a request synchronously. */
export type ProposeRefusal =
  | 'NOT_LEADER'
  | 'TRANSFER_IN_PROGRESS'
  | 'TOO_MANY_PENDING'
  | 'CONFIG_CHANGE_IN_PROGRESS'
  | 'INVALID_CONFIG_CHANGE';

export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | { readonly ok: false; readonly reason: ProposeRefusal; readonly leaderId: NodeId | null };

export type ConfChange =
  | { readonly type: 'addLearner'; readonly id: NodeId; readonly url: string }
  | { readonly type: 'promote'; readonly id: NodeId }
  | { readonly type: 'remove'; readonly id: NodeId };

// The Raft core's exhaustive switches use it too; it lives in src/util.
export { assertNever } from '../util/assert-never.js';
