// Who this node's transport talks to: the peers it sends to, and the senders it
// refuses. Pure functions of what the node knows about membership, shared by the
// HTTP transport and routes (src/transport/, src/http/app.ts), the in-memory
// network of the driver tests and the seeded simulation (test/sim/), so the
// simulation checks the rules production runs.
//
// WHY not the latest configuration alone (thesis §4.1: a config takes effect
// when appended): a node holding an uncommitted configuration must still talk
// to the members it drops. A leader that removes itself needs the followers'
// acknowledgements of its removal to commit it; a follower holding a removal of
// X that never commits must accept X if X is elected under the old
// configuration. So, as etcd does, both directions keep the union of the
// latest and the applied (committed) configuration, and a sender is refused
// only once its removal is committed and applied here. Senders this node has
// never heard of are admitted: a node that lags behind a member's addition
// must still take the appends of that member once it leads.
import type { Member, NodeId } from '../raft/types.js';

/** What a node knows about membership, as far as its transport needs it. */
export interface PeerMembership {
  /** The configuration of the last config entry in the log, committed or not. */
  readonly latest: readonly Member[];
  /** The configuration as of the applied index (committed). */
  readonly applied: readonly Member[];
  /**
   * Ids a configuration applied here dropped and no later applied one added
   * back. Disjoint from `applied`. Lost with a restart, except for the
   * initial voters (see AppliedMembership).
   */
  readonly removed: ReadonlySet<NodeId>;
  /** This node's applied index, sent along with a refusal (see RemovalNotice). */
  readonly appliedIndex: number;
}

export type PeerAdmission =
  | { readonly kind: 'admit' }
  /** The sender's removal is committed and applied here: answer 410 MEMBER_REMOVED. */
  | { readonly kind: 'removed'; readonly appliedIndex: number };

const ADMIT: PeerAdmission = { kind: 'admit' };

/** Whether to take messages (or a stream) from `from`. */
export function admitPeer(m: PeerMembership, from: NodeId): PeerAdmission {
  if (!m.removed.has(from) || isIn(m.latest, from)) return ADMIT;
  return { kind: 'removed', appliedIndex: m.appliedIndex };
}

/**
 * The peers to keep addresses (queues, streams) for: the union of the latest
 * and the applied configuration, without `self`. Where both list an id, the
 * latest configuration's URL wins.
 */
export function reachablePeers(m: Pick<PeerMembership, 'latest' | 'applied'>, self: NodeId): Member[] {
  const out: Member[] = [];
  for (const p of m.latest) if (p.id !== self) out.push(p);
  for (const p of m.applied) if (p.id !== self && !isIn(m.latest, p.id)) out.push(p);
  return out;
}

/**
 * A peer's refusal: it applied a configuration, as of its applied index
 * `appliedIndex`, that does not contain this node.
 */
export interface RemovalNotice {
  readonly by: NodeId;
  readonly appliedIndex: number;
}

/**
 * Whether a RemovalNotice means this node is out of the cluster. It does,
 * unless this node's latest configuration contains it and was set after the
 * refusing peer's applied index: then the peer lags behind this node being
 * added back (an id reused after its removal), and the notice is stale.
 */
export function removalNoticeHolds(
  notice: RemovalNotice,
  self: { readonly id: NodeId; readonly latest: readonly Member[]; readonly latestConfigIndex: number },
): boolean {
  return !(isIn(self.latest, self.id) && self.latestConfigIndex > notice.appliedIndex);
}

function isIn(members: readonly Member[], id: NodeId): boolean {
  for (const m of members) if (m.id === id) return true;
  return false;
}
