// The one place that knows the legal edges of a transaction's state.
//
//   active       ──commitRequested──▶ preparing
//   preparing    ──every vote commit (3PC)──▶ precommitted
//   preparing    ──every vote commit (2PC)──▶ committing
//   precommitted ──commit──▶ committing ──every participant acknowledged──▶ committed
//   active, preparing ──abort──▶ aborting ──every participant acknowledged──▶ aborted
//
// Invariant (3PC): once `precommitted` is applied, the outcome can only be
// commit. There is no precommitted -> aborting edge: neither the deadline, nor a
// client, nor a participant's answer can abort a precommitted transaction. That
// is what makes a precommitted participant's own timeout rule safe (it commits
// when it can reach no coordinator node for threePcTimeoutMs,
// src/sdk/participant/termination.ts), including when the whole cluster is
// frozen or the participant is cut off while the cluster carries on. An earlier
// version allowed the edge and split outcomes both ways (README "3PC"). The view
// therefore already reports `outcome: committed` at precommitted (fixedOutcome).
import { RatifyError } from '../errors.js';
import type { Decision, Outcome, TxState } from './types.js';

const EDGES: Readonly<Record<TxState, readonly TxState[]>> = {
  active: ['preparing', 'aborting'],
  preparing: ['precommitted', 'committing', 'aborting'],
  precommitted: ['committing'],
  committing: ['committed'],
  aborting: ['aborted'],
  committed: [],
  aborted: [],
};

export function canTransition(from: TxState, to: TxState): boolean {
  return EDGES[from].includes(to);
}

/** Throws on an illegal edge: callers check canTransition() for edges a race can produce. */
export function assertTransition(from: TxState, to: TxState): void {
  if (!canTransition(from, to)) {
    throw new RatifyError('INTERNAL', `illegal transaction state transition ${from} -> ${to}`);
  }
}

export function isFinished(state: TxState): boolean {
  return state === 'committed' || state === 'aborted';
}

export function phase2State(decision: Decision): TxState {
  return decision === 'commit' ? 'committing' : 'aborting';
}

export function finishedState(decision: Decision): TxState {
  return decision === 'commit' ? 'committed' : 'aborted';
}

export function outcomeOf(decision: Decision | null): Outcome | null {
  if (decision === null) return null;
  return decision === 'commit' ? 'committed' : 'aborted';
}

/**
 * The outcome as soon as it can no longer change: the decision's, or
 * `committed` for a precommitted 3PC transaction (no abort edge leaves that
 * state). Null while the outcome is open. The view's `outcome`, the commit
 * call's answer and participants' cooperative termination all read this.
 */
export function fixedOutcome(tx: { readonly state: TxState; readonly decision: Decision | null }): Outcome | null {
  if (tx.state === 'precommitted') return 'committed';
  return outcomeOf(tx.decision);
}
