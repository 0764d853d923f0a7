// Deliberately broken rules, to prove the model checker can fail (as
// test/sim/faulty-core.ts does for the Raft simulation). Each wraps the real
// rules and changes one thing.
//
// The main ones are the 3PC rules as they were before issue 11, copied here
// from that version of src/tx/protocol-run.ts, src/tx/transitions.ts,
// src/tx/views.ts and src/sdk/participant/termination.ts. Together they split
// an outcome two ways, both reproduced against real processes at the time:
// - the coordinator could still abort a precommitted transaction: at the
//   deadline (precommit retries gave up then), when a participant refused
//   precommit with TX_ALREADY_ABORTED, or on a client's request;
// - a prepared (not precommitted) participant aborted on its own 3PC timeout,
//   although another one may already have been precommitted.
import { decideTermination } from '../../src/sdk/participant/termination.js';
import type { TxCommand, VoteEntry } from '../../src/tx/commands.js';
import { nextStep, type Decide, type PrecommitAnswer } from '../../src/tx/protocol-rules.js';
import { outcomeOf } from '../../src/tx/transitions.js';
import type { TxRecord } from '../../src/tx/types.js';
import { toView } from '../../src/tx/views.js';
import type { SmOracle } from './oracle.js';
import { realRules, type ProtocolRules } from './rules.js';

/** The coordinator before issue 11: precommitted -> aborting was an edge, and three paths took it. */
export const oldCoordinatorRules: ProtocolRules = {
  ...realRules,
  name: 'coordinator before issue 11',
  apply: oldApply,
  // The outcome was null until the decision entry, precommitted included.
  viewOf: (tx) => ({ ...toView(tx), outcome: outcomeOf(tx.decision) }),
  // Precommit calls gave up at the transaction's deadline...
  nextStep: (tx, nowMs) => {
    const step = nextStep(tx, nowMs);
    return step.kind === 'call' && step.call === 'precommit' ? { ...step, deadlineAt: tx.deadlineAt } : step;
  },
  // ...and a refusal with TX_ALREADY_ABORTED settled the phase, as an abort.
  settlesPrecommit: (answer) => answer === 'committed' || answer === 'violation',
  concludePrecommit: oldConcludePrecommit,
};

/** The participant SDK before issue 11: the 3PC timeout rule also aborted a prepared record. */
export const oldParticipantRules: ProtocolRules = {
  ...realRules,
  name: 'participant SDK before issue 11',
  decideTermination: (record, asked, timing) => {
    const t = decideTermination(record, asked, timing);
    if (t.kind !== 'wait' || record.protocol !== '3pc' || record.state !== 'prepared') return t;
    const timedOut = asked === null || (asked.kind === 'unreachable' && (timing.unreachableForMs ?? 0) >= timing.threePcTimeoutMs);
    return timedOut ? { kind: 'abort', why: '3PC timeout before precommit', source: 'timeout' } : t;
  },
};

/** Both, as they shipped together. */
export const oldRules: ProtocolRules = {
  ...oldCoordinatorRules,
  name: 'rules before issue 11',
  decideTermination: oldParticipantRules.decideTermination,
};

/** A participant SDK without the term fence: it acts on a deposed leader's calls. */
export const unfencedParticipantRules: ProtocolRules = {
  ...realRules,
  name: 'participant SDK without the term fence',
  fenceTerm: (highestSeen, callTerm) => Math.max(highestSeen, callTerm),
};

/** A participant that never accepts an abort once it voted commit: it leaves the transaction unfinished forever. */
export const stubbornParticipantRules: ProtocolRules = {
  ...realRules,
  name: 'participant that refuses abort after voting commit',
  planCall: (record, path) => {
    if (path === 'abort' && record?.state === 'prepared')
      return { kind: 'refuse', code: 'TX_ALREADY_COMMITTED', message: 'refuses abort', violation: true };
    return realRules.planCall(record, path);
  },
  decideTermination: (record, asked, timing) => {
    const t = decideTermination(record, asked, timing);
    return t.kind === 'abort' && record.state === 'prepared'
      ? { kind: 'wait', why: 'refuses abort', retryAfterMs: timing.resolveAfterMs }
      : t;
  },
};

/**
 * The old apply() accepted an abort of a precommitted transaction exactly as of
 * a preparing one. The real apply() refuses it, so the old result is rebuilt:
 * the same transaction replayed to `preparing` with its commit votes, then the
 * abort applied by the real state machine.
 */
function oldApply(oracle: SmOracle, state: number, cmd: TxCommand, term: number): number {
  const tx = oracle.record(state);
  if (tx === null || cmd.type !== 'decided' || cmd.decision !== 'abort' || tx.state !== 'precommitted')
    return oracle.apply(state, cmd, term);
  return oracle.replay(tx.id, [...preparingWithVotes(tx), cmd]);
}

function preparingWithVotes(tx: TxRecord): TxCommand[] {
  const created: TxCommand = {
    type: 'created',
    txId: tx.id,
    participants: tx.participants.map((p) => ({ name: p.name, url: p.url, payload: p.payload })),
    protocol: tx.protocol,
    createdAt: tx.createdAt,
    deadlineAt: tx.deadlineAt,
    idempotencyKey: tx.idempotencyKey,
    requestHash: tx.requestHash,
    commitRequested: true,
    activeMax: 100,
  };
  const votes = tx.participants.map(
    (p): TxCommand => ({
      type: 'voteRecorded',
      txId: tx.id,
      participant: p.name,
      vote: p.vote ?? 'commit',
      reason: null,
      error: p.lastError,
    }),
  );
  return [created, ...votes];
}

/** concludePrecommit as it was (protocol-run.ts before issue 11), over the same answers. */
function oldConcludePrecommit(tx: TxRecord, answers: ReadonlyArray<PrecommitAnswer | null>, nowMs: number): Decide | null {
  const answered = (a: PrecommitAnswer): string[] => tx.participants.filter((_, i) => answers[i] === a).map((p) => p.name);
  const aborted = answered('violation');
  const committed = answered('committed');
  if (aborted[0] !== undefined) {
    const votes = aborted.map(
      (name): VoteEntry => ({
        participant: name,
        vote: 'abort',
        reason: 'aborted on its own before precommit',
        error: 'precommit refused: TX_ALREADY_ABORTED',
      }),
    );
    return {
      kind: 'decide',
      decision: 'abort',
      votes,
      reason: `participant ${aborted[0]} had aborted on its own (3PC timeout) before precommit`,
    };
  }
  const commitVotes = tx.participants.map((p): VoteEntry => ({ participant: p.name, vote: 'commit', reason: null, error: null }));
  if (committed[0] !== undefined)
    return {
      kind: 'decide',
      decision: 'commit',
      votes: commitVotes,
      reason: `participant ${committed[0]} had committed on its own (3PC timeout after precommit)`,
    };
  if (answers.every((a) => a === 'ack'))
    return { kind: 'decide', decision: 'commit', votes: commitVotes, reason: 'every participant acknowledged precommit' };
  if (nowMs < tx.deadlineAt) return null;
  return { kind: 'decide', decision: 'abort', votes: [], reason: 'deadline passed before every participant acknowledged precommit' };
}

/**
 * A coordinator that answers an inquiry with TX_NOT_FOUND without the read
 * barrier: a new leader that has not yet committed an entry of its term says
 * "not found" while an older term's decided entry may still commit.
 */
export const noReadBarrierRules: ProtocolRules = { ...realRules, name: 'TX_NOT_FOUND without the read barrier', readBarrier: false };

/**
 * A leader that keeps its in-memory one-shot transaction across a term change
 * (re-elected) and proposes its decided entry in the new term, with an apply()
 * that does not check the entry's term against the prepare's.
 */
export const oneShotAcrossTermsRules: ProtocolRules = {
  ...realRules,
  name: 'one-shot decided proposed after a term change, apply without the term check',
  dropsOneShotOnTermEnd: false,
  apply: (oracle, state, cmd, term) =>
    oracle.apply(state, cmd, cmd.type === 'decided' && cmd.oneShot !== undefined ? cmd.oneShot.preparedTerm : term),
};
