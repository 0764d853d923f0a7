// Invariant checks for the Raft core. A failed check is a programmer error (a bug
// in the core or in its driver), never an operating condition: it throws so that
// the simulation harness and tests see the first step that went wrong.

export class RaftInvariantError extends Error {
  constructor(message: string) {
    super(`raft invariant violated: ${message}`);
    this.name = 'RaftInvariantError';
  }
}

export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new RaftInvariantError(typeof message === 'string' ? message : message());
}
