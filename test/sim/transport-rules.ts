// Which messages the transport lets through, as the simulation applies them: the
// rules production runs (src/transport/peer-admission.ts), or a faulty variant
// the checkers must catch.
import type { Member, NodeId } from '../../src/raft/types.js';
import { admitPeer, reachablePeers, type PeerAdmission, type PeerMembership } from '../../src/transport/peer-admission.js';

/** A refusal the sender cannot act on (403 FORBIDDEN): it just loses the messages. */
export type SimAdmission = PeerAdmission | { readonly kind: 'forbidden' };

export interface TransportRules {
  readonly name: string;
  /** The receiver's decision on a sender (HTTP routes and stream headers). */
  admit(view: PeerMembership, from: NodeId): SimAdmission;
  /** The peers the sender's transport has addresses for (HttpTransport.setMembers). */
  reachable(view: Pick<PeerMembership, 'latest' | 'applied'>, self: NodeId): readonly Member[];
}

export const PRODUCTION_RULES: TransportRules = {
  name: 'production',
  admit: admitPeer,
  reachable: reachablePeers,
};

/**
 * The filter before issue 12: both directions follow the latest configuration in
 * the log, committed or not, and a refused sender gets a plain 403. A leader then
 * cannot commit its own removal, a removed node never learns it is out, and a
 * follower holding an uncommitted removal of X refuses X after X is elected.
 */
export const LATEST_CONFIG_FILTER: TransportRules = {
  name: 'latest-config filter',
  admit: (view, from) => (view.latest.some((m) => m.id === from) ? { kind: 'admit' } : { kind: 'forbidden' }),
  reachable: (view, self) => view.latest.filter((m) => m.id !== self),
};
