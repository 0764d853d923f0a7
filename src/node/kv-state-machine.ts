// A tiny replicated key-value store: the state machine behind `--state-machine kv`.
//
// It exists to exercise raw consensus end to end (multi-process failover tests, the
// raw-consensus benchmark) without the transaction layer. Commands are JSON; apply()
// is deterministic and returns the index the write landed at.
import type { AppliedEntry, StateMachine } from '../raft/state-machine.js';

export const KV_KEY_BYTES_MAX = 256;

export type KvCommand = { readonly op: 'put'; readonly key: string; readonly value: string };

export interface KvPutResult {
  readonly index: number;
}

export interface KvStateMachine extends StateMachine {
  get(key: string): string | undefined;
  size(): number;
  apply(entry: AppliedEntry): KvPutResult;
}

export function encodeKvCommand(cmd: KvCommand): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(cmd));
}

function decodeKvCommand(data: Uint8Array): KvCommand {
  const v: unknown = JSON.parse(new TextDecoder().decode(data));
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    if (o['op'] === 'put' && typeof o['key'] === 'string' && typeof o['value'] === 'string') {
      return { op: 'put', key: o['key'], value: o['value'] };
    }
  }
  // Only this process's own routes propose KV commands; a malformed one is a bug.
  throw new Error(`malformed kv command: ${JSON.stringify(v)}`);
}

export function createKvStateMachine(): KvStateMachine {
  let data = new Map<string, string>();
  return {
    apply(entry) {
      const cmd = decodeKvCommand(entry.data);
      data.set(cmd.key, cmd.value);
      return { index: entry.index };
    },
    get: (key) => data.get(key),
    size: () => data.size,
    snapshot() {
      // Sorted so that equal states give equal bytes on every replica.
      const pairs = [...data.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return new TextEncoder().encode(JSON.stringify(pairs));
    },
    restore(bytes) {
      const pairs: unknown = JSON.parse(new TextDecoder().decode(bytes));
      if (!Array.isArray(pairs)) throw new Error('kv snapshot must be an array of [key, value] pairs');
      data = new Map(pairs as [string, string][]);
    },
  };
}
