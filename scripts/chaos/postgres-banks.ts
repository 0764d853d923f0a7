// `--participants postgres`: the banks are two databases of one throwaway PostgreSQL
// server (examples/postgres/local-postgres.ts), each served by a pg-bank-service process
// (examples/postgres/pg-bank-service.ts) through the PostgreSQL participant adapter.
//
// The evidence is read from the databases themselves, not from what the services say:
// a transaction is `committed` at a bank when its legs are in that database's
// transfer_legs (its PREPARE TRANSACTION was committed), `prepared` while its gid is in
// pg_prepared_xacts, and otherwise what the adapter's record says (aborted, or still in
// doubt). So the runner's invariants (atomicity, API outcomes match, nothing in doubt)
// check exactly "every transfer reported committed is in both databases, every one
// reported aborted in neither, nothing left prepared".
import { join } from 'node:path';
import pg from 'pg';
import { startLocalPostgres, type LocalPostgres } from '../../examples/postgres/local-postgres.js';
import { committedTxIds, createBankTables } from '../../examples/postgres/pg-bank.js';
import type { ParticipantRecord, ParticipantState } from './evidence.js';
import { pollUntil } from './http.js';

/** How long the final read waits for a late PREPARE to be rolled back by the service's reconciler. */
const PREPARED_DRAIN_MS = 30_000;
/** The services reconcile pg_prepared_xacts this often (the adapter's default is 5 s). */
export const RECONCILE_INTERVAL_MS = 1_000;

export class PostgresBanks {
  private constructor(
    private readonly server: LocalPostgres,
    private readonly databases: ReadonlyMap<string, string>,
  ) {}

  static async start(names: readonly string[], logDir: string): Promise<PostgresBanks> {
    const server = await startLocalPostgres({ logFile: join(logDir, 'postgres.log') });
    try {
      const databases = new Map(names.map((n) => [n, n.replace(/[^a-z0-9]/g, '_')]));
      for (const db of databases.values()) {
        await server.createDatabase(db);
        await withPool(server, db, createBankTables);
      }
      return new PostgresBanks(server, databases);
    } catch (e) {
      await server.stop();
      throw e;
    }
  }

  /** The pg-bank-service arguments after its path, for one bank. */
  serviceArgs(name: string, port: number, coordinators: string): string[] {
    return [
      '--name',
      name,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--database',
      this.server.url(this.database(name)),
      '--coordinators',
      coordinators,
      '--reconcile-interval-ms',
      String(RECONCILE_INTERVAL_MS),
    ];
  }

  /** The password travels in the environment, not on a command line. */
  serviceEnv(): Record<string, string> {
    return { PGPASSWORD: this.server.password };
  }

  logsHint(): string {
    return `PostgreSQL pid ${this.server.pid} on 127.0.0.1:${this.server.port}`;
  }

  /** This run's records of one bank, read from its database (see the top of this file). */
  async records(name: string, sinceMs: number): Promise<ParticipantRecord[]> {
    const db = this.database(name);
    return withPool(this.server, db, async (pool) => {
      // A PREPARE that landed late is rolled back by the service's reconciler; give it time.
      await pollUntil(PREPARED_DRAIN_MS, async () => ((await preparedTxIds(pool)).size === 0 ? true : undefined), 250);
      const prepared = await preparedTxIds(pool);
      const committed = await committedTxIds(pool);
      const r = await pool.query<{ tx_id: string; state: ParticipantState }>(
        "SELECT record->>'txId' AS tx_id, record->>'state' AS state FROM ratify_participant.records WHERE updated_at_ms >= $1",
        [sinceMs],
      );
      const out = new Map<string, ParticipantState>();
      for (const row of r.rows) out.set(row.tx_id, row.state === 'committed' ? 'aborted' : row.state); // committed only where the data is
      for (const id of committed) out.set(id, 'committed');
      for (const id of prepared) out.set(id, 'prepared');
      return [...out].map(([txId, state]) => ({ txId, state }));
    });
  }

  async stop(): Promise<void> {
    await this.server.stop();
  }

  private database(name: string): string {
    const db = this.databases.get(name);
    if (db === undefined) throw new Error(`no PostgreSQL bank ${name}`);
    return db;
  }
}

/** Transaction ids of this database's prepared transactions (through the adapter's records, which know each gid). */
async function preparedTxIds(pool: pg.Pool): Promise<Set<string>> {
  const r = await pool.query<{ tx_id: string | null; gid: string }>(
    "SELECT p.gid, r.record->>'txId' AS tx_id FROM pg_prepared_xacts p LEFT JOIN ratify_participant.records r ON r.gid = p.gid WHERE p.database = current_database()",
  );
  return new Set(r.rows.map((row) => row.tx_id ?? `unknown transaction of gid ${row.gid}`));
}

async function withPool<T>(server: LocalPostgres, db: string, fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const pool = new pg.Pool({ ...server.config(db), max: 2 });
  pool.on('error', () => undefined);
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}
