// Proposing a TxCommand through the replicated log and narrowing what comes back.
import { RatifyError } from '../errors.js';
import type { ReplicatedLog } from '../node/replicated-log.js';
import { promiseOf } from '../util/promise-of.js';
import { encodeCommand, type TxCommand } from './commands.js';
import type { ApplyResult } from './types.js';

/**
 * Resolves with apply()'s result once the entry is committed and applied locally
 * (durable). Not async (one reaction instead of a suspended frame per proposal);
 * a command that cannot be encoded rejects, as it did.
 */
export function proposeTx(log: ReplicatedLog, cmd: TxCommand, timeoutMs: number): Promise<ApplyResult> {
  return promiseOf(() => log.propose(encodeCommand(cmd), { timeoutMs })).then((result) => {
    if (!isApplyResult(result)) {
      throw new RatifyError('INTERNAL', `the log returned an unexpected apply result for a ${cmd.type} command`);
    }
    return result;
  });
}

function isApplyResult(v: unknown): v is ApplyResult {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  if (r.ok === true) return 'tx' in r;
  return r.ok === false && typeof r.code === 'string' && typeof r.message === 'string';
}

/** Turns a rejected apply result into the typed error the API answers with. */
export function unwrap(result: ApplyResult): ApplyResult & { ok: true } {
  if (!result.ok) throw new RatifyError(result.code, result.message);
  return result;
}
