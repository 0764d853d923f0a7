// The adapter's own tables, in a schema of the participant's database (default
// `ratify_participant`), created at start if missing, and the server settings checked
// at start.
//
//   records          the SDK's record of each (txId, participant), keyed like the
//                    LevelDB store, plus the gid of its prepared transaction
//   terms            the highest coordinator term seen, per store: term fencing
//                    survives a restart of the participant process
//   commit_markers   one row per prepared transaction, INSERTed inside it just
//                    before PREPARE TRANSACTION: after COMMIT PREPARED the row
//                    exists, after ROLLBACK PREPARED it never did. So when a gid is
//                    gone, the marker tells which way it went (prepared.ts).
//
// Every name is schema-qualified. The schema's name should not be a database user's:
// PostgreSQL's default search_path starts with "$user", so for a user of that name
// the schema would become where unqualified CREATE TABLEs land (a bank's second
// `CREATE TABLE IF NOT EXISTS accounts` would create an empty one there, hiding
// public.accounts: the chaos runner found this with a schema named `ratify` and a
// superuser named `ratify`).
//
// `store` is the gid prefix: several services may share one database and one schema
// (each with its own records), or keep apart with different prefixes.
import type { Pool } from 'pg';
import { RatifyError } from '../../../errors.js';

export interface Tables {
  readonly records: string;
  readonly terms: string;
  readonly markers: string;
}

export const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/** Key of the advisory lock that serializes the CREATEs of concurrent starts (CREATE ... IF NOT EXISTS races otherwise). */
const DDL_LOCK_KEY = 0x52617469; // "Rati"

export function tablesOf(schema: string): Tables {
  if (!SCHEMA_PATTERN.test(schema)) throw new RangeError(`schema ${JSON.stringify(schema)} must match ${String(SCHEMA_PATTERN)}`);
  return { records: `"${schema}".records`, terms: `"${schema}".terms`, markers: `"${schema}".commit_markers` };
}

export async function createTables(pool: Pool, schema: string): Promise<void> {
  const t = tablesOf(schema);
  const client = await pool.connect();
  let failed: unknown;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [DDL_LOCK_KEY]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${t.records} (
      store text NOT NULL,
      key text NOT NULL,
      gid text NOT NULL,
      in_doubt boolean NOT NULL,
      updated_at_ms bigint NOT NULL,
      record jsonb NOT NULL,
      PRIMARY KEY (store, key))`);
    await client.query(`CREATE UNIQUE INDEX IF NOT EXISTS records_gid ON ${t.records} (gid)`);
    await client.query(`CREATE INDEX IF NOT EXISTS records_in_doubt ON ${t.records} (store) WHERE in_doubt`);
    await client.query(`CREATE INDEX IF NOT EXISTS records_finished ON ${t.records} (store, updated_at_ms, key) WHERE NOT in_doubt`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${t.terms} (store text PRIMARY KEY, highest_term bigint NOT NULL CHECK (highest_term >= 0))`,
    );
    await client.query(`CREATE TABLE IF NOT EXISTS ${t.markers} (
      gid text PRIMARY KEY,
      tx_id text NOT NULL,
      participant text NOT NULL,
      prepared_at timestamptz NOT NULL DEFAULT now())`);
    await client.query('COMMIT');
  } catch (e) {
    failed = e;
    await client.query('ROLLBACK').catch(() => undefined);
    throw new RatifyError('INTERNAL', `cannot create the participant tables in schema ${schema}: ${(e as Error).message}`, { cause: e });
  } finally {
    client.release(failed !== undefined);
  }
}

/**
 * PREPARE TRANSACTION needs max_prepared_transactions > 0 (PostgreSQL's default is 0),
 * set in postgresql.conf and applied by a restart of the server. Checked at start so a
 * participant does not come up only to vote abort on every transaction.
 */
export async function checkServerSettings(pool: Pool): Promise<{ maxPreparedTransactions: number }> {
  const r = await pool.query<{ max_prepared_transactions: string; database: string }>(
    "SELECT current_setting('max_prepared_transactions') AS max_prepared_transactions, current_database() AS database",
  );
  const row = r.rows[0];
  const max = Number(row?.max_prepared_transactions);
  if (!Number.isInteger(max) || max <= 0) {
    throw new RatifyError(
      'CONFIG_INVALID',
      `PostgreSQL max_prepared_transactions (${row?.max_prepared_transactions ?? 'unknown'}) on database ${row?.database ?? '?'} must be greater than 0: ` +
        'PREPARE TRANSACTION is disabled. Set it in postgresql.conf to at least the number of transactions this participant may hold prepared at once ' +
        '(for example max_prepared_transactions = 100, and no less than max_connections if unsure) and restart PostgreSQL.',
    );
  }
  return { maxPreparedTransactions: max };
}
