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
 * The filter before the rules of src/transport/peer-admission.ts: both directions
 * follow the latest configuration in the log, committed or not, and a refused
 * sender gets a plain 403. A leader then
 * cannot commit its own removal, a removed node never learns it is out, and a
 * follower holding an uncommitted removal of X refuses X after X is elected.
 */
export const LATEST_CONFIG_FILTER: TransportRules = {
  name: 'latest-config filter',
  admit: (view, from) => (view.latest.some((m) => m.id === from) ? { kind: 'admit' } : { kind: 'forbidden' }),
  reachable: (view, self) => view.latest.filter((m) => m.id !== self),
};

/**
 * A receiver that refuses every sender, as a node with the wrong cluster secret would.
 * Nothing unsafe ever happens (no votes, no appends), so only the liveness check can
 * tell: with more than one voter no leader is ever elected.
 */
export const REFUSE_EVERY_PEER: TransportRules = {
  name: 'refuse every peer',
  admit: () => ({ kind: 'forbidden' }),
  reachable: reachablePeers,
};

/** Admission code that throws: a bug in the harness's layers, not in the core. */
export const THROWING_ADMISSION: TransportRules = {
  name: 'throwing admission',
  admit: () => {
    throw new Error('injected fault: admission threw');
  },
  reachable: reachablePeers,
};
