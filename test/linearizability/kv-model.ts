// The sequential specification of `--state-machine kv` (src/http/kv-routes.ts), one
// register per key:
//   PUT /v1/kv/{key} {value} -> 200 {key, index}: the value is written; `index` is the
//       Raft index the write landed at, and writes apply in index order, so a later
//       write has a larger index;
//   GET /v1/kv/{key}         -> 200 {key, found, value}: the latest value, or
//       found false / value null for a key never written.
import type { Model, Operation } from './model.js';

export type KvInput = { readonly op: 'put'; readonly key: string; readonly value: string } | { readonly op: 'get'; readonly key: string };

/** A put's index; a get's value (null: not found). */
export type KvOutput = { readonly op: 'put'; readonly index: number } | { readonly op: 'get'; readonly value: string | null };

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
        if (output === null) return [{ value: input.value, index: s.index }];
        if (output.op !== 'put' || !(output.index > s.index)) return [];
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
  describe(input, output) {
    if (input.op === 'put') return `put ${input.key}=${input.value} -> ${output === null ? '? (unknown)' : output.op === 'put' ? `ok index ${output.index}` : 'a get answer'}`;
    if (output === null) return `get ${input.key} -> ? (unknown)`;
    return `get ${input.key} -> ${output.op === 'get' ? (output.value === null ? 'not found' : output.value) : 'a put answer'}`;
  },
  simplify: dropUnobservedUnknownPuts,
};

/**
 * A put whose answer was lost and whose value no get in the partition returned can be
 * taken as never having happened: if a linearization places it, removing it leaves a
 * linearization, because no read sits between it and the next write (any read there
 * would have returned its value). Index bounds are unaffected: an unknown put sets none.
 * Unknown puts pile up while a leader is down, and each one left in multiplies the search.
 */
export function dropUnobservedUnknownPuts(ops: readonly KvOperation[]): KvOperation[] {
  const read = new Set<string>();
  for (const op of ops) if (op.input.op === 'get' && op.output?.op === 'get' && op.output.value !== null) read.add(op.output.value);
  return ops.filter((op) => !(op.input.op === 'put' && op.output === null && !read.has(op.input.value)));
}

function assertNever(x: never): never {
  throw new Error(`unexpected kv operation ${JSON.stringify(x)}`);
}
