// The operator's side of stuck transactions, free of HTTP: list the ones whose
// outcome is fixed but which have not finished for a while (what
// maxStuckTransactions bounds), and force-finish one (force-finish.ts says
// what that may and may not do). Admin only (the routes say so).
import type pino from 'pino';
import { RatifyError } from '../errors.js';
import type { ReplicatedLog } from '../node/replicated-log.js';
import type { TxConfig } from './config.js';
import type { TxDriver } from './driver.js';
import { planForceFinish } from './force-finish.js';
import { proposeTx, unwrap } from './proposer.js';
import type { Outcome, TxRecord, TxStateMachine } from './types.js';
import { isFinishing } from './tx-table.js';

export interface StuckQuery {
  /** Only transactions whose outcome was fixed at least this long ago. */
  readonly olderThanMs: number;
  readonly limit: number;
}

export interface StuckTx {
  /** Since creation. */
  readonly ageMs: number;
  /** Since the outcome was fixed (decidedAt). */
  readonly stuckForMs: number;
  readonly tx: TxRecord;
}

export interface StuckList {
  readonly atMs: number;
  /** Every match (the list holds at most `limit`, longest stuck first). */
  readonly count: number;
  /** Every unfinished transaction whose outcome is fixed, however young: what counts against maxStuckTransactions. */
  readonly finishing: number;
  readonly maxStuckTransactions: number;
  readonly transactions: StuckTx[];
}

export interface ForceFinishInput {
  /** Must repeat the transaction id. */
  readonly confirm?: string;
  readonly outcome?: Outcome;
}

export interface StuckOperationsDeps {
  readonly log: ReplicatedLog;
  readonly sm: TxStateMachine;
  readonly config: TxConfig;
  readonly driver: TxDriver;
  readonly logger: pino.Logger;
  readonly now: () => number;
}

export class StuckOperations {
  constructor(private readonly deps: StuckOperationsDeps) {}

  /** Linearizable (ReadIndex), then linear in the unfinished transactions. */
  async list(q: StuckQuery): Promise<StuckList> {
    const { log, sm, config, now } = this.deps;
    await log.readBarrier({ timeoutMs: config.readBarrierTimeoutMs });
    const atMs = now();
    const matches: StuckTx[] = [];
    for (const tx of sm.inFlight()) {
      if (!isFinishing(tx.state) || tx.decidedAt === null) continue;
      const stuckForMs = Math.max(0, atMs - tx.decidedAt);
      if (stuckForMs >= q.olderThanMs) matches.push({ ageMs: Math.max(0, atMs - tx.createdAt), stuckForMs, tx });
    }
    matches.sort((a, b) => b.stuckForMs - a.stuckForMs);
    return {
      atMs,
      count: matches.length,
      finishing: sm.finishingCount(),
      maxStuckTransactions: config.maxStuckTransactions,
      transactions: matches.slice(0, q.limit),
    };
  }

  /**
   * On the leader. Finishes `txId` with its own outcome (never against it),
   * recorded in the log with `principal`; answers with the finished record.
   */
  async forceFinish(txId: string, input: ForceFinishInput, principal: string | null): Promise<TxRecord> {
    const { sm, config, now, logger } = this.deps;
    if (input.confirm !== txId) {
      throw new RatifyError(
        'CONFIRMATION_REQUIRED',
        `force-finish of ${txId} needs the body {"confirm": "${txId}"}: it gives up delivering the outcome to every participant that has not acknowledged it`,
      );
    }
    const tx = sm.get(txId);
    if (tx === null) throw new RatifyError('TX_NOT_FOUND', `transaction ${txId} not found`);
    const expected = input.outcome ?? null;
    // Checked here for a clear answer; apply() checks again against the state the entry meets.
    const plan = planForceFinish(tx, expected);
    if (plan.kind === 'conflict') throw new RatifyError('OUTCOME_CONFLICT', plan.message);
    if (plan.kind === 'done') return tx;
    const result = unwrap(
      await proposeTx(this.deps.log, { type: 'forceFinished', txId, outcome: expected, principal, at: now() }, config.proposeTimeoutMs),
    );
    if (result.tx === null) throw new RatifyError('TX_NOT_FOUND', `transaction ${txId} not found`);
    if (result.existed !== true) {
      const abandoned = result.tx.participants.filter((p) => p.abandoned === 'force-finish').map((p) => p.name);
      logger.warn({ txId, principal, outcome: plan.outcome, from: tx.state, abandoned }, 'transaction force-finished by an operator');
    }
    // A run still waiting in prepare or precommit stops at once; one in phase 2 sees it finished at its next retry.
    this.deps.driver.drive(txId);
    return sm.get(txId) ?? result.tx;
  }
}
