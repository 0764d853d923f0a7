// What the HTTP layer needs from a Raft node: the tx-facing ReplicatedLog plus
// readiness and membership administration. RaftNode implements it.
import type { Member, NodeId } from '../raft/types.js';
import type { PeerAdmission, RemovalNotice } from '../transport/peer-admission.js';
import type { ReplicatedLog } from '../node/replicated-log.js';

/** What /readyz needs beyond NodeStatus. */
export interface Readiness {
  readonly leaderKnown: boolean;
  /** This node was removed from the cluster: never ready. */
  readonly removed: boolean;
  readonly appliedIndex: number;
  /** The highest commit index this node has heard of from a leader (its own, when leader). */
  readonly leaderCommitIndex: number;
}

export interface ClusterNode extends ReplicatedLog {
  readiness(): Readiness;
  /** Index of the latest snapshot (local or installed). */
  snapshotIndex(): number;
  addLearner(id: NodeId, url: string, opts?: { timeoutMs?: number }): Promise<readonly Member[]>;
  /** On the leader, refused with LEARNER_NOT_CAUGHT_UP until the learner's log is within promoteLagEntriesMax of the leader's. */
  promote(id: NodeId, opts?: { timeoutMs?: number }): Promise<readonly Member[]>;
  remove(id: NodeId, opts?: { timeoutMs?: number }): Promise<readonly Member[]>;
  transferLeadership(to: NodeId, opts?: { timeoutMs?: number }): Promise<void>;
  /** Whether Raft messages from `from` are taken (src/transport/peer-admission.ts). */
  admitPeer(from: NodeId): PeerAdmission;
  /** An admitted sender said where it listens (src/transport/learned-addresses.ts). */
  noteSenderUrl(from: NodeId, url: string): void;
  /** A peer refused this node as removed (HTTP 410 MEMBER_REMOVED). */
  onRemovedByPeer(notice: RemovalNotice): void;
}
