// One transaction's protocol run on the leader: prepare, (3PC) precommit,
// decision, phase 2, completion. Every step reads the replicated state first
// and ends by proposing an entry, so a run can stop anywhere (leader death,
// step-down) and a later run, here or on the next leader, picks up from the log.
//
// Safety rule: a participant hears a decision (or a precommit) only after the
// entry that fixes it has been applied locally, i.e. committed in the Raft log.
import type pino from 'pino';
import type { ReplicatedLog } from '../node/replicated-log.js';
import { assertNever } from '../raft/types.js';
import { backoffDelayMs, sleep } from './backoff.js';
import { DeferredRecorder } from './deferred-recorder.js';
import type { TxCommand, VoteEntry } from './commands.js';
import type { TxConfig } from './config.js';
import type { FailingTracker } from './failing-tracker.js';
import type { TxMetrics } from './metrics.js';
import type { ParticipantClient, Phase2Kind } from './participant-client.js';
import type { ParticipantAttempts } from './participant-attempts.js';
import { proposeTx, unwrap } from './proposer.js';
import { isFinished } from './transitions.js';
import type { Decision, ParticipantRecord, TxRecord, TxStateMachine } from './types.js';

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
}

/** One leadership term. `signal` aborts the moment this node stops leading. */
export interface RunContext {
  readonly deps: RunDeps;
  readonly term: number;
  readonly signal: AbortSignal;
  readonly failing: FailingTracker;
}

/** Lets the driver cut prepare or precommit short when a decision arrives from elsewhere (client abort). */
export interface RunHandle {
  cancelUndecided: (() => void) | null;
}

/** Drives `txId` until it is finished, back to `active`, gone, or the term ends. */
export async function runTransaction(ctx: RunContext, txId: string, handle: RunHandle): Promise<void> {
  for (let failures = 0; !ctx.signal.aborted; ) {
    const tx = ctx.deps.sm.get(txId);
    if (tx === null || tx.state === 'active' || isFinished(tx.state)) return;
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
  switch (tx.state) {
    case 'preparing':
      return preparePhase(ctx, tx, handle);
    case 'precommitted':
      return precommitPhase(ctx, tx, handle);
    case 'committing':
    case 'aborting':
      return phase2(ctx, tx);
    case 'active':
    case 'committed':
    case 'aborted':
      return;
    default:
      return assertNever(tx.state);
  }
}

// ---- prepare ----------------------------------------------------------------

async function preparePhase(ctx: RunContext, tx: TxRecord, handle: RunHandle): Promise<void> {
  if (ctx.deps.now() >= tx.deadlineAt) return decide(ctx, tx.id, 'abort', [], 'deadline passed before every participant voted');
  // The decision entry carries every vote; a slow prepare also replicates them as they come (the view's "some votes in").
  const recorder = new DeferredRecorder<VoteEntry>(ctx.deps.config.progressRecordDelayMs, tx.participants.length, (vote) => recordVote(ctx, tx.id, vote));
  let votes: Array<VoteEntry | null>;
  try {
    votes = await undecidedPhase(ctx, handle, tx.deadlineAt, (cancel) => Promise.all(tx.participants.map((p) => prepareOne(ctx, tx, p, cancel, recorder))));
  } finally {
    recorder.close();
  }
  if (ctx.signal.aborted) return;
  // A client abort may have decided meanwhile; then the decision stands and the loop moves to phase 2.
  if (ctx.deps.sm.get(tx.id)?.state !== 'preparing') return;
  return concludePrepare(ctx, tx, votes);
}

/**
 * Runs a phase that waits on participants before the decision (prepare,
 * precommit) with one cancel for all its calls. It fires when the term ends,
 * when the driver sees a decision made elsewhere (client abort), at
 * `deadlineAt` if given, or when `run` fires it itself.
 */
async function undecidedPhase<T>(ctx: RunContext, handle: RunHandle, deadlineAt: number | null, run: (cancel: AbortController) => Promise<T>): Promise<T> {
  const cancel = new AbortController();
  const onTermEnd = (): void => cancel.abort();
  if (ctx.signal.aborted) cancel.abort();
  else ctx.signal.addEventListener('abort', onTermEnd, { once: true });
  const deadlineTimer = deadlineAt === null ? null : setTimeout(() => cancel.abort(), Math.max(0, deadlineAt - ctx.deps.now()));
  deadlineTimer?.unref();
  handle.cancelUndecided = () => cancel.abort();
  try {
    return await run(cancel);
  } finally {
    if (deadlineTimer !== null) clearTimeout(deadlineTimer);
    ctx.signal.removeEventListener('abort', onTermEnd);
    handle.cancelUndecided = null;
  }
}

async function concludePrepare(ctx: RunContext, tx: TxRecord, votes: Array<VoteEntry | null>): Promise<void> {
  const known = votes.filter((v): v is VoteEntry => v !== null);
  const firstAbort = known.find((v) => v.vote === 'abort');
  if (firstAbort !== undefined) {
    const why = firstAbort.error ?? (firstAbort.reason === null ? 'voted abort' : `voted abort: ${firstAbort.reason}`);
    return decide(ctx, tx.id, 'abort', known, `participant ${firstAbort.participant} ${why}`);
  }
  if (known.length < tx.participants.length || ctx.deps.now() >= tx.deadlineAt) {
    return decide(ctx, tx.id, 'abort', known, 'deadline passed before every participant voted');
  }
  if (tx.protocol === '3pc') {
    unwrap(await propose(ctx, { type: 'precommitted', txId: tx.id, votes: known }));
    return;
  }
  return decide(ctx, tx.id, 'commit', known, 'every participant voted commit');
}

/** Resolves with the participant's vote (a failure after bounded retries is an abort vote), or null if cancelled. */
async function prepareOne(ctx: RunContext, tx: TxRecord, p: ParticipantRecord, cancel: AbortController, recorder: DeferredRecorder<VoteEntry>): Promise<VoteEntry | null> {
  const { client, config, now, metrics } = ctx.deps;
  for (let attempt = 1; ; attempt++) {
    const left = tx.deadlineAt - now();
    if (cancel.signal.aborted || left <= 0) return null;
    const request = { url: p.url, txId: tx.id, participant: p.name, payload: p.payload, protocol: tx.protocol, term: ctx.term };
    const result = await client.prepare(request, { timeoutMs: Math.min(config.prepareCallTimeoutMs, left), signal: cancel.signal });
    if (result.kind === 'vote') {
      const vote: VoteEntry = { participant: p.name, vote: result.vote, reason: result.vote === 'abort' ? result.reason : null, error: null };
      return settleVote(vote, cancel, recorder);
    }
    if (cancel.signal.aborted) return null;
    recorder.hurry();
    metrics.callFailed('prepare');
    if (attempt >= config.prepareMaxAttempts) {
      return settleVote({ participant: p.name, vote: 'abort', reason: null, error: result.error }, cancel, recorder);
    }
    await retryAfter(ctx, tx, p, config.prepareRetryDelayMs, cancel.signal);
  }
}

function settleVote(vote: VoteEntry, cancel: AbortController, recorder: DeferredRecorder<VoteEntry>): VoteEntry {
  // One abort vote settles the decision: stop waiting for the others.
  if (vote.vote === 'abort') cancel.abort();
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

async function decide(ctx: RunContext, txId: string, decision: Decision, votes: readonly VoteEntry[], reason: string): Promise<void> {
  const result = unwrap(await propose(ctx, { type: 'decided', txId, decision, votes, decidedAt: ctx.deps.now(), reason }));
  if (result.existed !== true) {
    ctx.deps.metrics.decision(decision);
    ctx.deps.logger.info({ txId, decision, reason }, 'transaction decided');
  }
}

function propose(ctx: RunContext, cmd: TxCommand): ReturnType<typeof proposeTx> {
  return proposeTx(ctx.deps.log, cmd, ctx.deps.config.proposeTimeoutMs);
}

// ---- 3PC precommit -------------------------------------------------------------
//
// After precommitted is replicated, the participants' answers decide:
// - one refuses with TX_ALREADY_ABORTED: it aborted on its own 3PC timeout, so
//   commit is impossible: decide abort. Nobody has heard commit yet (that needs
//   a commit decision), so abort is consistent for everyone else.
// - one acknowledges with state "committed": it committed on its own 3PC timeout
//   after precommit (every vote was commit, so commit is possible): decide commit.
// - every one acknowledges: decide commit (3PC's DoCommit).
// - the deadline passes first: decide abort (presumed abort; 3PC's coordinator
//   aborts when a PreCommit acknowledgement times out). Every participant gets
//   at least one attempt before that, even when a new leader finds the deadline
//   long past after an outage: its answer may be "committed", which abort
//   would contradict.
// A participant applies its own timeout rule only when it reached no
// coordinator node for its whole window (src/sdk/participant/termination.ts),
// so while the cluster is reachable these answers are the only way a
// participant's own timer can enter the decision.

type PrecommitAnswer = 'ack' | 'committed' | 'aborted';

async function precommitPhase(ctx: RunContext, tx: TxRecord, handle: RunHandle): Promise<void> {
  const answers = await undecidedPhase(ctx, handle, null, (cancel) => Promise.all(tx.participants.map((p) => precommitOne(ctx, tx, p, cancel))));
  if (ctx.signal.aborted) return;
  if (ctx.deps.sm.get(tx.id)?.state !== 'precommitted') return; // decided meanwhile (client abort)
  return concludePrecommit(ctx, tx, answers);
}

async function concludePrecommit(ctx: RunContext, tx: TxRecord, answers: ReadonlyArray<PrecommitAnswer | null>): Promise<void> {
  const answered = (a: PrecommitAnswer): string[] => tx.participants.filter((_, i) => answers[i] === a).map((p) => p.name);
  const aborted = answered('aborted');
  const committed = answered('committed');
  if (aborted.length > 0 && committed.length > 0) {
    ctx.deps.logger.error({ txId: tx.id, aborted, committed }, 'PROTOCOL VIOLATION: participants reached different outcomes on their own 3PC timeouts');
    ctx.deps.metrics.protocolViolation('split-own-outcomes');
  }
  if (aborted[0] !== undefined) {
    const votes = aborted.map((name): VoteEntry => ({ participant: name, vote: 'abort', reason: 'aborted on its own before precommit', error: 'precommit refused: TX_ALREADY_ABORTED' }));
    return decide(ctx, tx.id, 'abort', votes, `participant ${aborted[0]} had aborted on its own (3PC timeout) before precommit`);
  }
  const commitVotes = tx.participants.map((p): VoteEntry => ({ participant: p.name, vote: 'commit', reason: null, error: null }));
  if (committed[0] !== undefined) {
    return decide(ctx, tx.id, 'commit', commitVotes, `participant ${committed[0]} had committed on its own (3PC timeout after precommit)`);
  }
  if (answers.every((a) => a === 'ack')) return decide(ctx, tx.id, 'commit', commitVotes, 'every participant acknowledged precommit');
  // A delivery gives up only past the deadline; anything else (a bug) just runs the step again.
  if (ctx.deps.now() < tx.deadlineAt) return;
  return decide(ctx, tx.id, 'abort', [], 'deadline passed before every participant acknowledged precommit');
}

/** Retries (rate-bounded) until an answer, or until the deadline after at least one attempt; null when it gave up or was cancelled. */
async function precommitOne(ctx: RunContext, tx: TxRecord, p: ParticipantRecord, cancel: AbortController): Promise<PrecommitAnswer | null> {
  const { client, config, now, random } = ctx.deps;
  for (let attempt = 0; !cancel.signal.aborted; attempt++) {
    const request = { url: p.url, txId: tx.id, participant: p.name, term: ctx.term };
    const result = await client.deliver('precommit', request, { timeoutMs: config.phase2CallTimeoutMs, signal: cancel.signal });
    if (result.kind === 'ack') {
      ctx.failing.succeeded(failingKey(tx, p));
      if (result.state !== 'committed') return 'ack';
      cancel.abort(); // commit is settled: stop waiting for the others
      return 'committed';
    }
    if (cancel.signal.aborted) return null;
    if (result.code === 'TX_ALREADY_ABORTED') {
      cancel.abort(); // abort is settled
      return 'aborted';
    }
    callFailed(ctx, tx, p, 'precommit', result.error);
    const leftMs = tx.deadlineAt - now();
    if (leftMs <= 0) return null;
    await retryAfter(ctx, tx, p, Math.min(leftMs, backoffDelayMs(attempt, config.phase2BackoffBaseMs, config.phase2BackoffCapMs, random)), cancel.signal);
  }
  return null;
}

// ---- phase 2 ------------------------------------------------------------------

async function phase2(ctx: RunContext, tx: TxRecord): Promise<void> {
  const kind = tx.decision === 'commit' ? 'commit' : 'abort';
  const pending = tx.participants.filter((p) => !p.acknowledged);
  // The completion entry marks every acknowledgement; a slow phase 2 also replicates them as they come,
  // so the view (and a next leader, which then calls only the others again) sees who is done.
  const recorder = new DeferredRecorder<string>(ctx.deps.config.progressRecordDelayMs, pending.length, (name) => recordAck(ctx, tx.id, name));
  let settled: Array<PromiseSettledResult<void>>;
  try {
    // allSettled, not all: a failure must not leave sibling deliveries running into the next round.
    settled = await Promise.allSettled(
      pending.map(async (p) => {
        if (await deliverUntilAck(ctx, tx, p, kind, () => recorder.hurry())) recorder.add(p.name);
      }),
    );
  } finally {
    recorder.close();
  }
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  // deliverUntilAck gives up only when the term ends: past this point every pending participant acknowledged.
  if (ctx.signal.aborted) return;
  const acknowledged = pending.map((p) => p.name);
  unwrap(await propose(ctx, { type: 'completed', txId: tx.id, completedAt: ctx.deps.now(), acknowledged }));
}

function recordAck(ctx: RunContext, txId: string, participant: string): void {
  propose(ctx, { type: 'acknowledged', txId, participant }).catch((e: unknown) => {
    ctx.deps.logger.debug({ err: e, txId }, 'recording an acknowledgement failed');
  });
}

/** Retries forever (rate-bounded by backoff) until a 2xx; false only when the term ends. */
async function deliverUntilAck(ctx: RunContext, tx: TxRecord, p: ParticipantRecord, kind: 'commit' | 'abort', onFailure: () => void): Promise<boolean> {
  const { client, config, random } = ctx.deps;
  const otherOutcome = kind === 'commit' ? 'TX_ALREADY_ABORTED' : 'TX_ALREADY_COMMITTED';
  let violationLogged = false;
  for (let attempt = 0; !ctx.signal.aborted; attempt++) {
    const request = { url: p.url, txId: tx.id, participant: p.name, term: ctx.term };
    const result = await client.deliver(kind, request, { timeoutMs: config.phase2CallTimeoutMs, signal: ctx.signal });
    if (result.kind === 'ack') {
      ctx.failing.succeeded(failingKey(tx, p));
      return true;
    }
    if (ctx.signal.aborted) return false;
    if (result.code === otherOutcome && !violationLogged) {
      // Retrying is all that is left; the view's lastError and this line say why it never ends.
      violationLogged = true;
      ctx.deps.logger.error({ txId: tx.id, participant: p.name, kind, code: result.code }, 'PROTOCOL VIOLATION: participant reached the other outcome on its own');
      ctx.deps.metrics.protocolViolation('other-outcome');
    }
    onFailure();
    callFailed(ctx, tx, p, kind, result.error);
    await retryAfter(ctx, tx, p, backoffDelayMs(attempt, config.phase2BackoffBaseMs, config.phase2BackoffCapMs, random), ctx.signal);
  }
  return false;
}

/** Waits before the next call to `p`, and tells the view when that will be. */
function retryAfter(ctx: RunContext, tx: TxRecord, p: ParticipantRecord, delayMs: number, signal: AbortSignal): Promise<void> {
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
  propose(ctx, { type: 'participantFailing', txId: tx.id, participant: p.name, error: report.error, failingSince: report.failingSince }).catch((e: unknown) => {
    ctx.deps.logger.debug({ err: e, txId: tx.id }, 'recording a failing participant failed');
  });
}
