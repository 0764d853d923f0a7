// The configurations the model checker explores, and why their bounds suffice.
//
// Every configuration explores one transaction with every interleaving of: its
// calls delivered in any order (or held back), the leader proposing from its
// own applied view, entries committing whenever Raft may commit them, each
// participant's resolver at any moment, the deadline at any moment (unless
// `deadline` is off), and votes of abort where `abortVoters` allows; plus the
// faults its bounds allow. A bound counts injections over the whole run, so 1
// means "one such fault, at any point of the protocol".
//
// Why small bounds suffice: every decision (the state machine's apply, the
// run's rules, the SDK's plan and termination rule) reads only durable state:
// the replicated record, the participant's record and the answers of the
// current phase. A second fault of a kind meets states of the shapes a first
// one already produced: a second leader change re-drives from a log a first
// one could leave, a second loss is one more retry. The deep configurations
// (MODEL_DEEP=1, minutes) check that claim with bounds of 2 and 3 and with the
// groups combined.
//
// The fault kinds are grouped, rather than all allowed at once, to keep CI
// near a minute on a shared 2-core machine (the product of the groups is what
// grows fast): network faults; leader changes; the participants' faults and
// time (a crash, being cut off, the whole cluster frozen); the client. The
// 3-participant configurations repeat the groups with the smallest bounds (and
// the leader change without the deadline): what a third participant adds is
// another mix of states at the moment of a fault, one precommitted, one
// prepared, one not yet asked.
import { type Bounds, NO_FAULTS, type ModelConfig } from './model.js';

function config(name: string, o: Partial<Omit<ModelConfig, 'bounds' | 'name'>> & { bounds: Partial<Bounds> }): ModelConfig {
  return {
    name,
    protocol: '3pc',
    participants: 2,
    abortVoters: 1,
    oneShot: true,
    deadline: true,
    termination: true,
    ...o,
    bounds: { ...NO_FAULTS, ...o.bounds },
  };
}

export const CI_CONFIGS: readonly ModelConfig[] = (['2pc', '3pc'] as const).flatMap((protocol) => [
  config(`${protocol}, 2 participants: 2 losses, 1 duplicate`, { protocol, bounds: { losses: 2, duplicates: 1 } }),
  config(`${protocol}, 2 participants: a leader crash and a pause, a new leader`, {
    protocol,
    bounds: { leaderCrashes: 1, leaderPauses: 1, elections: 1 },
  }),
  config(`${protocol}, 2 participants: a participant crash, a cut-off, a whole-cluster freeze, 1 loss`, {
    protocol,
    bounds: { participantCrashes: 1, cuts: 1, freezes: 1, losses: 1 },
  }),
  config(`${protocol}, 2 participants, interactive: client commit or abort, expiry, 1 loss`, {
    protocol,
    oneShot: false,
    bounds: { clientAborts: 1, losses: 1 },
  }),
  config(`${protocol}, 3 participants: 1 loss`, { protocol, participants: 3, bounds: { losses: 1 } }),
  config(`${protocol}, 3 participants: a leader crash, a new leader (no deadline)`, {
    protocol,
    participants: 3,
    abortVoters: 0,
    deadline: false,
    bounds: { leaderCrashes: 1, elections: 1 },
  }),
  protocol === '3pc'
    ? config('3pc, 3 participants: a cut-off, a whole-cluster freeze', {
        protocol,
        participants: 3,
        abortVoters: 0,
        bounds: { cuts: 1, freezes: 1 },
      })
    : config('2pc, 3 participants: a participant crash', { protocol, participants: 3, bounds: { participantCrashes: 1 } }),
]);

/**
 * The 2PC one-shot path without a created entry (src/tx/one-shot.ts): the first
 * leader prepares from memory, and the decided entry is the transaction's first.
 * Leader crashes and pauses fall before the decided entry is proposed, after it
 * is proposed and before it commits, and after it commits; a new leader answers
 * the participants' inquiries (in memory, 404 behind its read barrier, or the
 * record). Losses and participant faults meet the same path.
 */
export const ONE_SHOT_CONFIGS: readonly ModelConfig[] = [
  config('2pc one-shot without a created entry, 2 participants: a leader crash and a pause, a new leader', {
    protocol: '2pc',
    noCreatedEntry: true,
    bounds: { leaderCrashes: 1, leaderPauses: 1, elections: 1 },
  }),
  config('2pc one-shot without a created entry, 2 participants: 2 losses, 1 duplicate', {
    protocol: '2pc',
    noCreatedEntry: true,
    bounds: { losses: 2, duplicates: 1 },
  }),
  config('2pc one-shot without a created entry, 2 participants: a leader crash, a new leader, a participant crash', {
    protocol: '2pc',
    noCreatedEntry: true,
    bounds: { leaderCrashes: 1, elections: 1, participantCrashes: 1 },
  }),
  config('2pc one-shot without a created entry, 3 participants: a leader crash, a new leader (no deadline)', {
    protocol: '2pc',
    noCreatedEntry: true,
    participants: 3,
    abortVoters: 0,
    deadline: false,
    bounds: { leaderCrashes: 1, elections: 1 },
  }),
];

export const DEEP_CONFIGS: readonly ModelConfig[] = (['2pc', '3pc'] as const).flatMap((protocol) => [
  config(`${protocol}, 2 participants: two leader crashes and pauses, two new leaders`, {
    protocol,
    bounds: { leaderCrashes: 2, leaderPauses: 2, elections: 2 },
  }),
  config(`${protocol}, 2 participants: a leader crash or pause, a new leader, 1 loss`, {
    protocol,
    bounds: { leaderCrashes: 1, leaderPauses: 1, elections: 1, losses: 1 },
  }),
  config(`${protocol}, 2 participants: a leader change and participant faults`, {
    protocol,
    bounds: { leaderCrashes: 1, leaderPauses: 1, elections: 1, participantCrashes: 1, cuts: 1, freezes: 1 },
  }),
  config(`${protocol}, 2 participants: 3 losses, 2 duplicates`, { protocol, bounds: { losses: 3, duplicates: 2 } }),
  config(`${protocol}, 3 participants: a leader crash and a pause, a new leader`, {
    protocol,
    participants: 3,
    abortVoters: 0,
    bounds: { leaderCrashes: 1, leaderPauses: 1, elections: 1 },
  }),
  config(`${protocol}, 3 participants: a participant crash, a cut-off, a whole-cluster freeze`, {
    protocol,
    participants: 3,
    abortVoters: 0,
    bounds: { participantCrashes: 1, cuts: 1, freezes: 1 },
  }),
]);

/** Small configurations aimed at one behaviour each, for the faulty variants (and the real rules on the same ground). */
export const SCENARIOS = {
  /** Issue 11, 1: every node paused mid-precommit; b's precommit fails (or is still on its way). */
  freeze: config('issue 11 scenario 1: whole-cluster freeze mid-precommit', {
    abortVoters: 0,
    deadline: false,
    bounds: { losses: 1, freezes: 1 },
  }),
  /** Issue 11, 2: a cut off after precommit; b's precommit failing past the deadline. */
  cutOff: config('issue 11 scenario 2: a participant cut off after precommit, the deadline passes', {
    abortVoters: 0,
    bounds: { losses: 1, cuts: 1 },
  }),
  /** A client abort racing precommitted, with a participant cut off (so it commits on its own). */
  clientAbort: config('client abort racing precommit, a participant cut off', {
    abortVoters: 0,
    deadline: false,
    bounds: { clientAborts: 1, cuts: 1 },
  }),
  /** A deposed leader's calls arriving after a newer term's. */
  fencing: config("leader change: a deposed leader's calls arrive late", { bounds: { leaderPauses: 1, elections: 1 } }),
  /** One-shot without a created entry: the leader dies with its decided entry on its way, a new one is elected. */
  oneShotCrash: config('2pc one-shot without a created entry: a leader crash, a new leader', {
    protocol: '2pc',
    noCreatedEntry: true,
    abortVoters: 0,
    deadline: false,
    bounds: { leaderCrashes: 1, elections: 1 },
  }),
  /** One-shot without a created entry: the leader pauses mid-prepare, another leads, then the first is elected again. */
  oneShotPause: config('2pc one-shot without a created entry: a leader pause, two new terms', {
    protocol: '2pc',
    noCreatedEntry: true,
    abortVoters: 0,
    deadline: false,
    bounds: { leaderPauses: 1, leaderCrashes: 1, elections: 2 },
  }),
  /** No faults at all: every run must finish. */
  stubborn: config('2pc, an abort vote, no faults', { protocol: '2pc', deadline: false, bounds: {} }),
} as const satisfies Record<string, ModelConfig>;
