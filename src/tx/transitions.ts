// The one place that knows the legal edges of a transaction's state.
//
//   active       ──commitRequested──▶ preparing
//   preparing    ──every vote commit (3PC)──▶ precommitted
//   preparing    ──every vote commit (2PC)──▶ committing
//   precommitted ──commit──▶ committing ──every participant acknowledged──▶ committed
//   active, preparing, precommitted ──abort──▶ aborting ──every participant acknowledged──▶ aborted
//
// precommitted -> aborting is legal: precommitted is not a decision. Until the
// decision entry exists the outcome is open, and the coordinator decides abort
// when a participant reports it already aborted (its own 3PC timeout), when the
// deadline passes before every precommit is acknowledged (presumed abort), or
// when a client asks. No participant has been told commit at that point: commit
// goes out only after a commit decision, which needs every precommit
// acknowledged (or a participant reporting it already committed). A
// precommitted participant commits on its own only when it could reach no
// coordinator node for its whole timeout window (src/sdk/participant/termination.ts).
import { RatifyError } from '../errors.js';
import type { Decision, Outcome, TxState } from './types.js';

const EDGES: Readonly<Record<TxState, readonly TxState[]>> = {
  active: ['preparing', 'aborting'],
  preparing: ['precommitted', 'committing', 'aborting'],
  precommitted: ['committing', 'aborting'],
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
