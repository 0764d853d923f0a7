// The sequential specification of `--state-machine kv` (src/kv/routes.ts), one
// register per key:
//   PUT /v1/kv/{key} {value} -> 200 {key, index}: the value is written; `index` is the
//       Raft index the write landed at, and writes apply in index order, so a later
//       write has a larger index;
//   GET /v1/kv/{key}         -> 200 {key, found, value}: the latest value, or
//       found false / value null for a key never written.
import type { Model, Operation } from './model.js';

export type KvInput = { readonly op: 'put'; readonly key: string; readonly value: string } | { readonly op: 'get'; readonly key: string };

/**
 * A put's index; a get's value (null: not found). The checker's rewrite (simplify) adds
 * two things the API never says: index null for a put without an answer that must have
 * taken effect, and `after`, the next lower index any put of the key answered.
 */
export type KvOutput =
  | { readonly op: 'put'; readonly index: number | null; readonly after?: number }
  | { readonly op: 'get'; readonly value: string | null };

export interface KvState {
  /** null: never written. */
  readonly value: string | null;
  /**
   * The largest index a linearized write is known to have landed at (0: none). A write
   * whose answer was lost keeps the one before: its own index is unknown, and it is at
   * least that, so the check stays sound while being a little weaker.
   */
  readonly index: number;
}

export type KvOperation = Operation<KvInput, KvOutput>;

export const kvModel: Model<KvState, KvInput, KvOutput> = {
  name: 'kv register per key',
  init: () => ({ value: null, index: 0 }),
  step(s, input, output) {
    switch (input.op) {
      case 'put':
        if (output === null || (output.op === 'put' && output.index === null)) return [{ value: input.value, index: s.index }];
        if (output.op !== 'put' || output.index === null || !(output.index > s.index)) return [];
        if (output.after !== undefined && s.index !== output.after) return [];
        return [{ value: input.value, index: output.index }];
      case 'get':
        if (output === null) return [s];
        return output.op === 'get' && output.value === s.value ? [s] : [];
      default:
        return assertNever(input);
    }
  },
  stateKey: (s) => (s.value === null ? `${s.index}` : `${s.index}=${s.value}`),
  partition: (input) => input.key,
  readOnly: (input) => input.op === 'get',
  readsArePure: true,
  describe(input, output) {
    if (input.op === 'put')
      return `put ${input.key}=${input.value} -> ${output === null ? '? (unknown)' : output.op !== 'put' ? 'a get answer' : output.index === null ? '? (no answer, but its value was read: it took effect by then)' : `ok index ${output.index}`}`;
    if (output === null) return `get ${input.key} -> ? (unknown)`;
    return `get ${input.key} -> ${output.op === 'get' ? (output.value === null ? 'not found' : output.value) : 'a put answer'}`;
  },
  simplify: (ops) => chainPuts(boundUnknownPuts(ops)),
};

/**
 * Puts whose answer was lost pile up while a leader is down, and each one the search
 * may place anywhere after its call multiplies its work. Two exact rewrites bound them:
 *
 * - One whose value no get returned is taken as never having happened: if a
 *   linearization places it, removing it leaves a linearization, since no read sits
 *   between it and the next write (any read there would have returned its value). An
 *   unknown put sets no index bound, so none is lost.
 * - One whose value a get returned, when no other put wrote that value, took effect, and
 *   before the first such get answered: it becomes a put that happened between its call
 *   and that answer, at an unknown index. (If that answer came before the call, the
 *   history is impossible anyway; the put is left as it was and the search says so.)
 */
/**
 * Every put with an answer must be linearized, in the order of the indexes they
 * answered, so each one directly follows the put with the next lower index among them
 * (`after`). Saying so prunes every branch that places a later write before an earlier
 * one, which would only fail once the skipped write's answer came: with many writes
 * overlapping, those branches are most of the search.
 */
export function chainPuts(ops: readonly KvOperation[]): KvOperation[] {
  const indexes = [...new Set(ops.flatMap((op) => (op.output?.op === 'put' && op.output.index !== null ? [op.output.index] : [])))].sort(
    (a, b) => a - b,
  );
  const before = new Map(indexes.map((index, i) => [index, i === 0 ? 0 : indexes[i - 1]!]));
  return ops.map((op) =>
    op.output?.op === 'put' && op.output.index !== null ? { ...op, output: { ...op.output, after: before.get(op.output.index)! } } : op,
  );
}

export function boundUnknownPuts(ops: readonly KvOperation[]): KvOperation[] {
  const firstReadMs = new Map<string, number>();
  const writers = new Map<string, number>();
  for (const op of ops) {
    if (op.input.op === 'put') writers.set(op.input.value, (writers.get(op.input.value) ?? 0) + 1);
    else if (op.output?.op === 'get' && op.output.value !== null)
      firstReadMs.set(op.output.value, Math.min(firstReadMs.get(op.output.value) ?? Infinity, op.returnMs));
  }
  return ops.flatMap((op): KvOperation[] => {
    if (op.input.op !== 'put' || op.output !== null) return [op];
    const readMs = firstReadMs.get(op.input.value);
    if (readMs === undefined) return [];
    if (writers.get(op.input.value) !== 1 || readMs < op.callMs) return [op];
    return [{ ...op, output: { op: 'put', index: null }, returnMs: readMs }];
  });
}

function assertNever(x: never): never {
  throw new Error(`unexpected kv operation ${JSON.stringify(x)}`);
}
