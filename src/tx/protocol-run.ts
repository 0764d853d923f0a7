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
import type { TxCommand, VoteEntry } from './commands.js';
import type { TxConfig } from './config.js';
import type { FailingTracker } from './failing-tracker.js';
import type { TxMetrics } from './metrics.js';
import type { ParticipantClient, Phase2Kind } from './participant-client.js';
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
}

/** One leadership term. `signal` aborts the moment this node stops leading. */
export interface RunContext {
  readonly deps: RunDeps;
  readonly term: number;
  readonly signal: AbortSignal;
  readonly failing: FailingTracker;
}

/** Lets the driver cut a prepare short when a decision arrives from elsewhere (client abort). */
export interface RunHandle {
  cancelPrepare: (() => void) | null;
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
      return precommitPhase(ctx, tx);
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
  const { now } = ctx.deps;
  if (now() >= tx.deadlineAt) return decide(ctx, tx.id, 'abort', [], 'deadline passed before every participant voted');
  const cancel = new AbortController();
  const onTermEnd = (): void => cancel.abort();
  ctx.signal.addEventListener('abort', onTermEnd, { once: true });
  const deadlineTimer = setTimeout(() => cancel.abort(), tx.deadlineAt - now());
  deadlineTimer.unref();
  handle.cancelPrepare = () => cancel.abort();
  let votes: Array<VoteEntry | null>;
  try {
    votes = await Promise.all(tx.participants.map((p) => prepareOne(ctx, tx, p, cancel)));
  } finally {
    clearTimeout(deadlineTimer);
    ctx.signal.removeEventListener('abort', onTermEnd);
    handle.cancelPrepare = null;
  }
  if (ctx.signal.aborted) return;
  // A client abort may have decided meanwhile; then the decision stands and the loop moves to phase 2.
  if (ctx.deps.sm.get(tx.id)?.state !== 'preparing') return;
  return concludePrepare(ctx, tx, votes);
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
async function prepareOne(ctx: RunContext, tx: TxRecord, p: ParticipantRecord, cancel: AbortController): Promise<VoteEntry | null> {
  const { client, config, now, metrics } = ctx.deps;
  for (let attempt = 1; ; attempt++) {
    const left = tx.deadlineAt - now();
    if (cancel.signal.aborted || left <= 0) return null;
    const request = { url: p.url, txId: tx.id, participant: p.name, payload: p.payload, protocol: tx.protocol, term: ctx.term };
    const result = await client.prepare(request, { timeoutMs: Math.min(config.prepareCallTimeoutMs, left), signal: cancel.signal });
    if (result.kind === 'vote') {
      const vote: VoteEntry = { participant: p.name, vote: result.vote, reason: result.vote === 'abort' ? result.reason : null, error: null };
      return recordVote(ctx, tx, vote, cancel);
    }
    if (cancel.signal.aborted) return null;
    metrics.callFailed('prepare');
    if (attempt >= config.prepareMaxAttempts) {
      return recordVote(ctx, tx, { participant: p.name, vote: 'abort', reason: null, error: result.error }, cancel);
    }
    await sleep(config.prepareRetryDelayMs, cancel.signal);
  }
}

function recordVote(ctx: RunContext, tx: TxRecord, vote: VoteEntry, cancel: AbortController): VoteEntry {
  // One abort vote settles the decision: stop waiting for the others.
  if (vote.vote === 'abort') cancel.abort();
  // Only for the view ("some votes in"); the decision entry carries the votes that count.
  propose(ctx, { type: 'voteRecorded', txId: tx.id, ...vote }).catch((e: unknown) => {
    ctx.deps.logger.debug({ err: e, txId: tx.id }, 'recording a vote failed');
  });
  return vote;
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

// ---- 3PC precommit and phase 2 ------------------------------------------------

async function precommitPhase(ctx: RunContext, tx: TxRecord): Promise<void> {
  const acks = await Promise.all(tx.participants.map((p) => deliverUntilAck(ctx, tx, p, 'precommit')));
  if (ctx.signal.aborted || !acks.every(Boolean)) return;
  const votes: VoteEntry[] = tx.participants.map((p) => ({ participant: p.name, vote: 'commit', reason: null, error: null }));
  return decide(ctx, tx.id, 'commit', votes, 'every participant acknowledged precommit');
}

async function phase2(ctx: RunContext, tx: TxRecord): Promise<void> {
  const kind: Phase2Kind = tx.decision === 'commit' ? 'commit' : 'abort';
  const pending = tx.participants.filter((p) => !p.acknowledged);
  // allSettled, not all: a failed proposal must not leave sibling deliveries running into the next round.
  const settled = await Promise.allSettled(
    pending.map(async (p) => {
      if (await deliverUntilAck(ctx, tx, p, kind)) {
        unwrap(await propose(ctx, { type: 'acknowledged', txId: tx.id, participant: p.name }));
      }
    }),
  );
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  if (ctx.signal.aborted) return;
  unwrap(await propose(ctx, { type: 'completed', txId: tx.id, completedAt: ctx.deps.now() }));
}

/** Retries forever (rate-bounded by backoff) until a 2xx; false only when the term ends. */
async function deliverUntilAck(ctx: RunContext, tx: TxRecord, p: ParticipantRecord, kind: Phase2Kind): Promise<boolean> {
  const { client, config, metrics, random } = ctx.deps;
  const key = `${tx.id}/${p.name}`;
  for (let attempt = 0; !ctx.signal.aborted; attempt++) {
    const request = { url: p.url, txId: tx.id, participant: p.name, term: ctx.term };
    const result = await client.deliver(kind, request, { timeoutMs: config.phase2CallTimeoutMs, signal: ctx.signal });
    if (result.kind === 'ack') {
      ctx.failing.succeeded(key);
      return true;
    }
    if (ctx.signal.aborted) return false;
    metrics.callFailed(kind);
    const report = ctx.failing.failed(key, result.error);
    if (report !== null) {
      propose(ctx, { type: 'participantFailing', txId: tx.id, participant: p.name, error: report }).catch((e: unknown) => {
        ctx.deps.logger.debug({ err: e, txId: tx.id }, 'recording a failing participant failed');
      });
    }
    await sleep(backoffDelayMs(attempt, config.phase2BackoffBaseMs, config.phase2BackoffCapMs, random), ctx.signal);
  }
  return false;
}
