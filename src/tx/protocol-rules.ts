// The decision rules of a transaction's protocol run, as pure functions: from
// the replicated record, the clock and what participants answered, to what the
// run does next. protocol-run.ts does the I/O around them (calls, retries,
// proposals); the model checker (test/model/) explores every interleaving of
// the same functions. Nothing here reads a clock, a config or the network.
//
// The rules, in one place:
// - preparing: past the deadline, decide abort; otherwise ask every
//   participant to prepare. One abort vote (or a prepare that failed
//   prepareMaxAttempts times) decides abort; every vote commit moves a 2PC
//   transaction to commit and a 3PC one to precommitted. A vote missing when
//   the deadline passes is an abort.
// - precommitted (3PC): the outcome is commit (transitions.ts). Precommit is
//   retried, with no deadline, until every participant has answered; then
//   commit is decided. A participant that refuses precommit with
//   TX_ALREADY_ABORTED aborted on its own after voting commit: a protocol
//   violation, reported, and never an abort. A participant that answers
//   precommit as already committed settles it at once.
// - committing/aborting: deliver the decision to every participant not yet
//   acknowledged, forever (a refusal naming the other outcome is a violation,
//   retried like any failure), then complete. Except under presumed abort: an
//   abort to a participant that never voted commit is given up abandonAfterMs
//   after the decision, and the completion names it abandoned (abandon.ts).
import { assertNever } from '../util/assert-never.js';
import type { CompletedCommand, TxCommand, VoteEntry } from './commands.js';
import type { DeliverResult, PrepareResult } from './participant-client.js';
import type { Decision, ParticipantRecord, TxRecord, TxState } from './types.js';

export type ParticipantCallKind = 'prepare' | 'precommit' | 'commit' | 'abort';

/** What a run does with a transaction in its current state. */
export type NextStep =
  /** Not the run's business: active (waiting for commit), or finished. */
  | { readonly kind: 'none' }
  | Decide
  /**
   * Call `participants` (names, in the record's order); what follows depends on
   * their answers. `deadlineAt`: the calls are cut short then, and the phase
   * concludes with the answers in (prepare only: precommit and phase 2 wait for
   * every answer, however long).
   */
  | {
      readonly kind: 'call';
      readonly call: ParticipantCallKind;
      readonly participants: readonly string[];
      readonly deadlineAt: number | null;
    };

export interface Decide {
  readonly kind: 'decide';
  readonly decision: Decision;
  readonly votes: readonly VoteEntry[];
  readonly reason: string;
}

/** How a phase before the decision ends: a decision, or (3PC) the precommitted entry. */
export type Conclusion = Decide | { readonly kind: 'precommit'; readonly votes: readonly VoteEntry[] };

export const DEADLINE_BEFORE_VOTES = 'deadline passed before every participant voted';
export const DEADLINE_BEFORE_COMMIT_REQUEST = 'deadline passed before commit was requested';

export function nextStep(tx: TxRecord, nowMs: number): NextStep {
  switch (tx.state) {
    case 'preparing':
      if (nowMs >= tx.deadlineAt) return decide('abort', [], DEADLINE_BEFORE_VOTES);
      return call('prepare', tx.participants, tx.deadlineAt);
    case 'precommitted':
      // No deadline: the outcome is commit; only every participant's answer ends this phase.
      return call('precommit', tx.participants, null);
    case 'committing':
      return call(
        'commit',
        tx.participants.filter((p) => !p.acknowledged),
        null,
      );
    case 'aborting':
      return call(
        'abort',
        tx.participants.filter((p) => !p.acknowledged),
        null,
      );
    case 'active':
    case 'committed':
    case 'aborted':
      return { kind: 'none' };
    default:
      return assertNever(tx.state);
  }
}

/** The leader's periodic sweep: drive an undecided or unfinished transaction, or abort an active one past its deadline. */
export function sweepAction(tx: { readonly state: TxState; readonly deadlineAt: number }, nowMs: number): 'drive' | 'expire' | 'none' {
  if (tx.state !== 'active') return tx.state === 'committed' || tx.state === 'aborted' ? 'none' : 'drive';
  return nowMs >= tx.deadlineAt ? 'expire' : 'none';
}

/** The entry that records a conclusion, stamped with the proposer's clock. */
export function conclusionCommand(txId: string, conclusion: Conclusion, nowMs: number): TxCommand {
  if (conclusion.kind === 'precommit') return { type: 'precommitted', txId, votes: conclusion.votes, precommittedAt: nowMs };
  return { type: 'decided', txId, decision: conclusion.decision, votes: conclusion.votes, decidedAt: nowMs, reason: conclusion.reason };
}

/**
 * The entry that ends phase 2 once `acknowledged` (every participant not
 * acknowledged before, but the `abandoned` ones) did. `abandoned`: given up
 * under presumed abort (abandon.ts); left out when empty, so the common entry
 * stays as it was.
 */
export function completionCommand(
  txId: string,
  acknowledged: readonly string[],
  nowMs: number,
  abandoned: readonly string[] = [],
): CompletedCommand {
  if (abandoned.length === 0) return { type: 'completed', txId, completedAt: nowMs, acknowledged };
  return { type: 'completed', txId, completedAt: nowMs, acknowledged, abandoned };
}

// ---- prepare ----------------------------------------------------------------

/**
 * What one prepare attempt (number `attempt`, from 1) means: the participant's
 * vote, an abort vote once `attemptsMax` attempts have failed, or null to try
 * again.
 */
export function voteOfPrepare(participant: string, result: PrepareResult, attempt: number, attemptsMax: number): VoteEntry | null {
  if (result.kind === 'vote') {
    return { participant, vote: result.vote, reason: result.vote === 'abort' ? result.reason : null, error: null };
  }
  if (attempt >= attemptsMax) return { participant, vote: 'abort', reason: null, error: result.error };
  return null;
}

/** One abort vote settles the decision: the other prepares are cancelled. */
export function settlesPrepare(vote: VoteEntry): boolean {
  return vote.vote === 'abort';
}

/** The end of prepare; `votes` in participant order, null where none came (cancelled, deadline). */
export function concludePrepare(tx: TxRecord, votes: ReadonlyArray<VoteEntry | null>, nowMs: number): Conclusion {
  const known = votes.filter((v): v is VoteEntry => v !== null);
  const firstAbort = known.find((v) => v.vote === 'abort');
  if (firstAbort !== undefined) {
    const why = firstAbort.error ?? (firstAbort.reason === null ? 'voted abort' : `voted abort: ${firstAbort.reason}`);
    return decide('abort', known, `participant ${firstAbort.participant} ${why}`);
  }
  if (known.length < tx.participants.length || nowMs >= tx.deadlineAt) return decide('abort', known, DEADLINE_BEFORE_VOTES);
  if (tx.protocol === '3pc') return { kind: 'precommit', votes: known };
  return decide('commit', known, 'every participant voted commit');
}

// ---- precommit and phase 2 ------------------------------------------------------

/**
 * A precommit's answer: acknowledged, acknowledged as already committed (the
 * participant committed on its own timeout after precommit, or learned commit
 * from the cluster), or refused because it aborted on its own: a violation.
 */
export type PrecommitAnswer = 'ack' | 'committed' | 'violation';

/** What one precommit, commit or abort call's result means. `failed`: retry. */
export type CallAnswer =
  | { readonly kind: 'ack'; readonly committed: boolean }
  /** The participant says it reached the other outcome on its own: it broke the protocol. */
  | { readonly kind: 'violation'; readonly code: string }
  | { readonly kind: 'failed'; readonly error: string };

/** The refusal code that means "I reached the other outcome" for each call. */
const OTHER_OUTCOME: Readonly<Record<'precommit' | 'commit' | 'abort', string>> = {
  precommit: 'TX_ALREADY_ABORTED',
  commit: 'TX_ALREADY_ABORTED',
  abort: 'TX_ALREADY_COMMITTED',
};

export function answerOf(call: 'precommit' | 'commit' | 'abort', result: DeliverResult): CallAnswer {
  if (result.kind === 'ack') return { kind: 'ack', committed: result.state === 'committed' };
  if (result.code === OTHER_OUTCOME[call]) return { kind: 'violation', code: result.code };
  return { kind: 'failed', error: result.error };
}

/** A precommit call's answer, or null to retry (a violation is an answer: asking again cannot change it). */
export function precommitAnswerOf(answer: CallAnswer): PrecommitAnswer | null {
  switch (answer.kind) {
    case 'ack':
      return answer.committed ? 'committed' : 'ack';
    case 'violation':
      return 'violation';
    case 'failed':
      return null;
    default:
      return assertNever(answer);
  }
}

/** A participant that already committed settles precommit for everyone: the others are cancelled. */
export function settlesPrecommit(answer: PrecommitAnswer): boolean {
  return answer === 'committed';
}

/**
 * The end of precommit; `answers` in participant order, null where none came
 * yet. Commit once every participant answered (or one already committed);
 * otherwise null: keep calling. Never abort: the outcome is commit.
 */
export function concludePrecommit(tx: TxRecord, answers: ReadonlyArray<PrecommitAnswer | null>): Decide | null {
  const votes = tx.participants.map((p): VoteEntry => ({ participant: p.name, vote: 'commit', reason: null, error: null }));
  const committed = tx.participants.find((_, i) => answers[i] === 'committed');
  if (committed !== undefined)
    return decide(
      'commit',
      votes,
      `participant ${committed.name} had already committed (3PC timeout after precommit, or the cluster's answer)`,
    );
  if (answers.length < tx.participants.length || answers.some((a) => a === null)) return null;
  const violators = precommitViolators(tx, answers);
  if (violators.length === 0) return decide('commit', votes, 'every participant acknowledged precommit');
  return decide(
    'commit',
    votes,
    `every participant answered precommit; ${violators.join(', ')} refused it (PROTOCOL VIOLATION: aborted on its own after voting commit)`,
  );
}

export function precommitViolators(tx: TxRecord, answers: ReadonlyArray<PrecommitAnswer | null>): string[] {
  return tx.participants.filter((_, i) => answers[i] === 'violation').map((p) => p.name);
}

/** The lastError a violation leaves on the view (and the log line says the same). */
export function violationMessage(call: 'precommit' | 'commit' | 'abort', code: string): string {
  const outcome = call === 'abort' ? 'abort' : 'commit';
  return `PROTOCOL VIOLATION: ${call} refused with ${code} (the participant reached the other outcome on its own); the outcome stays ${outcome}`;
}

function call(kind: ParticipantCallKind, participants: readonly ParticipantRecord[], deadlineAt: number | null): NextStep {
  return { kind: 'call', call: kind, participants: participants.map((p) => p.name), deadlineAt };
}

function decide(decision: Decision, votes: readonly VoteEntry[], reason: string): Decide {
  return { kind: 'decide', decision, votes, reason };
}
