// The narrow face of a Raft node that the transaction layer sees. The real
// implementation is RaftNode (./raft-node.ts); tx tests use an in-memory fake.
import type { Member, NodeId, Role } from '../raft/types.js';

export interface NodeStatus {
  readonly nodeId: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly leaderId: NodeId | null;
  readonly leaderUrl: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly members: readonly Member[];
  /** This node knows it was removed from the cluster (see src/node/self-removal.ts). */
  readonly removed: boolean;
}

export interface LeadershipEvent {
  readonly isLeader: boolean;
  readonly term: number;
}

export interface ReplicatedLog {
  readonly nodeId: NodeId;
  status(): NodeStatus;
  /**
   * Replicate `data`; resolves with the state machine's apply() result once the
   * entry is committed AND applied locally. Rejects with RatifyError:
   * NOT_LEADER / TOO_MANY_PENDING / TRANSFER_IN_PROGRESS at once, or
   * LEADERSHIP_LOST if another entry took its place, or TIMEOUT.
   */
  propose(data: Uint8Array, opts?: { timeoutMs?: number }): Promise<unknown>;
  /**
   * Linearizable read barrier (ReadIndex). Resolves once the local state machine
   * reflects every entry committed before the call. Works on followers too
   * (they ask the leader for the read index).
   */
  readBarrier(opts?: { timeoutMs?: number }): Promise<void>;
  /** Called after the role/term changes; on becoming leader, after the term's no-op is applied. */
  onLeadership(listener: (event: LeadershipEvent) => void): () => void;
}
