// Types of the cluster administration API as the client sees them (GET
// /v1/cluster/nodes, the membership calls, GET /v1/cluster/consistency). Like
// client-types.ts they mirror the server's answers without importing server code.
import type { ClusterMember } from './client-types.js';

export type MemberHealth = 'ok' | 'lagging' | 'no-leader' | 'unreachable';

/** What a member says about itself (from its own GET /v1/cluster). */
export interface MemberReport {
  readonly nodeId: string;
  readonly role: 'leader' | 'follower' | 'candidate' | 'learner';
  readonly term: number;
  readonly leaderId: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
}

export interface MemberStatusView {
  readonly id: string;
  readonly url: string;
  readonly voter: boolean;
  readonly health: MemberHealth;
  readonly error: string | null;
  readonly report: MemberReport | null;
  /** The leader's commit index minus this member's applied index; null without a reachable leader. */
  readonly lagEntries: number | null;
}

export interface ClusterNodesView {
  readonly observedBy: string;
  readonly leaderId: string | null;
  readonly term: number | null;
  readonly lagEntriesMax: number;
  readonly members: readonly MemberStatusView[];
}

export interface MembersView {
  readonly members: readonly ClusterMember[];
}

/**
 * One member's digest compared with the reference (the leader's): `match`,
 * `mismatch`, or `unchecked` (unreachable, or no digest at an index the
 * reference also has yet).
 */
export type DigestVerdict = 'match' | 'mismatch' | 'unchecked';

export interface MemberConsistencyView {
  readonly id: string;
  readonly verdict: DigestVerdict;
  /** The applied index both digests are of; null when unchecked. */
  readonly index: number | null;
  readonly digest: string | null;
  readonly referenceDigest: string | null;
  readonly appliedIndex: number | null;
  /** Why unchecked; null otherwise. */
  readonly error: string | null;
}

export interface ConsistencyView {
  readonly observedBy: string;
  /** The member whose digests the others are compared with: the leader, or null when none is reachable. */
  readonly referenceId: string | null;
  /** Applied entries between two digests (every node digests its state at multiples of it). */
  readonly intervalEntries: number;
  readonly members: readonly MemberConsistencyView[];
  /** Ids of the members whose digest differs from the reference's. */
  readonly mismatched: readonly string[];
}
