// The leader-only driver: one independent async run per in-flight transaction
// (so a slow participant holds up only its own transactions), started when
// this node becomes leader and stopped, all at once, when it stops leading.
//
// A term is an epoch: its AbortController cancels every sleep and every
// in-flight participant call the moment leadership is lost, and its term goes
// out with each call so participants can fence a deposed leader.
import type { LeadershipEvent } from '../node/replicated-log.js';
import { sleep } from './backoff.js';
import { createFailingTracker, type FailingTracker } from './failing-tracker.js';
import { runTransaction, type RunContext, type RunDeps, type RunHandle } from './protocol-run.js';
import { proposeTx } from './proposer.js';
import { DEADLINE_BEFORE_COMMIT_REQUEST, sweepAction } from './protocol-rules.js';
import { isFinished } from './transitions.js';
import { COMPLETION_QUEUE_DEFAULTS, CompletionQueue } from './completion-queue.js';
import { oneShotRecord, type OneShotSpec } from './one-shot.js';
import { runOneShot, type OneShotResult } from './one-shot-run.js';
import { keyIndex } from './key-index.js';
import { oncePerTurn } from '../util/once-per-turn.js';
import type { TxRecord } from './types.js';

/** How long stop() waits for runs to notice the abort. */
const STOP_WAIT_MS = 2_000;

/** A run's `done` until its run starts (the same settled promise for all). */
const DONE: Promise<void> = Promise.resolve();

interface Epoch {
  readonly term: number;
  readonly controller: AbortController;
  readonly runs: Map<string, RunHandle & { done: Promise<void> }>;
  readonly timers: NodeJS.Timeout[];
  /**
   * One-shot transactions this term holds in memory: prepare sent, decided
   * entry not yet applied (one-shot.ts). They die with the term: their
   * decided entry could only count in it.
   */
  readonly oneShots: Map<string, OneShotFlight>;
  /** The same flights by keyIndex(principal, idempotency key), for retries that join them. */
  readonly oneShotKeys: Map<string, OneShotFlight>;
  /** The term's completions waiting for a decision to go with (completion-queue.ts). */
  readonly completions: CompletionQueue;
  /** What every run of the term is given: the same for all of them, so made once. */
  ctx: RunContext | null;
  /** One-shot transactions decided this turn, whose phase 2 starts after it (TxDriver.driveDecided). */
  decidedOneShots: string[];
}

/** A one-shot transaction in memory on the leader. */
export interface OneShotFlight {
  /** The in-memory record (`preparing`); never changed. */
  readonly tx: TxRecord;
  /** Settles once the decided entry is applied (or refused), or rejects when the term ends first. */
  readonly done: Promise<OneShotResult>;
}

export class TxDriver {
  private epoch: Epoch | null = null;
  private unsubscribe: (() => void) | null = null;
  private readonly failing: FailingTracker;
  /** Deadline aborts of active transactions already proposed and not yet applied. */
  private readonly pendingExpiries = new Set<string>();
  private gcPending = false;
  /** One immediate per turn for every one-shot transaction decided in it, not one each. */
  private readonly scheduleDecided = oncePerTurn(() => this.driveDecided(), setImmediate);

  constructor(private readonly deps: RunDeps) {
    this.failing = createFailingTracker(deps.config.participantFailingThreshold, deps.now);
  }

  start(): void {
    if (this.unsubscribe !== null) return;
    this.unsubscribe = this.deps.log.onLeadership((event) => this.onLeadership(event));
    const status = this.deps.log.status();
    if (status.role === 'leader') this.lead(status.term);
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    const runs = [...(this.epoch?.runs.values() ?? [])];
    this.follow();
    // Aborted runs make no more participant calls; one may still await a
    // proposal (up to proposeTimeoutMs), which need not hold up shutdown.
    await Promise.race([Promise.allSettled(runs.map((r) => r.done)), sleep(STOP_WAIT_MS, new AbortController().signal)]);
  }

  /**
   * Starts a one-shot transaction with no created entry, or returns null when
   * this node cannot: it does not lead, or not yet (the driver leads only once
   * its term's first entry is applied, which is what makes the caller's
   * idempotency-key lookup in the table final for older terms).
   */
  startOneShot(spec: OneShotSpec): OneShotFlight | null {
    const epoch = this.epoch;
    if (epoch === null || this.deps.log.status().term !== epoch.term) return null;
    const tx = oneShotRecord(spec);
    const key = spec.idempotencyKey === null ? null : keyIndex(spec.principal, spec.idempotencyKey);
    const ctx = this.context(epoch);
    const done = runOneShot(ctx, tx).then(
      (result) => {
        forget();
        // Phase 2 is the ordinary run's, in this same term only; it starts after this
        // turn, so the client's answer (resumed by this same promise) is written first.
        if (result.kind === 'decided') {
          epoch.decidedOneShots.push(tx.id);
          this.scheduleDecided();
        }
        return result;
      },
      (e: unknown) => {
        forget();
        throw e;
      },
    );
    const flight: OneShotFlight = { tx, done };
    // After the entry applied (so a read finds it in the table) or failed; never before.
    const forget = (): void => {
      if (epoch.oneShots.get(tx.id) === flight) epoch.oneShots.delete(tx.id);
      if (key !== null && epoch.oneShotKeys.get(key) === flight) epoch.oneShotKeys.delete(key);
    };
    epoch.oneShots.set(tx.id, flight);
    if (key !== null) epoch.oneShotKeys.set(key, flight);
    return flight;
  }

  /** Starts phase 2 of the one-shot transactions decided in the current term; those of an ended term are dropped with it. */
  private driveDecided(): void {
    const epoch = this.epoch;
    if (epoch === null) return;
    const ids = epoch.decidedOneShots;
    epoch.decidedOneShots = [];
    for (const id of ids) this.drive(id);
  }

  /** The one-shot transaction in memory under this idempotency key, if any. */
  oneShotByKey(key: string, principal: string | null): OneShotFlight | null {
    return this.epoch?.oneShotKeys.get(keyIndex(principal, key)) ?? null;
  }

  /** The in-memory record of a one-shot transaction this leader is preparing, or null. */
  oneShotRecordOf(txId: string): TxRecord | null {
    return this.epoch?.oneShots.get(txId)?.tx ?? null;
  }

  /** One-shot transactions held in memory: undecided, so they count against maxActiveTransactions. */
  oneShotCount(): number {
    return this.epoch?.oneShots.size ?? 0;
  }

  /** The term this node currently drives, or null when it is not leading. */
  leadingTerm(): number | null {
    return this.epoch?.term ?? null;
  }

  /**
   * Make sure `txId` is being driven (no-op unless leading). When a decision
   * reached the table from elsewhere (a client abort during prepare), a run
   * still waiting in prepare or precommit is cut short.
   */
  drive(txId: string): void {
    const epoch = this.epoch;
    if (epoch === null) return;
    const existing = epoch.runs.get(txId);
    if (existing !== undefined) {
      if (this.deps.sm.decisionOf(txId)?.decision != null) existing.cancelUndecided?.();
      return;
    }
    const handle: RunHandle & { done: Promise<void> } = { cancelUndecided: null, done: DONE };
    epoch.runs.set(txId, handle);
    const ended = (): void => {
      epoch.runs.delete(txId);
      // The state may have moved (e.g. commit requested) between the run's last read and now.
      if (this.epoch === epoch && this.needsRun(txId)) this.drive(txId);
    };
    // One reaction, not .catch().finally(): two promises fewer per transaction.
    handle.done = runTransaction(this.context(epoch), txId, handle).then(ended, (e: unknown) => {
      this.deps.logger.error({ err: e, txId }, 'transaction run crashed');
      ended();
    });
  }

  private context(epoch: Epoch): RunContext {
    epoch.ctx ??= {
      deps: this.deps,
      term: epoch.term,
      signal: epoch.controller.signal,
      failing: this.failing,
      completions: epoch.completions,
    };
    return epoch.ctx;
  }

  private needsRun(txId: string): boolean {
    const state = this.deps.sm.stateOf(txId);
    return state !== null && state !== 'active' && !isFinished(state);
  }

  private onLeadership(event: LeadershipEvent): void {
    if (event.isLeader) this.lead(event.term);
    else this.follow();
  }

  private lead(term: number): void {
    if (this.epoch?.term === term) {
      this.sweep();
      return;
    }
    this.follow();
    const epoch: Epoch = {
      term,
      controller: new AbortController(),
      runs: new Map(),
      timers: [],
      oneShots: new Map(),
      oneShotKeys: new Map(),
      completions: new CompletionQueue(this.deps.log, {
        ...COMPLETION_QUEUE_DEFAULTS,
        ...this.deps.completionQueue,
        proposeTimeoutMs: this.deps.config.proposeTimeoutMs,
      }),
      ctx: null,
      decidedOneShots: [],
    };
    this.epoch = epoch;
    this.deps.logger.info({ term, inFlight: this.deps.sm.activeCount() }, 'leading: finishing in-flight transactions');
    const { sweepIntervalMs, gcIntervalMs } = this.deps.config;
    epoch.timers.push(setInterval(() => this.sweep(), sweepIntervalMs).unref(), setInterval(() => this.gc(), gcIntervalMs).unref());
    this.sweep();
  }

  private follow(): void {
    const epoch = this.epoch;
    if (epoch === null) return;
    this.epoch = null;
    // Aborting also fails every one-shot flight of the term (LEADERSHIP_LOST): none may propose in a later one.
    epoch.controller.abort();
    epoch.oneShots.clear();
    epoch.oneShotKeys.clear();
    epoch.completions.close();
    for (const timer of epoch.timers) clearInterval(timer);
    this.failing.clear();
    this.pendingExpiries.clear();
    this.deps.logger.info({ term: epoch.term }, 'stopped leading: every transaction run stopped');
  }

  /**
   * The leader's reconciler, run on election and then periodically: drives every
   * in-flight transaction that has no run (decided ones through phase 2,
   * undecided ones through prepare or to abort) and aborts active ones past
   * their deadline (presumed abort).
   */
  private sweep(): void {
    if (this.epoch === null) return;
    const now = this.deps.now();
    for (const tx of this.deps.sm.inFlightBrief()) {
      const action = sweepAction(tx, now);
      if (action === 'drive') this.drive(tx.id);
      else if (action === 'expire') this.expire(tx.id);
    }
  }

  private expire(txId: string): void {
    if (this.pendingExpiries.has(txId)) return;
    this.pendingExpiries.add(txId);
    // apply() refuses it if the transaction moved on meanwhile (precommitted, or decided).
    const cmd = {
      type: 'decided',
      txId,
      decision: 'abort',
      votes: [],
      decidedAt: this.deps.now(),
      reason: DEADLINE_BEFORE_COMMIT_REQUEST,
    } as const;
    this.epoch?.completions.flush(); // the same Ready as the decision (completion-queue.ts)
    proposeTx(this.deps.log, cmd, this.deps.config.proposeTimeoutMs)
      .then((result) => {
        if (result.ok && result.existed !== true) this.deps.metrics.decision('abort');
        this.drive(txId);
      })
      .catch((e: unknown) => this.deps.logger.warn({ err: e, txId }, 'aborting an expired transaction failed; will retry'))
      .finally(() => this.pendingExpiries.delete(txId));
  }

  /** Proposes a retention entry only when it would remove something, so an idle cluster's log stays quiet. */
  private gc(): void {
    if (this.epoch === null || this.gcPending) return;
    const { retainFinishedMs, retainFinishedMax, proposeTimeoutMs } = this.deps.config;
    const now = this.deps.now();
    const { finishedCount, oldestCompletedAt } = this.deps.sm.retentionStats();
    const due = finishedCount > retainFinishedMax || (oldestCompletedAt !== null && oldestCompletedAt + retainFinishedMs <= now);
    if (!due) return;
    this.gcPending = true;
    proposeTx(this.deps.log, { type: 'gc', now, retainFinishedMs, retainFinishedMax }, proposeTimeoutMs)
      .catch((e: unknown) => this.deps.logger.warn({ err: e }, 'retention entry failed; will retry'))
      .finally(() => {
        this.gcPending = false;
      });
  }
}
