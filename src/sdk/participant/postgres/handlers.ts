// The participant handlers of the PostgreSQL adapter, for the SDK's core:
//
//   prepare  BEGIN; SET LOCAL lock_timeout; the user's work; INSERT the commit marker;
//            PREPARE TRANSACTION '<gid>'. A commit vote only once PREPARE has returned
//            (and said PREPARE: on a transaction that had already failed, PostgreSQL
//            answers PREPARE TRANSACTION with ROLLBACK instead of an error).
//            Any error from the database is a vote of abort with its own reason.
//   commit   COMMIT PREPARED '<gid>'     } idempotent, a gid already gone is checked
//   abort    ROLLBACK PREPARED '<gid>'   } against its commit marker (prepared.ts)
//
// The core (participant.ts) records `preparing` before prepare runs, the vote after it,
// and the outcome after commit/abort returns; these handlers only talk to PostgreSQL.
import type { Pool, PoolClient } from 'pg';
import type { ParticipantHandlers, ParticipantLogger, ParticipantTx, ParticipantVote } from '../types.js';
import { gidLiteral, gidOf } from './gid.js';
import { describePgError, finishPrepared, sqlState } from './prepared.js';

/**
 * The transaction's work, on a client inside BEGIN. Return nothing (or a commit vote)
 * to prepare it, or `{vote: 'abort', reason}` to refuse; a throw, or any error from
 * PostgreSQL, is a vote of abort too. Do not COMMIT, ROLLBACK, PREPARE or release the
 * client: the adapter does.
 */
export type PostgresWork = (client: PoolClient, tx: ParticipantTx) => Promise<ParticipantVote | void>;

export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

export interface HandlerSettings {
  readonly pool: Pool;
  readonly work: PostgresWork;
  readonly gidPrefix: string;
  readonly markers: string;
  readonly isolationLevel: IsolationLevel;
  /** 0: no limit. */
  readonly lockTimeoutMs: number;
  readonly logger: ParticipantLogger;
}

export function postgresHandlers(s: HandlerSettings): ParticipantHandlers {
  const gid = (tx: ParticipantTx): string => gidOf(s.gidPrefix, tx.txId, tx.participant);
  return {
    prepare: (tx) => prepare(s, tx, gid(tx)),
    commit: async (tx) => {
      const how = await finishPrepared(s.pool, s.markers, gid(tx), 'commit');
      if (how === 'already')
        s.logger.info({ txId: tx.txId, participant: tx.participant, gid: gid(tx) }, 'prepared transaction was already committed');
    },
    abort: async (tx) => {
      await finishPrepared(s.pool, s.markers, gid(tx), 'rollback');
    },
  };
}

async function prepare(s: HandlerSettings, tx: ParticipantTx, gid: string): Promise<ParticipantVote> {
  let client: PoolClient;
  try {
    client = await s.pool.connect();
  } catch (e) {
    return { vote: 'abort', reason: `cannot connect to postgres: ${e instanceof Error ? e.message : String(e)}` };
  }
  let prepareSent = false;
  let clean = true;
  try {
    await client.query(`BEGIN ISOLATION LEVEL ${s.isolationLevel.toUpperCase()}`);
    // An integer, not a parameter: SET takes none.
    if (s.lockTimeoutMs > 0) await client.query(`SET LOCAL lock_timeout = ${Math.floor(s.lockTimeoutMs)}`);
    const answer: unknown = await s.work(client, tx);
    if (answer !== undefined && (answer as ParticipantVote | null)?.vote !== 'commit') {
      await client.query('ROLLBACK');
      const refusal = answer as { vote?: unknown; reason?: unknown } | null;
      if (refusal?.vote !== 'abort') return { vote: 'abort', reason: 'the work function returned no valid vote' };
      return typeof refusal.reason === 'string' ? { vote: 'abort', reason: refusal.reason } : { vote: 'abort' };
    }
    await client.query(`INSERT INTO ${s.markers} (gid, tx_id, participant) VALUES ($1, $2, $3)`, [gid, tx.txId, tx.participant]);
    prepareSent = true;
    const r = await client.query(`PREPARE TRANSACTION ${gidLiteral(gid)}`);
    if (r.command !== 'PREPARE')
      return { vote: 'abort', reason: `PREPARE TRANSACTION answered ${r.command}: the transaction had failed and was rolled back` };
    return { vote: 'commit' };
  } catch (e) {
    clean = await rollback(client);
    // The server answered PREPARE with an error: nothing was prepared. Without an answer
    // (a lost connection) it may have been: roll it back if it is there. A PREPARE still
    // on its way to the server lands later; the reconciler finds it (its record says
    // aborted) and rolls it back.
    if (prepareSent && sqlState(e) === null) await finishPrepared(s.pool, s.markers, gid, 'rollback').catch(() => undefined);
    const reason = describePgError(e);
    s.logger.info({ txId: tx.txId, participant: tx.participant, reason }, 'prepare failed; voting abort');
    return { vote: 'abort', reason };
  } finally {
    // A connection whose state we are not sure of is closed, not handed to the next caller.
    client.release(!clean);
  }
}

/** ROLLBACK after an error; false when the connection could not even do that. */
async function rollback(client: PoolClient): Promise<boolean> {
  try {
    await client.query('ROLLBACK');
    return true;
  } catch {
    return false;
  }
}
