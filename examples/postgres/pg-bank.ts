// The bank of the PostgreSQL example, as SQL: an `accounts` table whose CHECK keeps
// every balance at or above zero, and `transfer_legs`, one row per operation a committed
// transfer applied (so "is this transfer in this database?" is a query). The transfer's
// work, run by the PostgreSQL participant adapter inside BEGIN ... PREPARE TRANSACTION,
// applies the payload's ops `{ops: [{account, delta}]}` (examples/bank/transfer.ts):
// a debit past zero breaks the CHECK, and the adapter votes abort with PostgreSQL's
// own reason.
import type { Pool, PoolClient } from 'pg';
import type { ParticipantTx, ParticipantVote } from '../../src/sdk/participant/types.js';

export const BANK_TABLES_SQL: readonly string[] = [
  'CREATE TABLE IF NOT EXISTS accounts (name text PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0))',
  `CREATE TABLE IF NOT EXISTS transfer_legs (
     tx_id text NOT NULL, participant text NOT NULL, ordinal int NOT NULL, account text NOT NULL, delta bigint NOT NULL,
     PRIMARY KEY (tx_id, participant, ordinal))`,
];

export interface Op {
  readonly account: string;
  readonly delta: number;
}

const OPS_MAX = 64;

export async function createBankTables(pool: Pool): Promise<void> {
  for (const sql of BANK_TABLES_SQL) await pool.query(sql);
}

/** The adapter's `work`: apply each op and record it as a leg. */
export async function transferWork(client: PoolClient, tx: ParticipantTx): Promise<ParticipantVote | undefined> {
  const ops = parseOps(tx.payload);
  if (ops === null) return { vote: 'abort', reason: 'malformed payload: expected {ops: [{account, delta}]}' };
  // Rows in one order, whatever the payload's: two transfers over the same two accounts
  // then queue instead of deadlocking.
  const ordered = ops
    .map((op, ordinal) => ({ ...op, ordinal }))
    .sort((a, b) => (a.account < b.account ? -1 : a.account > b.account ? 1 : a.ordinal - b.ordinal));
  for (const op of ordered) {
    const r = await client.query('UPDATE accounts SET balance = balance + $2 WHERE name = $1', [op.account, op.delta]);
    if (r.rowCount !== 1) return { vote: 'abort', reason: `no account ${op.account}` };
    await client.query('INSERT INTO transfer_legs (tx_id, participant, ordinal, account, delta) VALUES ($1, $2, $3, $4, $5)', [
      tx.txId,
      tx.participant,
      op.ordinal,
      op.account,
      op.delta,
    ]);
  }
  return undefined;
}

export interface AccountRow {
  readonly name: string;
  readonly balance: number;
}

export async function accounts(pool: Pool): Promise<AccountRow[]> {
  const r = await pool.query<{ name: string; balance: string }>('SELECT name, balance FROM accounts ORDER BY name');
  return r.rows.map((row) => ({ name: row.name, balance: Number(row.balance) }));
}

/** False when the account exists already. */
export async function openAccount(pool: Pool, name: string, balance: number): Promise<boolean> {
  const r = await pool.query('INSERT INTO accounts (name, balance) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, balance]);
  return r.rowCount === 1;
}

/** Transaction ids with legs in this database (committed transfers, as the data says). */
export async function committedTxIds(pool: Pool): Promise<Set<string>> {
  const r = await pool.query<{ tx_id: string }>('SELECT DISTINCT tx_id FROM transfer_legs');
  return new Set(r.rows.map((row) => row.tx_id));
}

function parseOps(payload: unknown): Op[] | null {
  const ops = (payload as { ops?: unknown } | null)?.ops;
  if (!Array.isArray(ops) || ops.length > OPS_MAX) return null;
  const out: Op[] = [];
  for (const op of ops as unknown[]) {
    const o = op as { account?: unknown; delta?: unknown } | null;
    if (typeof o?.account !== 'string' || o.account.length === 0 || typeof o.delta !== 'number' || !Number.isSafeInteger(o.delta))
      return null;
    out.push({ account: o.account, delta: o.delta });
  }
  return out;
}
