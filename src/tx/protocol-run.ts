// One transaction's protocol run on the leader: prepare, (3PC) precommit,
// decision, phase 2, completion. Every step reads the replicated state first
// and ends by proposing an entry, so a run can stop anywhere (leader death,
// step-down) and a later run, here or on the next leader, picks up from the log.
//
// Safety rule: a participant hears a decision (or a precommit) only after the
// entry that fixes it has been applied locally, i.e. committed in the Raft log.
// What to do at each step is decided by the pure rules of protocol-rules.ts,
// which the model checker (test/model/) explores; this file only does the I/O.
import type pino from 'pino';
import { Cancel, onAbort, type CancelSignal } from '../util/abort-registry.js';
import type { ReplicatedLog } from '../node/replicated-log.js';
import { assertNever } from '../util/assert-never.js';
import { backoffDelayMs, sleep } from './backoff.js';
import type { CompletionQueue, CompletionQueueOptions } from './completion-queue.js';
import { DeferredRecorder } from './deferred-recorder.js';
import type { TxCommand, VoteEntry } from './commands.js';
import type { TxConfig } from './config.js';
import type { FailingTracker } from './failing-tracker.js';
import type { TxMetrics } from './metrics.js';
import type { DeliverResult, ParticipantClient, Phase2Kind, PrepareResult } from './participant-client.js';
import type { ParticipantAttempts } from './participant-attempts.js';
import { proposeTx, unwrap } from './proposer.js';
import {
  answerOf,
  completionCommand,
  concludePrecommit,
  concludePrepare,
  conclusionCommand,
  nextStep,
  precommitAnswerOf,
  settlesPrecommit,
  settlesPrepare,
  violationMessage,
  voteOfPrepare,
  type CallAnswer,
  type Conclusion,
  type Decide,
  type PrecommitAnswer,
} from './protocol-rules.js';
import { isFinished } from './transitions.js';
import { abandonAtMs, mayAbandon } from './abandon.js';
import type { ParticipantRecord, TxRecord, TxStateMachine } from './types.js';

export interface RunDeps {
  readonly log: ReplicatedLog;
  readonly sm: TxStateMachine;
  readonly config: TxConfig;
  readonly client: ParticipantClient;
  readonly logger: pino.Logger;
  readonly metrics: TxMetrics;
  readonly now: () => number;
  readonly random: () => number;
  /** The leader's record of its calls, for the view (participant-attempts.ts); absent in some tests. */
  readonly attempts?: ParticipantAttempts;
  /** Overrides of the completion queue's bounds (COMPLETION_QUEUE_DEFAULTS); tests set them. */
  readonly completionQueue?: Partial<Omit<CompletionQueueOptions, 'proposeTimeoutMs'>>;
}

/** One leadership term. `signal` aborts the moment this node stops leading. */
export interface RunContext {
  readonly deps: RunDeps;
  readonly term: number;
  readonly signal: AbortSignal;
  readonly failing: FailingTracker;
  /**
   * The term's completions, proposed with the next decision
   * (completion-queue.ts); absent: each completion is its own entry at once.
   */
  readonly completions?: CompletionQueue;
}

/** Lets the driver cut prepare or precommit short when a decision arrives from elsewhere (client abort). */
export interface RunHandle {
  cancelUndecided: (() => void) | null;
}

/** Drives `txId` until it is finished, back to `active`, gone, or the term ends. */
export async function runTransaction(ctx: RunContext, txId: string, handle: RunHandle): Promise<void> {
  for (let failures = 0; !ctx.signal.aborted; ) {
    // The state first: the check that ends a run needs no copy of the record (a finished one is rebuilt from its chunk).
    const state = ctx.deps.sm.stateOf(txId);
    if (state === null || state === 'active' || isFinished(state)) return;
    const tx = ctx.deps.sm.get(txId);
    if (tx === null) return;
    try {
      await step(ctx, tx, handle);
      failures = 0;
    } catch (e) {
      if (ctx.signal.aborted) return;
      // Proposal refused or timed out (TOO_MANY_PENDING, TIMEOUT, ...): the entry
      // may or may not be in the log; re-reading the state next round sorts it out.
      ctx.deps.logger.warn({ err: e, txId, state: tx.state }, 'transaction step failed; retrying');
      const { phase2BackoffBaseMs, phase2BackoffCapMs } = ctx.deps.config;
      await sleep(backoffDelayMs(failures++, phase2BackoffBaseMs, phase2BackoffCapMs, ctx.deps.random), ctx.signal);
    }
  }
}

async function step(ctx: RunContext, tx: TxRecord, handle: RunHandle): Promise<void> {
  const next = nextStep(tx, ctx.deps.now());
  switch (next.kind) {
    case 'none':
      return;
    case 'decide':
      return decide(ctx, tx.id, next);
    case 'call':
      switch (next.call) {
        case 'prepare':
          return preparePhase(ctx, tx, handle, next.deadlineAt);
        case 'precommit':
          return precommitPhase(ctx, tx, handle, next.deadlineAt);
        case 'commit':
        case 'abort':
          return phase2(ctx, tx, next.call, next.participants);
        default:
          return assertNever(next.call);
      }
    default:
      return assertNever(next);
  }
}

// ---- prepare ----------------------------------------------------------------

async function preparePhase(ctx: RunContext, tx: TxRecord, handle: RunHandle, deadlineAt: number | null): Promise<void> {
  const votes = await collectVotes(ctx, tx, handle, deadlineAt, true);
  if (ctx.signal.aborted) return;
  // A client abort may have decided meanwhile; then the decision stands and the loop moves to phase 2.
  if (ctx.deps.sm.stateOf(tx.id) !== 'preparing') return;
  return conclude(ctx, tx, concludePrepare(tx, votes, ctx.deps.now()));
}

/**
 * Asks every participant of `tx` to prepare; the votes in participant order,
 * null where none came (cancelled, deadline). `recordProgress`: a slow prepare
 * also replicates the votes as they come (the view's "some votes in"); off for
 * a one-shot transaction, which has no record to add them to yet.
 */
export async function collectVotes(
  ctx: RunContext,
  tx: TxRecord,
  handle: RunHandle,
  deadlineAt: number | null,
  recordProgress: boolean,
): Promise<Array<VoteEntry | null>> {
  // The decision entry carries every vote; a slow prepare also replicates them as they come.
  const record = recordProgress ? (vote: VoteEntry): void => recordVote(ctx, tx.id, vote) : (): void => {};
  const recorder = new DeferredRecorder<VoteEntry>(ctx.deps.config.progressRecordDelayMs, tx.participants.length, record);
  try {
    return await undecidedPhase(ctx, handle, deadlineAt, (cancel) =>
      Promise.all(tx.participants.map((p) => prepareOne(ctx, tx, p, cancel, recorder))),
    );
  } finally {
    recorder.close();
  }
}

/**
 * Runs a phase that waits on participants before the decision (prepare,
 * precommit) with one cancel for all its calls. It fires when the term ends,
 * when the driver sees a decision made elsewhere (client abort), at
 * `deadlineAt` if given, or when `run` fires it itself.
 */
async function undecidedPhase<T>(
  ctx: RunContext,
  handle: RunHandle,
  deadlineAt: number | null,
  run: (cancel: Cancel) => Promise<T>,
): Promise<T> {
  // A Cancel, not an AbortController: a plain object (abort-registry.ts says what the other cost).
  const cancel = new Cancel();
  // onAbort keeps one listener on the term's signal for every phase in flight: an
  // EventTarget listener each walks the others' list on add and on remove.
  let unregister: (() => void) | null = null;
  if (ctx.signal.aborted) cancel.abort();
  else unregister = onAbort(ctx.signal, () => cancel.abort());
  const deadlineTimer = deadlineAt === null ? null : setTimeout(() => cancel.abort(), Math.max(0, deadlineAt - ctx.deps.now()));
  deadlineTimer?.unref();
  handle.cancelUndecided = () => cancel.abort();
  try {
    return await run(cancel);
  } finally {
    if (deadlineTimer !== null) clearTimeout(deadlineTimer);
    unregister?.();
    handle.cancelUndecided = null;
  }
}

async function conclude(ctx: RunContext, tx: TxRecord, conclusion: Conclusion): Promise<void> {
  if (conclusion.kind === 'decide') return decide(ctx, tx.id, conclusion);
  unwrap(await propose(ctx, conclusionCommand(tx.id, conclusion, ctx.deps.now())));
}

/** Resolves with the participant's vote (a failure after bounded retries is an abort vote), or null if cancelled. */
function prepareOne(
  ctx: RunContext,
  tx: TxRecord,
  p: ParticipantRecord,
  cancel: Cancel,
  recorder: DeferredRecorder<VoteEntry>,
): Promise<VoteEntry | null> {
  // The first attempt is a reaction, not an async frame: most votes come on it, and a
  // suspended frame per participant lived as long as the call (long enough to be
  // promoted under load). Retries, rare and slow, loop in prepareRetries.
  const first = callPrepare(ctx, tx, p, cancel);
  if (first === null) return NO_VOTE;
  return first.then((result) => {
    const vote = takeVote(ctx, p, cancel, recorder, result, 1);
    return vote === RETRY ? prepareRetries(ctx, tx, p, cancel, recorder) : vote;
  });
}

async function prepareRetries(
  ctx: RunContext,
  tx: TxRecord,
  p: ParticipantRecord,
  cancel: Cancel,
  recorder: DeferredRecorder<VoteEntry>,
): Promise<VoteEntry | null> {
  for (let attempt = 2; ; attempt++) {
    await retryAfter(ctx, tx, p, ctx.deps.config.prepareRetryDelayMs, cancel);
    const call = callPrepare(ctx, tx, p, cancel);
    if (call === null) return null;
    const vote = takeVote(ctx, p, cancel, recorder, await call, attempt);
    if (vote !== RETRY) return vote;
  }
}

const NO_VOTE: Promise<null> = Promise.resolve(null);
/** takeVote's answer when the participant is to be asked again. */
const RETRY = Symbol('retry');

/** One prepare call to `p`, or null when the phase was cancelled or the deadline has passed. */
function callPrepare(ctx: RunContext, tx: TxRecord, p: ParticipantRecord, cancel: Cancel): Promise<PrepareResult> | null {
  const left = tx.deadlineAt - ctx.deps.now();
  if (cancel.aborted || left <= 0) return null;
  const request = { url: p.url, txId: tx.id, participant: p.name, payload: p.payload, protocol: tx.protocol, term: ctx.term };
  try {
    return ctx.deps.client.prepare(request, { timeoutMs: Math.min(ctx.deps.config.prepareCallTimeoutMs, left), signal: cancel });
  } catch (e) {
    return Promise.reject(e); // as from the async function this was: a rejection, never a throw
  }
}

/** The vote the answer to attempt `attempt` gives (recorded, and settling the phase if it does), null when cancelled, or RETRY. */
function takeVote(
  ctx: RunContext,
  p: ParticipantRecord,
  cancel: Cancel,
  recorder: DeferredRecorder<VoteEntry>,
  result: PrepareResult,
  attempt: number,
): VoteEntry | null | typeof RETRY {
  if (result.kind === 'failure') {
    if (cancel.aborted) return null;
    recorder.hurry();
    ctx.deps.metrics.callFailed('prepare');
  }
  const vote = voteOfPrepare(p.name, result, attempt, ctx.deps.config.prepareMaxAttempts);
  if (vote === null) return RETRY;
  if (settlesPrepare(vote)) cancel.abort(); // stop waiting for the others
  recorder.add(vote);
  return vote;
}

/** Only for the view ("some votes in"); the decision entry carries the votes that count. */
function recordVote(ctx: RunContext, txId: string, vote: VoteEntry): void {
  propose(ctx, { type: 'voteRecorded', txId, ...vote }).catch((e: unknown) => {
    ctx.deps.logger.debug({ err: e, txId }, 'recording a vote failed');
  });
}

// ---- decision ---------------------------------------------------------------

async function decide(ctx: RunContext, txId: string, d: Decide): Promise<void> {
  const cmd = conclusionCommand(txId, d, ctx.deps.now());
  ctx.completions?.flush(); // the same Ready as the decision (completion-queue.ts)
  const result = unwrap(await propose(ctx, cmd));
  if (result.existed !== true) {
    ctx.deps.metrics.decision(d.decision);
    ctx.deps.logger.info({ txId, decision: d.decision, reason: d.reason }, 'transaction decided');
  }
}

function propose(ctx: RunContext, cmd: TxCommand): ReturnType<typeof proposeTx> {
  return proposeTx(ctx.deps.log, cmd, ctx.deps.config.proposeTimeoutMs);
}

// ---- 3PC precommit -------------------------------------------------------------
//
// precommitted is replicated: the outcome is commit (transitions.ts). Precommit
// is retried until every participant has answered, so that nobody hears commit
// before everyone is precommitted: a precommitted participant can finish on its
// own if the whole cluster is gone (src/sdk/participant/termination.ts), a
// prepared one cannot. protocol-rules.ts has the rules.

async function precommitPhase(ctx: RunContext, tx: TxRecord, handle: RunHandle, deadlineAt: number | null): Promise<void> {
  const answers = await undecidedPhase(ctx, handle, deadlineAt, (cancel) =>
    Promise.all(tx.participants.map((p) => precommitOne(ctx, tx, p, cancel))),
  );
  if (ctx.signal.aborted) return;
  if (ctx.deps.sm.stateOf(tx.id) !== 'precommitted') return; // decided meanwhile
  const conclusion = concludePrecommit(tx, answers);
  // Not every answer came (the phase was cancelled): the loop runs the step again.
  if (conclusion !== null) return decide(ctx, tx.id, conclusion);
}

/** Retries (rate-bounded) until the participant answers; null only when cancelled. */
async function precommitOne(ctx: RunContext, tx: TxRecord, p: ParticipantRecord, cancel: Cancel): Promise<PrecommitAnswer | null> {
  const { client, config, random } = ctx.deps;
  for (let attempt = 0; !cancel.aborted; attempt++) {
    const request = { url: p.url, txId: tx.id, participant: p.name, term: ctx.term };
    const result = await client.deliver('precommit', request, { timeoutMs: config.phase2CallTimeoutMs, signal: cancel });
    if (result.kind === 'failure' && cancel.aborted) return null;
    const answer = answerOf('precommit', result);
    if (answer.kind === 'ack') ctx.failing.succeeded(failingKey(tx, p));
    if (answer.kind === 'violation') protocolViolation(ctx, tx, p, 'precommit', answer.code);
    const settled = precommitAnswerOf(answer);
    if (settled !== null) {
      if (settlesPrecommit(settled)) cancel.abort(); // commit is settled: stop waiting for the others
      return settled;
    }
    callFailed(ctx, tx, p, 'precommit', result.kind === 'failure' ? result.error : 'precommit failed');
    await retryAfter(ctx, tx, p, backoffDelayMs(attempt, config.phase2BackoffBaseMs, config.phase2BackoffCapMs, random), cancel);
  }
  return null;
}

// ---- phase 2 ------------------------------------------------------------------

async function phase2(ctx: RunContext, tx: TxRecord, kind: 'commit' | 'abort', names: readonly string[]): Promise<void> {
  const pending = tx.participants.filter((p) => names.includes(p.name));
  // The completion entry marks every acknowledgement; a slow phase 2 also replicates them as they come,
  // so the view (and a next leader, which then calls only the others again) sees who is done.
  const recorder = new DeferredRecorder<string>(ctx.deps.config.progressRecordDelayMs, pending.length, (name) =>
    recordAck(ctx, tx.id, name),
  );
  let settled: Array<PromiseSettledResult<Delivery>>;
  try {
    // allSettled, not all: a failure must not leave sibling deliveries running into the next round.
    // A reaction per participant, not an async arrow: its suspended frame lived as long as the call.
    const hurry = (): void => recorder.hurry();
    settled = await Promise.allSettled(
      pending.map((p) =>
        deliverUntilAck(ctx, tx, p, kind, hurry).then((delivery) => {
          if (delivery === 'ack') recorder.add(p.name);
          return delivery;
        }),
      ),
    );
  } finally {
    recorder.close();
  }
  // One pass: the first failure is thrown; deliverUntilAck stops otherwise only when
  // the term ends or the transaction finished elsewhere (force-finish).
  const acknowledged: string[] = [];
  const abandoned: string[] = [];
  let stopped = false;
  for (let i = 0; i < settled.length; i++) {
    const s = settled[i]!;
    if (s.status === 'rejected') throw s.reason;
    if (s.value === 'ack') acknowledged.push(pending[i]!.name);
    else if (s.value === 'abandoned') abandoned.push(pending[i]!.name);
    else stopped = true;
  }
  if (ctx.signal.aborted || stopped) return;
  const completion = completionCommand(tx.id, acknowledged, ctx.deps.now(), abandoned);
  unwrap(await (ctx.completions?.complete(completion) ?? propose(ctx, completion)));
  if (abandoned.length > 0) {
    ctx.deps.metrics.abandoned(abandoned.length);
    ctx.deps.logger.warn(
      { txId: tx.id, abandoned, abandonAfterMs: ctx.deps.config.abandonAfterMs },
      'abort not acknowledged in time by participants that never voted commit: abandoned (presumed abort)',
    );
  }
}

function recordAck(ctx: RunContext, txId: string, participant: string): void {
  propose(ctx, { type: 'acknowledged', txId, participant }).catch((e: unknown) => {
    ctx.deps.logger.debug({ err: e, txId }, 'recording an acknowledgement failed');
  });
}

/** How one participant's phase 2 ended. */
type Delivery = 'ack' | 'abandoned' | 'stopped';

/**
 * Retries (rate-bounded by backoff) until a 2xx: forever for a commit, and for
 * an abort to a participant that voted commit. An abort to one that did not is
 * given up at abandonAtMs (abandon.ts). 'stopped' when the term ends or the
 * transaction finished without this run (force-finish).
 */
function deliverUntilAck(
  ctx: RunContext,
  tx: TxRecord,
  p: ParticipantRecord,
  kind: 'commit' | 'abort',
  onFailure: () => void,
): Promise<Delivery> {
  const giveUpAt = mayAbandon(tx, p) ? abandonAtMs(tx, ctx.deps.config.abandonAfterMs) : null;
  if (ctx.signal.aborted) return STOPPED;
  if (giveUpAt !== null && ctx.deps.now() >= giveUpAt) return ABANDONED;
  // The first attempt is a reaction, not an async frame (as in prepareOne); retries,
  // which may go on for as long as the participant is down, loop in redeliver.
  return deliverOnce(ctx, tx, p, kind).then((result) => {
    const answer = answerOf(kind, result);
    return answer.kind === 'ack' ? acked(ctx, tx, p) : redeliver(ctx, tx, p, kind, onFailure, giveUpAt, answer);
  });
}

const STOPPED: Promise<Delivery> = Promise.resolve('stopped');
const ABANDONED: Promise<Delivery> = Promise.resolve('abandoned');

function deliverOnce(ctx: RunContext, tx: TxRecord, p: ParticipantRecord, kind: 'commit' | 'abort'): Promise<DeliverResult> {
  const request = { url: p.url, txId: tx.id, participant: p.name, term: ctx.term };
  try {
    return ctx.deps.client.deliver(kind, request, { timeoutMs: ctx.deps.config.phase2CallTimeoutMs, signal: ctx.signal });
  } catch (e) {
    // A rejection, never a throw: phase 2's allSettled must see it, so sibling deliveries finish first.
    return Promise.reject(e);
  }
}

function acked(ctx: RunContext, tx: TxRecord, p: ParticipantRecord): Delivery {
  ctx.failing.succeeded(failingKey(tx, p));
  return 'ack';
}

/** After attempt 0 failed with `answer`: backs off and calls again until an acknowledgement, the bound, or the end of the run. */
async function redeliver(
  ctx: RunContext,
  tx: TxRecord,
  p: ParticipantRecord,
  kind: 'commit' | 'abort',
  onFailure: () => void,
  giveUpAt: number | null,
  answer: Exclude<CallAnswer, { kind: 'ack' }>,
): Promise<Delivery> {
  const { config, random, now } = ctx.deps;
  let violationSeen = false;
  for (let attempt = 0; ; ) {
    if (ctx.signal.aborted) return 'stopped';
    onFailure();
    if (answer.kind === 'violation') {
      // Retrying is all that is left; the view's lastError, the metric and the log line say why it never ends.
      if (!violationSeen) protocolViolation(ctx, tx, p, kind, answer.code);
      violationSeen = true;
      callFailed(ctx, tx, p, kind, violationMessage(kind, answer.code));
    } else {
      callFailed(ctx, tx, p, kind, answer.error);
    }
    const backoff = backoffDelayMs(attempt, config.phase2BackoffBaseMs, config.phase2BackoffCapMs, random);
    // Never sleep past the bound: the participant is given up on time, not a backoff later.
    await retryAfter(ctx, tx, p, giveUpAt === null ? backoff : Math.max(0, Math.min(backoff, giveUpAt - now())), ctx.signal);
    attempt++;
    if (ctx.signal.aborted) return 'stopped';
    if (giveUpAt !== null && now() >= giveUpAt) return 'abandoned';
    if (!stillUnfinished(ctx, tx.id)) return 'stopped';
    const next = answerOf(kind, await deliverOnce(ctx, tx, p, kind));
    if (next.kind === 'ack') return acked(ctx, tx, p);
    answer = next;
  }
}

function stillUnfinished(ctx: RunContext, txId: string): boolean {
  const state = ctx.deps.sm.stateOf(txId);
  return state !== null && !isFinished(state);
}

/**
 * A participant answered with the other outcome: it decided on its own against
 * the protocol. Logged, counted and replicated as its lastError at once; the
 * outcome never changes because of it.
 */
function protocolViolation(ctx: RunContext, tx: TxRecord, p: ParticipantRecord, kind: Phase2Kind, code: string): void {
  const error = violationMessage(kind, code);
  ctx.deps.metrics.protocolViolation(kind);
  ctx.deps.logger.error({ txId: tx.id, participant: p.name, call: kind, code }, error);
  propose(ctx, { type: 'participantFailing', txId: tx.id, participant: p.name, error, failingSince: ctx.deps.now() }).catch(
    (e: unknown) => {
      ctx.deps.logger.debug({ err: e, txId: tx.id }, 'recording a protocol violation failed');
    },
  );
}

/** Waits before the next call to `p`, and tells the view when that will be. */
function retryAfter(ctx: RunContext, tx: TxRecord, p: ParticipantRecord, delayMs: number, signal: CancelSignal): Promise<void> {
  ctx.deps.attempts?.retryAt(tx.id, p.name, ctx.deps.now() + delayMs);
  return sleep(delayMs, signal);
}

function failingKey(tx: TxRecord, p: ParticipantRecord): string {
  return `${tx.id}/${p.name}`;
}

/** Counts a failed precommit/commit/abort call and, at the failing threshold and its doublings, replicates it as lastError. */
function callFailed(ctx: RunContext, tx: TxRecord, p: ParticipantRecord, kind: Phase2Kind, error: string): void {
  ctx.deps.metrics.callFailed(kind);
  const report = ctx.failing.failed(failingKey(tx, p), error);
  if (report === null) return;
  propose(ctx, {
    type: 'participantFailing',
    txId: tx.id,
    participant: p.name,
    error: report.error,
    failingSince: report.failingSince,
  }).catch((e: unknown) => {
    ctx.deps.logger.debug({ err: e, txId: tx.id }, 'recording a failing participant failed');
  });
}
