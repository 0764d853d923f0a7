// What the linearizability checker needs to know about an object: its sequential
// specification (a model) and the operations of a recorded history.
//
// A model may be nondeterministic: step() returns every state an operation may lead to
// (none when the answer is impossible). The checker follows all of them at once, as
// Porcupine's NondeterministicModel does, so one search covers every choice. Internal
// transitions that no client causes (a coordinator deciding abort at a deadline) belong
// inside step(): an operation may first see any number of them happen.
//
// This directory is compiled with src/ and scripts/ (see the root tsconfig.json) because
// the chaos runner (scripts/chaos) checks every run with it; it imports nothing but Node.

/**
 * One client operation as recorded: what was asked, what came back, and when, on the
 * recording process's monotonic clock (performance.now(), ms).
 */
export interface Operation<I, O> {
  /** Unique within a history. */
  readonly id: number;
  /** Who issued it (a worker name), for reports. */
  readonly client: string;
  readonly input: I;
  /**
   * What the API answered, or null when the outcome is unknown (a timeout, a dropped
   * connection, LEADERSHIP_LOST): the operation may have taken effect at any time after
   * its call, or never.
   */
  readonly output: O | null;
  readonly callMs: number;
  /** Infinity exactly when the output is unknown. */
  readonly returnMs: number;
}

export interface Model<S, I, O> {
  readonly name: string;
  /** The state before any operation. */
  init(): S;
  /**
   * Every state `input` may lead to from `state` when it answered `output`; empty when
   * that answer is impossible there. With `output` null (unknown) the operation may have
   * had any of its effects, and step() must return at least one state from any state
   * (an operation whose answer was lost cannot be impossible).
   */
  step(state: S, input: I, output: O | null): readonly S[];
  /** Equal states have equal keys (memoization and de-duplication). */
  stateKey(state: S): string;
  /** Operations on different partitions never interact (a key, a transaction). */
  partition(input: I): string;
  /** True when the operation never changes the state (a read): unknown reads are dropped. */
  readOnly(input: I): boolean;
  /**
   * Optional: true when the model is deterministic and a read-only operation's step
   * returns exactly [state] or []: no internal transition rides on a read. Then a read
   * that fits the current state can be placed at once without trying other orders (one
   * that fits later also fits now, as it changes nothing in between), which prunes most
   * of the search of a busy register. Not for models whose reads may see internal moves.
   */
  readonly readsArePure?: boolean;
  /** One line for a report: the input and the output ("?" when unknown). */
  describe(input: I, output: O | null): string;
  /**
   * Optional: the operations the model steps for one recorded operation; by default the
   * operation itself. An API call with two effects at different moments becomes two
   * operations (the transaction model: a commit request takes effect early, its answer
   * reads the decision later).
   */
  expand?(op: Operation<I, O>): Operation<I, O>[];
  /**
   * Optional: rewrites one partition into one that is cheaper to search (drops operations
   * that cannot matter, bounds unknown ones). Must be exact: the rewritten partition is
   * linearizable if and only if the original is.
   */
  simplify?(ops: readonly Operation<I, O>[]): Operation<I, O>[];
}

export function isPending(op: Operation<unknown, unknown>): boolean {
  return op.output === null;
}
