// Shrinks a failing partition to a small sub-history that still fails, for a report a
// person can read (delta debugging: drop chunks of operations, halving the chunk size).
//
// Dropping an operation must not manufacture a failure. Dropping a read never does: it
// only removes a constraint, and every value the remaining reads saw is still written by
// the same operations. Dropping a write can: a read of the value it wrote is then
// unexplained, a different failure from the one found. So reads go first, and a write is
// dropped only if the sub-history still fails and, when every read's answer could be
// explained by the writes at some moment (each read made concurrent with everything),
// that stays so without the write. What is left fails on the order of events, not on a
// value nobody wrote.
import type { Model, Operation } from './model.js';
import { searchPartition, type SearchBudget } from './search.js';

export interface Minimized<I, O> {
  readonly ops: readonly Operation<I, O>[];
  /** False when the budget ran out first: `ops` fails, but may not be minimal. */
  readonly complete: boolean;
  readonly checks: number;
}

/** `failing`: the partition as recorded (expanded, unknown reads dropped); each candidate is simplified before its search. */
export function minimizeFailure<S, I, O>(
  model: Model<S, I, O>,
  failing: readonly Operation<I, O>[],
  budget: SearchBudget,
): Minimized<I, O> {
  let checks = 0;
  let complete = true;
  const verdict = (ops: readonly Operation<I, O>[]): 'yes' | 'no' | 'unknown' => {
    checks++;
    const r = searchPartition(model, model.simplify?.(ops) ?? ops, budget);
    if (r.kind === 'pruned') complete = false;
    return r.kind === 'linearizable' ? 'yes' : r.kind === 'violation' ? 'no' : 'unknown';
  };
  const fails = (ops: readonly Operation<I, O>[]): boolean => verdict(ops) === 'no';
  const explained = (ops: readonly Operation<I, O>[]): 'yes' | 'no' | 'unknown' => verdict(widenReads(model, ops));
  const outOfTime = (): boolean => performance.now() > budget.deadlineMs;

  const reads = failing.filter((op) => model.readOnly(op.input));
  const writes = failing.filter((op) => !model.readOnly(op.input));
  const keptReads = shrink(reads, (rest) => fails(inOrder(failing, [...writes, ...rest])), outOfTime);
  const readsExplained = explained(inOrder(failing, [...writes, ...keptReads])) === 'yes';
  const keptWrites = shrink(
    writes,
    (rest) => {
      const candidate = inOrder(failing, [...rest, ...keptReads]);
      return fails(candidate) && (!readsExplained || explained(candidate) === 'yes');
    },
    outOfTime,
  );
  if (outOfTime()) complete = false;
  return { ops: inOrder(failing, [...keptWrites, ...keptReads]), complete, checks };
}

/**
 * Removes chunks of `items` while `stillFails(remaining)` holds: chunk sizes n/2, n/4,
 * ..., 1, and at 1 until a full pass removes nothing (1-minimal) or time is up.
 */
function shrink<T>(items: readonly T[], stillFails: (remaining: readonly T[]) => boolean, outOfTime: () => boolean): T[] {
  let current = [...items];
  let chunk = Math.max(1, Math.ceil(current.length / 2));
  for (;;) {
    let changed = false;
    for (let i = 0; i < current.length && !outOfTime(); ) {
      const rest = [...current.slice(0, i), ...current.slice(i + chunk)];
      if (rest.length < current.length && stillFails(rest)) {
        current = rest;
        changed = true;
      } else {
        i += chunk;
      }
    }
    if (outOfTime() || (chunk === 1 && !changed) || current.length === 0) return current;
    chunk = Math.max(1, Math.floor(chunk / 2));
  }
}

/** `subset` in the order the operations have in `all` (the recorded order). */
function inOrder<I, O>(all: readonly Operation<I, O>[], subset: readonly Operation<I, O>[]): Operation<I, O>[] {
  const keep = new Set(subset);
  return all.filter((op) => keep.has(op));
}

/**
 * Every read concurrent with everything: it may be placed at any moment of the writes'
 * history. Its return stays finite (the largest number), so it still must be placed
 * before the search may end at an unknown operation's return at Infinity.
 */
function widenReads<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[]): Operation<I, O>[] {
  return ops.map((op) => (model.readOnly(op.input) ? { ...op, callMs: -Number.MAX_VALUE, returnMs: Number.MAX_VALUE } : op));
}
