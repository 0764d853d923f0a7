// The I/O of a one-shot transaction on the leader (one-shot.ts says why it is
// safe): prepare from the in-memory record, then one decided entry. Phase 2
// is the ordinary run's (protocol-run.ts), started by the driver once the
// entry is applied.
import { RatifyError } from '../errors.js';
import { keylessAbortCommand, oneShotCommand } from './one-shot.js';
import { collectVotes, type RunContext } from './protocol-run.js';
import { concludePrepare } from './protocol-rules.js';
import { proposeTx } from './proposer.js';
import type { TxRecord } from './types.js';

export type OneShotResult =
  /** The decided entry is applied: `tx` is the table's record, outcome fixed. */
  | { readonly kind: 'decided'; readonly tx: TxRecord }
  /**
   * Another transaction held the idempotency key when the entry applied (an
   * earlier attempt whose entry landed late, or a create racing this one):
   * this attempt was recorded aborted without the key; `holder` is the other.
   */
  | { readonly kind: 'keyTaken'; readonly holder: TxRecord };

/** Rejects with LEADERSHIP_LOST when the term ended before the decision was recorded (nothing was: presumed abort). */
export async function runOneShot(ctx: RunContext, tx: TxRecord): Promise<OneShotResult> {
  const { deps } = ctx;
  const votes = await collectVotes(ctx, tx, { cancelUndecided: null }, tx.deadlineAt, false);
  if (ctx.signal.aborted) throw notRecorded(tx.id);
  const conclusion = concludePrepare(tx, votes, deps.now());
  if (conclusion.kind !== 'decide') throw new RatifyError('INTERNAL', `one-shot ${tx.protocol} transaction ${tx.id} cannot precommit`);
  const cmd = oneShotCommand(tx, conclusion, deps.now(), ctx.term);
  ctx.completions?.flush(); // the same Ready as the decision (completion-queue.ts)
  const result = await proposeTx(deps.log, cmd, deps.config.proposeTimeoutMs);
  if (result.ok) {
    if (result.tx === null) throw new RatifyError('INTERNAL', `decided entry of ${tx.id} applied without a transaction`);
    if (result.existed !== true) {
      deps.metrics.decision(conclusion.decision);
      deps.logger.debug({ txId: tx.id, decision: conclusion.decision, reason: conclusion.reason }, 'one-shot transaction decided');
    }
    return { kind: 'decided', tx: result.tx };
  }
  if (result.code === 'IDEMPOTENCY_KEY_REUSED' && result.tx !== null) {
    const holder = result.tx;
    // Its participants may be prepared: they hear abort (or, should this fail too, ask a newer leader).
    await proposeTx(deps.log, keylessAbortCommand(cmd, holder.id, deps.now()), deps.config.proposeTimeoutMs)
      .then((r) => r.ok && r.existed !== true && deps.metrics.decision('abort'))
      .catch((e: unknown) => deps.logger.warn({ err: e, txId: tx.id }, 'recording a one-shot attempt aborted failed'));
    return { kind: 'keyTaken', holder };
  }
  throw new RatifyError(result.code, result.message);
}

function notRecorded(txId: string): RatifyError {
  return new RatifyError(
    'LEADERSHIP_LOST',
    `leadership changed before transaction ${txId} was decided; nothing was recorded (presumed abort): retry with the same Idempotency-Key`,
  );
}
