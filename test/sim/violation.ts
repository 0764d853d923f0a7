// The one error type the harness throws when the core breaks a rule.
// `invariant` is a short stable name (it appears in the SIM FAILED line).

export type InvariantName =
  | 'election-safety'
  | 'log-matching'
  | 'leader-completeness'
  | 'state-machine-safety'
  | 'durability'
  | 'read-linearizability'
  | 'persist-before-send'
  | 'hard-state'
  | 'ready-contract'
  | 'membership'
  | 'core-threw'
  | 'liveness';

export class SimViolation extends Error {
  constructor(
    readonly invariant: InvariantName,
    readonly detail: string,
  ) {
    super(`${invariant}: ${detail}`);
    this.name = 'SimViolation';
  }
}

export function violation(invariant: InvariantName, detail: string): never {
  throw new SimViolation(invariant, detail);
}
