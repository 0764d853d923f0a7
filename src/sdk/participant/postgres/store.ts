// ParticipantStore in PostgreSQL: the SDK's records and highest term live in the same
// database as the prepared transactions they describe, so the participant process keeps
// nothing on its own disk, and a restart (or a new host) loses nothing.
//
// Held to the same contract as the LevelDB and in-memory stores
// (test/sdk/store-contract.ts). Records go through the SDK's codec (record.ts): asserted
// before they are written, checked again when read back.
//
// Durability: every write is one statement or one transaction, answered after
// PostgreSQL's COMMIT, so it is as durable as the server's settings make a commit
// (fsync = on and synchronous_commit = on in production; the defaults).
import type { Pool } from 'pg';
import { RatifyError } from '../../../errors.js';
import { decodeRecord, encodeRecord, isTerm, recordKey } from '../record.js';
import type { FenceEntry } from '../fence.js';
import type { FinishedRef, LoadedState, ParticipantStore, StoreWrite } from '../store.js';
import { isInDoubt, type ParticipantTxRecord } from '../types.js';
import { gidOf } from './gid.js';
import { checkServerSettings, createTables, tablesOf, type Tables } from './schema.js';

export interface PostgresStoreOptions {
  /** The gid prefix; also the store's name in the shared tables. */
  readonly gidPrefix: string;
  readonly schema: string;
}

interface RecordRow {
  readonly key: string;
  readonly gid: string;
  readonly inDoubt: boolean;
  readonly updatedAtMs: number;
  readonly record: unknown;
}

export class PostgresParticipantStore implements ParticipantStore {
  readonly tables: Tables;
  private isOpen = false;
  /** Learned at open; the adapter uses it to bound transactions in doubt. */
  maxPreparedTransactions = 0;

  constructor(
    private readonly pool: Pool,
    private readonly o: PostgresStoreOptions,
  ) {
    this.tables = tablesOf(o.schema);
  }

  async open(): Promise<LoadedState> {
    this.maxPreparedTransactions = (await checkServerSettings(this.pool)).maxPreparedTransactions;
    await createTables(this.pool, this.o.schema);
    // The legacy fence under the store's name, a cluster incarnation's under "<name>@<scope>"
    // (no '@' in a gid prefix, so names never collide): the table of older versions, unchanged.
    const terms = await this.pool.query<{ store: string; highest_term: string }>(
      `SELECT store, highest_term FROM ${this.tables.terms} WHERE store = $1 OR starts_with(store, $1 || '@')`,
      [this.o.gidPrefix],
    );
    let highestTerm = 0;
    const fences: FenceEntry[] = [];
    for (const row of terms.rows) {
      const term = Number(row.highest_term);
      if (!isTerm(term))
        throw new RatifyError('DATA_CORRUPT', `${this.tables.terms} holds ${String(row.highest_term)} for ${row.store}, not a term`);
      if (row.store === this.o.gidPrefix) highestTerm = term;
      else fences.push({ scope: row.store.slice(this.o.gidPrefix.length + 1), term });
    }
    const rows = await this.pool.query<{ key: string; record: unknown }>(
      `SELECT key, record FROM ${this.tables.records} WHERE store = $1 AND in_doubt`,
      [this.o.gidPrefix],
    );
    const inDoubt = rows.rows.map((r) => decodeRecord(r.record, r.key));
    const notInDoubt = inDoubt.find((r) => !isInDoubt(r.state));
    if (notInDoubt !== undefined)
      throw new RatifyError(
        'DATA_CORRUPT',
        `${this.tables.records}: ${recordKey(notInDoubt.txId, notInDoubt.participant)} is marked in doubt but is ${notInDoubt.state}`,
      );
    this.isOpen = true;
    return { highestTerm, fences, inDoubt };
  }

  async get(key: string): Promise<ParticipantTxRecord | undefined> {
    this.assertOpen();
    const r = await this.pool.query<{ record: unknown }>(`SELECT record FROM ${this.tables.records} WHERE store = $1 AND key = $2`, [
      this.o.gidPrefix,
      key,
    ]);
    const row = r.rows[0];
    return row === undefined ? undefined : decodeRecord(row.record, key);
  }

  /** The record whose prepared transaction has this gid (the reconciler's way from pg_prepared_xacts to records). */
  async byGids(gids: readonly string[]): Promise<Map<string, ParticipantTxRecord>> {
    this.assertOpen();
    const r = await this.pool.query<{ gid: string; key: string; record: unknown }>(
      `SELECT gid, key, record FROM ${this.tables.records} WHERE gid = ANY($1::text[])`,
      [gids],
    );
    return new Map(r.rows.map((row) => [row.gid, decodeRecord(row.record, row.key)]));
  }

  async write(w: StoreWrite): Promise<void> {
    this.assertOpen();
    // Encoded (and asserted) before anything is sent, so a bad record fails the whole write.
    const rows = dedupe((w.records ?? []).map((r) => this.row(r)));
    if ((w.prune ?? []).length === 0) {
      await this.upsert(this.pool, rows, this.terms(w));
      return;
    }
    const client = await this.pool.connect();
    let failed: unknown;
    try {
      await client.query('BEGIN');
      await this.upsert(client, rows, this.terms(w));
      await this.prune(client, w.prune ?? []);
      await client.query('COMMIT');
    } catch (e) {
      failed = e;
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release(failed !== undefined);
    }
  }

  async finishedBefore(cutoffMs: number, limit: number): Promise<FinishedRef[]> {
    this.assertOpen();
    const r = await this.pool.query<{ key: string; updated_at_ms: string }>(
      `SELECT key, updated_at_ms FROM ${this.tables.records} WHERE store = $1 AND NOT in_doubt AND updated_at_ms < $2 ORDER BY updated_at_ms, key LIMIT $3`,
      [this.o.gidPrefix, Math.max(0, Math.floor(cutoffMs)), limit],
    );
    return r.rows.map((row) => ({ key: row.key, finishedAtMs: Number(row.updated_at_ms) }));
  }

  /** The pool is the caller's: closing the store only stops its use. */
  async close(): Promise<void> {
    this.isOpen = false;
  }

  private row(r: ParticipantTxRecord): RecordRow {
    return {
      key: recordKey(r.txId, r.participant),
      gid: gidOf(this.o.gidPrefix, r.txId, r.participant),
      inDoubt: isInDoubt(r.state),
      updatedAtMs: r.updatedAtMs,
      record: encodeRecord(r),
    };
  }

  /** The terms of a write as rows of the terms table (see open). */
  private terms(w: StoreWrite): Array<{ store: string; term: number }> {
    const out = (w.fences ?? []).map((f) => ({ store: `${this.o.gidPrefix}@${f.scope}`, term: f.term }));
    if (w.highestTerm !== undefined) out.push({ store: this.o.gidPrefix, term: w.highestTerm });
    return out;
  }

  /** Records and the terms in one statement (so one implicit transaction, one commit). */
  private async upsert(
    db: Pick<Pool, 'query'>,
    rows: readonly RecordRow[],
    terms: ReadonlyArray<{ store: string; term: number }>,
  ): Promise<void> {
    if (rows.length === 0 && terms.length === 0) return;
    await db.query(
      `WITH recs AS (
         INSERT INTO ${this.tables.records} (store, key, gid, in_doubt, updated_at_ms, record)
         SELECT $1, e->>'key', e->>'gid', (e->>'inDoubt')::boolean, (e->>'updatedAtMs')::bigint, e->'record' FROM jsonb_array_elements($2::jsonb) AS e
         ON CONFLICT (store, key) DO UPDATE SET gid = EXCLUDED.gid, in_doubt = EXCLUDED.in_doubt, updated_at_ms = EXCLUDED.updated_at_ms, record = EXCLUDED.record
         RETURNING 1
       ), term AS (
         INSERT INTO ${this.tables.terms} (store, highest_term) SELECT e->>'store', (e->>'term')::bigint FROM jsonb_array_elements($3::jsonb) AS e
         ON CONFLICT (store) DO UPDATE SET highest_term = GREATEST(${this.tables.terms}.highest_term, EXCLUDED.highest_term)
         RETURNING 1
       ) SELECT (SELECT count(*) FROM recs) AS records, (SELECT count(*) FROM term) AS terms`,
      [this.o.gidPrefix, JSON.stringify(rows), JSON.stringify(terms)],
    );
  }

  /**
   * Forgets finished records, and the commit markers of their gids with them. A record
   * whose gid is still prepared (a late PREPARE the reconciler has not rolled back yet)
   * is kept: it is what tells the reconciler which way to finish it.
   */
  private async prune(db: Pick<Pool, 'query'>, refs: readonly FinishedRef[]): Promise<void> {
    await db.query(
      `WITH doomed AS (
         SELECT e->>'key' AS key, (e->>'finishedAtMs')::bigint AS ms FROM jsonb_array_elements($2::jsonb) AS e
       ), gone AS (
         DELETE FROM ${this.tables.records} r USING doomed d
         WHERE r.store = $1 AND r.key = d.key AND r.updated_at_ms = d.ms AND NOT r.in_doubt
           AND NOT EXISTS (SELECT 1 FROM pg_prepared_xacts p WHERE p.gid = r.gid)
         RETURNING r.gid
       ) DELETE FROM ${this.tables.markers} m USING gone WHERE m.gid = gone.gid`,
      [this.o.gidPrefix, JSON.stringify(refs)],
    );
  }

  private assertOpen(): void {
    if (!this.isOpen) throw new RatifyError('SHUTTING_DOWN', 'participant store is closed');
  }
}

/** The last write of a key wins, as in a LevelDB batch (one INSERT ... ON CONFLICT may not touch a row twice). */
function dedupe(rows: readonly RecordRow[]): RecordRow[] {
  return [...new Map(rows.map((r) => [r.key, r])).values()];
}
