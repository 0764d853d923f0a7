// The one place that knows the legal edges of a transaction's state.
//
//   active ──commitRequested──▶ preparing ──(3PC)──▶ precommitted
//     │                           │    │                 │
//     │ abort                     │    └─commit (2PC)─┐  │ commit
//     ▼                           ▼ abort             ▼  ▼
//   aborting ◀────────────────────┘               committing
//     │ every participant acknowledged                │
//     ▼                                               ▼
//   aborted                                       committed
//
// precommitted never leads to aborting: a 3PC participant that holds a
// precommit commits on its own timeout, so the coordinator must not abort.
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

/** Past the decision point: the outcome is fixed (or, for precommitted, can only be commit). */
export function isDecided(state: TxState): boolean {
  return state === 'committing' || state === 'aborting' || isFinished(state);
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
