// Finishing a prepared transaction, idempotently: COMMIT PREPARED or ROLLBACK PREPARED,
// and when the gid is already gone, finding out which way it went before calling it
// done.
//
// How we know: the prepared transaction itself INSERTed its gid into commit_markers
// (handlers.ts, just before PREPARE TRANSACTION). A prepared transaction's rows are
// invisible to everyone until it finishes, and PostgreSQL removes the gid only once the
// outcome is visible, so once the gid is gone:
//   marker present  -> it committed;
//   marker absent   -> it rolled back (or was never prepared).
// Asked to commit and found committed (or asked to roll back and found not committed)
// is a repeat: done. The other way round means someone finished it by hand against the
// decision: that is an error for an operator (HEURISTIC_OUTCOME), never papered over.
import type { Pool } from 'pg';
import { RatifyError } from '../../../errors.js';
import { gidLiteral, gidStart } from './gid.js';

export type Finish = 'commit' | 'rollback';
/** `finished`: this call finished it; `already`: it was gone, and went the asked way. */
export type FinishResult = 'finished' | 'already';

/** SQLSTATE undefined_object: "prepared transaction with identifier ... does not exist". */
const NO_SUCH_GID = '42704';

export async function finishPrepared(pool: Pool, markers: string, gid: string, how: Finish): Promise<FinishResult> {
  try {
    await pool.query(`${how === 'commit' ? 'COMMIT' : 'ROLLBACK'} PREPARED ${gidLiteral(gid)}`);
    return 'finished';
  } catch (e) {
    // Anything else (the gid busy in another session's COMMIT PREPARED, a lost
    // connection) is thrown: the caller answers 500 and the coordinator retries.
    if (sqlState(e) !== NO_SUCH_GID) throw e;
  }
  const committed = (await pool.query(`SELECT 1 FROM ${markers} WHERE gid = $1`, [gid])).rowCount === 1;
  if (committed === (how === 'commit')) return 'already';
  throw new RatifyError(
    'HEURISTIC_OUTCOME',
    `prepared transaction ${gid} is gone and was ${committed ? 'COMMITTED' : 'ROLLED BACK'}, but the decision is ${how}: ` +
      'it was finished outside Ratify (a manual COMMIT/ROLLBACK PREPARED?); reconcile the data by hand',
  );
}

/** The gids of this store's prepared transactions in the pool's database, oldest first. */
export async function preparedGids(pool: Pool, prefix: string): Promise<string[]> {
  // left() rather than LIKE: a prefix may hold '_', which LIKE reads as a wildcard.
  const r = await pool.query<{ gid: string }>(
    'SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND left(gid, length($1)) = $1 ORDER BY prepared',
    [gidStart(prefix)],
  );
  return r.rows.map((row) => row.gid);
}

/** The SQLSTATE of an error PostgreSQL sent, or null for any other error (a lost connection, a timeout). */
export function sqlState(e: unknown): string | null {
  // A server error (pg's DatabaseError) carries a severity; Node's own errors carry
  // codes too ('EPIPE' has five letters), but never a severity.
  const o = e as { code?: unknown; severity?: unknown } | null;
  return typeof o?.severity === 'string' && typeof o.code === 'string' && /^[0-9A-Z]{5}$/.test(o.code) ? o.code : null;
}

/** An error as a vote's reason; the database's own words when it sent one: `postgres 23514 (constraint accounts_balance_check): new row ...`. */
export function describePgError(e: unknown): string {
  const state = sqlState(e);
  const message = e instanceof Error ? e.message : String(e);
  if (state === null) return `prepare failed: ${message}`;
  const constraint = (e as { constraint?: unknown }).constraint;
  return `postgres ${state}${typeof constraint === 'string' ? ` (constraint ${constraint})` : ''}: ${message}`;
}
