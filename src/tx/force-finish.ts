// Force-finish: an operator ends a transaction the coordinator cannot finish
// (a participant gone for good), through an admin call
// (POST /v1/admin/stuck-transactions/{id}/force-finish) and a replicated
// `forceFinished` entry, so every node finishes it the same way.
//
// It never contradicts the outcome. A transaction whose outcome is fixed
// finishes with it: commit (decided, or 3PC precommitted, which can only end
// in commit) finishes `committed`, a decided abort `aborted`. One whose outcome
// is still open (active, preparing) is decided abort first: presumed abort,
// which a participant that prepared reads when it asks the cluster. Every
// participant that has not acknowledged is marked abandoned (`force-finish`):
// the coordinator stops calling it, and the operator owns what is left there
// (a prepared participant resolves by asking the cluster, which answers with
// the outcome as long as the transaction is retained, and presumed abort
// after; a 2PC participant that voted commit needs the commit applied by hand
// if it cannot ask).
import { fixedOutcome, isFinished } from './transitions.js';
import type { Outcome, TxRecord } from './types.js';

export type ForceFinishPlan =
  /** Already finished with the expected outcome: nothing to do (a retried call). */
  | { readonly kind: 'done' }
  | { readonly kind: 'finish'; readonly outcome: Outcome }
  /** The operator expected the other outcome: refused, nothing changes. */
  | { readonly kind: 'conflict'; readonly outcome: Outcome; readonly message: string };

/** What force-finishing `tx` does when the operator expects `expected` (null: whatever it is). Pure; apply() and the route both use it. */
export function planForceFinish(tx: Pick<TxRecord, 'id' | 'state' | 'decision'>, expected: Outcome | null): ForceFinishPlan {
  // Open outcome: decided abort first (presumed abort).
  const outcome = fixedOutcome(tx) ?? 'aborted';
  if (expected !== null && expected !== outcome) {
    return { kind: 'conflict', outcome, message: conflictMessage(tx, outcome, expected) };
  }
  return isFinished(tx.state) ? { kind: 'done' } : { kind: 'finish', outcome };
}

function conflictMessage(tx: Pick<TxRecord, 'id' | 'state'>, outcome: Outcome, expected: Outcome): string {
  const why = isFinished(tx.state)
    ? `it already finished ${outcome}`
    : outcome === 'committed'
      ? `its outcome is fixed as commit (${tx.state})`
      : tx.state === 'aborting'
        ? 'its decision is abort'
        : `its outcome is still open (${tx.state}), and force-finish decides an open one abort`;
  return `transaction ${tx.id} cannot be force-finished ${expected}: ${why}`;
}

export const FORCE_FINISH_REASON = 'force-finished by an operator before a decision (presumed abort)';
