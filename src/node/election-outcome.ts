// Whether a change of soft state ends one of this node's campaigns, and how.
//
// A campaign is a real candidacy (role `candidate`, which bumped the term); a
// pre-vote round (`precandidate`) bumps nothing and is not counted. It is won
// when the node becomes leader; it is lost when the node leaves candidacy any
// other way: it hears of a leader or a higher term (follower), or its election
// timer fires again and it campaigns anew in a higher term (that new campaign
// is counted on its own when it ends).
import type { SoftState } from '../raft/types.js';

export type ElectionOutcome = 'won' | 'lost';

export function electionOutcome(prev: SoftState, next: SoftState): ElectionOutcome | null {
  // A node becomes leader only by winning a vote. The candidate state may not show in
  // a soft state of its own: a one-node cluster wins in the step that starts the campaign.
  if (next.role === 'leader') return prev.role === 'leader' && prev.term === next.term ? null : 'won';
  if (prev.role !== 'candidate') return null;
  if (next.role === 'candidate' && next.term === prev.term) return null;
  return 'lost';
}
