// The configurations the model checker explores, and why their bounds suffice.
//
// Every configuration explores one transaction with every interleaving of: its
// calls delivered in any order (or held back), the leader proposing from its
// own applied view, entries committing whenever Raft may commit them, each
// participant's resolver at any moment, the deadline at any moment, and votes
// of abort where `abortVoters` allows; plus the faults its bounds allow. Each
// bound counts injections over the whole run, so 1 means "at any single point
// of the protocol", which is what the protocol's arguments rest on: every
// decision rule reads the replicated state, so a second fault of a kind lands
// on a state the first one could already reach (a second leader crash starts a
// third term from the same log a second one re-drove from). The deep
// configurations (MODEL_DEEP=1) raise the bounds to 2 to check that claim on
// the cases where it is cheapest to get wrong: leader changes, and the
// network.
//
// The fault kinds are grouped, rather than all allowed at once, to keep CI
// near a minute on a 2-core machine: network faults; leader changes; the
// participants' faults and time (crashes, being cut off, the whole cluster
// frozen, the client). The 3-participant configurations repeat the groups with
// the smallest bounds: what a third participant adds is another mix of states
// at the moment of a fault (one precommitted, one prepared, one not yet asked).
import type { Bounds, ModelConfig } from './model.js';

const NONE: Bounds = { losses: 0, leaderFaults: 0, elections: 0, participantCrashes: 0, duplicates: 0, clientAborts: 0, cuts: 0, freezes: 0 };

function config(name: string, o: Partial<Omit<ModelConfig, 'bounds' | 'name'>> & { bounds: Partial<Bounds> }): ModelConfig {
  return { name, protocol: '3pc', participants: 2, abortVoters: 1, oneShot: true, deadline: true, termination: true, ...o, bounds: { ...NONE, ...o.bounds } };
}

const NETWORK: Partial<Bounds> = { losses: 2, duplicates: 1 };
const LEADERS: Partial<Bounds> = { leaderFaults: 1, elections: 1, losses: 1 };
const PARTICIPANTS: Partial<Bounds> = { participantCrashes: 1, cuts: 1, freezes: 1, losses: 1 };

export const CI_CONFIGS: readonly ModelConfig[] = (['2pc', '3pc'] as const).flatMap((protocol) => [
  config(`${protocol}, 2 participants, network (2 losses, 1 duplicate)`, { protocol, bounds: NETWORK }),
  config(`${protocol}, 2 participants, leader crash or pause and a new leader, 1 loss`, { protocol, bounds: LEADERS }),
  config(`${protocol}, 2 participants, participant crash, cut-off, whole-cluster freeze, 1 loss`, { protocol, bounds: PARTICIPANTS }),
  config(`${protocol}, 2 participants, interactive: client commit or abort, expiry, 1 loss`, { protocol, oneShot: false, bounds: { clientAborts: 1, losses: 1 } }),
  config(`${protocol}, 3 participants, network (1 loss, 1 duplicate)`, { protocol, participants: 3, bounds: { losses: 1, duplicates: 1 } }),
  config(`${protocol}, 3 participants, leader crash or pause and a new leader`, { protocol, participants: 3, bounds: { leaderFaults: 1, elections: 1 } }),
  config(`${protocol}, 3 participants, participant crash, cut-off, whole-cluster freeze`, { protocol, participants: 3, bounds: { participantCrashes: 1, cuts: 1, freezes: 1 } }),
]);

export const DEEP_CONFIGS: readonly ModelConfig[] = (['2pc', '3pc'] as const).flatMap((protocol) => [
  config(`${protocol}, 2 participants, two leader changes`, { protocol, bounds: { leaderFaults: 2, elections: 2 } }),
  config(`${protocol}, 2 participants, leader change and participant faults`, { protocol, bounds: { leaderFaults: 1, elections: 1, participantCrashes: 1, cuts: 1, freezes: 1 } }),
  config(`${protocol}, 2 participants, network (3 losses, 2 duplicates)`, { protocol, bounds: { losses: 3, duplicates: 2 } }),
]);

/** Small configurations aimed at one behaviour each, for the faulty variants (and the real rules on the same ground). */
export const SCENARIOS = {
  /** Issue 11, 1: every node paused mid-precommit; b's precommit fails (or is still on its way). */
  freeze: config('issue 11 scenario 1: whole-cluster freeze mid-precommit', { abortVoters: 0, deadline: false, bounds: { losses: 1, freezes: 1 } }),
  /** Issue 11, 2: a cut off after precommit; b's precommit failing past the deadline. */
  cutOff: config('issue 11 scenario 2: a participant cut off after precommit, the deadline passes', { abortVoters: 0, bounds: { losses: 1, cuts: 1 } }),
  /** A client abort racing precommitted, with a participant cut off (so it commits on its own). */
  clientAbort: config('client abort racing precommit, a participant cut off', { abortVoters: 0, deadline: false, bounds: { clientAborts: 1, cuts: 1 } }),
  /** A deposed leader's calls arriving after a newer term's. */
  fencing: config('leader change: a deposed leader\'s calls arrive late', { bounds: { leaderFaults: 1, elections: 1 } }),
  /** No faults at all: every run must finish. */
  stubborn: config('2pc, an abort vote, no faults', { protocol: '2pc', deadline: false, bounds: {} }),
} as const satisfies Record<string, ModelConfig>;
