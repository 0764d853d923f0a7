// The PostgreSQL participant adapter's contract, against a real throwaway PostgreSQL
// (examples/postgres/local-postgres.ts): prepare/commit/abort through PREPARE
// TRANSACTION, duplicates, the database's reasons as abort votes, a restart with
// prepared transactions left over (cooperative termination, crash recovery,
// reconciliation), term fencing kept in PostgreSQL, the start-up check of
// max_prepared_transactions, and the store contract every ParticipantStore passes.
// Skips where PostgreSQL is not installed (fails under CI=true).
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startLocalPostgres, type LocalPostgres } from '../../examples/postgres/local-postgres.js';
import {
  createPostgresParticipant,
  PostgresParticipantStore,
  type PostgresParticipant,
  type PostgresParticipantOptions,
} from '../../src/sdk/participant/postgres.js';
import { createTables } from '../../src/sdk/participant/postgres/schema.js';
import { recordKey } from '../../src/sdk/participant/record.js';
import type { ParticipantTx } from '../../src/sdk/participant/types.js';
import { describePostgres, postgresAvailability } from '../helpers/postgres.js';
import { startFakeCoordinator } from './fake-coordinator.js';
import { ManualClock, quiet } from './helpers.js';
import { participantStoreContract } from './store-contract.js';

const DB = 'contract';
const SCHEMA = 'ratify_participant';
let server: LocalPostgres | null = null;
let pool: pg.Pool;
const open: PostgresParticipant[] = [];
let prefixes = 0;

interface Op {
  readonly account: string;
  readonly delta: number;
}

/** The bank's work: apply each op; an unknown account votes abort; the CHECK does the rest. */
const work = async (client: pg.PoolClient, tx: ParticipantTx): Promise<{ vote: 'abort'; reason: string } | undefined> => {
  for (const op of (tx.payload as { ops: Op[] }).ops) {
    const r = await client.query('UPDATE accounts SET balance = balance + $2 WHERE name = $1', [op.account, op.delta]);
    if (r.rowCount !== 1) return { vote: 'abort', reason: `no account ${op.account}` };
  }
  return undefined;
};

beforeAll(async () => {
  if (!postgresAvailability.ok) return;
  server = await startLocalPostgres();
  await server.createDatabase(DB);
  pool = new pg.Pool({ ...server.config(DB), max: 8 });
  pool.on('error', () => undefined);
  await pool.query('CREATE TABLE accounts (name text PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0))');
  await createTables(pool, SCHEMA);
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  await pool?.end();
  await server?.stop();
});

function participant(o: Partial<PostgresParticipantOptions> & { gidPrefix: string }): PostgresParticipant {
  const p = createPostgresParticipant({
    name: 'bank',
    pool,
    work,
    logger: quiet,
    lockTimeoutMs: 500,
    reconcileIntervalMs: 3_600_000,
    ...o,
  });
  open.push(p);
  return p;
}

function freshPrefix(): string {
  return `t${++prefixes}`;
}

async function account(balance: number): Promise<string> {
  const name = `acct-${randomUUID()}`;
  await pool.query('INSERT INTO accounts (name, balance) VALUES ($1, $2)', [name, balance]);
  return name;
}

async function balance(name: string): Promise<number> {
  return Number((await pool.query<{ balance: string }>('SELECT balance FROM accounts WHERE name = $1', [name])).rows[0]?.balance);
}

async function preparedGids(prefix: string): Promise<string[]> {
  return (await pool.query<{ gid: string }>('SELECT gid FROM pg_prepared_xacts WHERE left(gid, length($1)) = $1', [`${prefix}:`])).rows.map(
    (r) => r.gid,
  );
}

const prepareBody = (txId: string, ops: readonly Op[], term = 1): object => ({
  txId,
  participant: 'bank',
  payload: { ops },
  protocol: '2pc',
  term,
});
const callBody = (txId: string, term = 1): object => ({ txId, participant: 'bank', term });

/** PREPARE TRANSACTION by hand, as a crashed adapter would have left it (work, marker, prepare). */
async function prepareByHand(gid: string, txId: string, acct: string, delta: number): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('UPDATE accounts SET balance = balance + $2 WHERE name = $1', [acct, delta]);
    await c.query('INSERT INTO ratify_participant.commit_markers (gid, tx_id, participant) VALUES ($1, $2, $3)', [gid, txId, 'bank']);
    await c.query(`PREPARE TRANSACTION '${gid}'`);
  } finally {
    c.release();
  }
}

describePostgres('PostgreSQL participant adapter', () => {
  it('prepare holds the work in a prepared transaction; commit makes it visible', async () => {
    const prefix = freshPrefix();
    const p = participant({ gidPrefix: prefix });
    await p.start();
    const acct = await account(100);
    const txId = randomUUID();
    expect(await p.handle('prepare', prepareBody(txId, [{ account: acct, delta: -30 }]))).toEqual({
      status: 200,
      body: { vote: 'commit' },
    });
    expect(await preparedGids(prefix)).toEqual([`${prefix}:bank:${txId}`]);
    expect(await balance(acct)).toBe(100);
    expect(await p.handle('commit', callBody(txId))).toEqual({ status: 200, body: { ok: true, state: 'committed' } });
    expect(await balance(acct)).toBe(70);
    expect(await preparedGids(prefix)).toEqual([]);
  });

  it('declines batch calls, so that no prepare waits on a lock held by its own batch', async () => {
    const p = participant({ gidPrefix: freshPrefix() });
    await p.start();
    const batch = { term: 1, calls: [{ call: 'prepare', body: prepareBody(randomUUID(), []) }] };
    expect(await p.handleBatch(batch)).toMatchObject({ status: 404, body: { error: { code: 'ROUTE_NOT_FOUND' } } });
  });

  it('abort rolls the prepared transaction back', async () => {
    const prefix = freshPrefix();
    const p = participant({ gidPrefix: prefix });
    await p.start();
    const acct = await account(100);
    const txId = randomUUID();
    await p.handle('prepare', prepareBody(txId, [{ account: acct, delta: -30 }]));
    expect(await p.handle('abort', callBody(txId))).toEqual({ status: 200, body: { ok: true, state: 'aborted' } });
    expect(await balance(acct)).toBe(100);
    expect(await preparedGids(prefix)).toEqual([]);
  });

  it('answers duplicates from its record: one PREPARE, one COMMIT PREPARED', async () => {
    const prefix = freshPrefix();
    let works = 0;
    const p = participant({ gidPrefix: prefix, work: async (c, tx) => (works++, work(c, tx)) });
    await p.start();
    const acct = await account(100);
    const txId = randomUUID();
    const body = prepareBody(txId, [{ account: acct, delta: 10 }]);
    const votes = await Promise.all([p.handle('prepare', body), p.handle('prepare', body), p.handle('prepare', body)]);
    expect(votes.map((v) => v.body)).toEqual([{ vote: 'commit' }, { vote: 'commit' }, { vote: 'commit' }]);
    expect(works).toBe(1);
    for (let i = 0; i < 3; i++) expect((await p.handle('commit', callBody(txId))).status).toBe(200);
    expect((await p.handle('prepare', body)).body).toEqual({ vote: 'commit' });
    expect(works).toBe(1);
    expect(await balance(acct)).toBe(110);
    expect((await p.handle('abort', callBody(txId))).body).toMatchObject({ error: { code: 'TX_ALREADY_COMMITTED' } });
  });

  it('treats a gid already committed as committed, and one rolled back outside Ratify as HEURISTIC_OUTCOME', async () => {
    const prefix = freshPrefix();
    const p = participant({ gidPrefix: prefix });
    await p.start();
    const acct = await account(100);
    // Crash between COMMIT PREPARED and the record: the record says prepared, the gid is gone.
    const done = randomUUID();
    await p.handle('prepare', prepareBody(done, [{ account: acct, delta: 5 }]));
    await pool.query(`COMMIT PREPARED '${p.gidOf(done, 'bank')}'`);
    expect(await p.handle('commit', callBody(done))).toEqual({ status: 200, body: { ok: true, state: 'committed' } });
    expect(await balance(acct)).toBe(105);
    // An operator rolled back what the cluster decided to commit: refused loudly, every time.
    const lost = randomUUID();
    await p.handle('prepare', prepareBody(lost, [{ account: acct, delta: 7 }]));
    await pool.query(`ROLLBACK PREPARED '${p.gidOf(lost, 'bank')}'`);
    for (let i = 0; i < 2; i++) {
      const r = await p.handle('commit', callBody(lost));
      expect(r.status).toBe(500);
      expect(r.body).toMatchObject({ error: { code: 'HEURISTIC_OUTCOME' } });
    }
    // And the other way: committed outside, then told to abort.
    const forced = randomUUID();
    await p.handle('prepare', prepareBody(forced, [{ account: acct, delta: 1 }]));
    await pool.query(`COMMIT PREPARED '${p.gidOf(forced, 'bank')}'`);
    expect((await p.handle('abort', callBody(forced))).body).toMatchObject({ error: { code: 'HEURISTIC_OUTCOME' } });
  });

  it('votes abort on a CHECK violation with the database reason, and leaves nothing prepared', async () => {
    const prefix = freshPrefix();
    const p = participant({ gidPrefix: prefix });
    await p.start();
    const acct = await account(10);
    const txId = randomUUID();
    const r = await p.handle('prepare', prepareBody(txId, [{ account: acct, delta: -11 }]));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ vote: 'abort' });
    expect((r.body as { reason: string }).reason).toMatch(
      /^postgres 23514 \(constraint accounts_balance_check\): new row for relation "accounts" violates check constraint/,
    );
    expect(await preparedGids(prefix)).toEqual([]);
    expect(await balance(acct)).toBe(10);
    // The abort that follows is acknowledged without any prepared transaction to roll back.
    expect((await p.handle('abort', callBody(txId))).status).toBe(200);
    const unknown = await p.handle('prepare', prepareBody(randomUUID(), [{ account: 'nobody', delta: 1 }]));
    expect(unknown.body).toEqual({ vote: 'abort', reason: 'no account nobody' });
  });

  it('votes abort on a lock timeout: a row held by another prepared transaction', async () => {
    const prefix = freshPrefix();
    const p = participant({ gidPrefix: prefix, lockTimeoutMs: 200 });
    await p.start();
    const acct = await account(100);
    const first = randomUUID();
    expect((await p.handle('prepare', prepareBody(first, [{ account: acct, delta: 1 }]))).body).toEqual({ vote: 'commit' });
    const second = await p.handle('prepare', prepareBody(randomUUID(), [{ account: acct, delta: 1 }]));
    expect(second.body).toMatchObject({ vote: 'abort', reason: expect.stringMatching(/^postgres 55P03: .*lock timeout/) });
    await p.handle('commit', callBody(first));
    expect(await balance(acct)).toBe(101);
    expect(await preparedGids(prefix)).toEqual([]);
  });

  it('votes abort on a serialization failure (repeatable read)', async () => {
    const prefix = freshPrefix();
    const acct = await account(100);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const p = participant({
      gidPrefix: prefix,
      isolationLevel: 'repeatable read',
      work: async (c, tx) => {
        await c.query('SELECT balance FROM accounts WHERE name = $1', [acct]); // takes the snapshot
        await gate;
        return work(c, tx);
      },
    });
    await p.start();
    const pending = p.handle('prepare', prepareBody(randomUUID(), [{ account: acct, delta: 1 }]));
    await new Promise((r) => setTimeout(r, 200));
    await pool.query('UPDATE accounts SET balance = balance + 5 WHERE name = $1', [acct]); // commits after the snapshot
    release();
    expect((await pending).body).toMatchObject({
      vote: 'abort',
      reason: expect.stringMatching(/^postgres 40001: could not serialize access/),
    });
    expect(await preparedGids(prefix)).toEqual([]);
  });

  it('never prepares a transaction that failed inside the work', async () => {
    const prefix = freshPrefix();
    const acct = await account(100);
    const p = participant({
      gidPrefix: prefix,
      work: async (c) => {
        await c.query('UPDATE accounts SET balance = balance + 1 WHERE name = $1', [acct]);
        await c.query('SELECT 1 / 0').catch(() => undefined); // swallowed: the transaction is failed now
      },
    });
    await p.start();
    const r = await p.handle('prepare', prepareBody(randomUUID(), []));
    expect(r.body).toMatchObject({ vote: 'abort', reason: expect.stringMatching(/^postgres 25P02/) });
    expect(await preparedGids(prefix)).toEqual([]);
    expect(await balance(acct)).toBe(100);
  });

  it('after a restart, resolves prepared transactions left over through cooperative termination', async () => {
    const prefix = freshPrefix();
    const fake = await startFakeCoordinator();
    try {
      const clock = new ManualClock();
      const opts = { gidPrefix: prefix, coordinatorUrls: [fake.url], resolveAfterMs: 1_000, now: clock.now };
      const first = participant(opts);
      await first.start();
      // One account each: a prepared transaction holds its row lock until it is finished.
      const [a, b, c] = [await account(100), await account(100), await account(100)];
      const [toCommit, toAbort, undecided] = [randomUUID(), randomUUID(), randomUUID()];
      for (const [id, acct] of [
        [toCommit, a],
        [toAbort, b],
        [undecided, c],
      ] as const) {
        expect((await first.handle('prepare', prepareBody(id, [{ account: acct, delta: -10 }]))).body).toEqual({ vote: 'commit' });
      }
      // The process dies: nothing finishes its prepared transactions.
      await first.close();
      expect((await preparedGids(prefix)).sort()).toEqual([toCommit, toAbort, undecided].map((id) => `${prefix}:bank:${id}`).sort());
      fake.txs.set(toCommit, { outcome: 'committed', state: 'committed' });
      fake.txs.set(toAbort, { outcome: 'aborted', state: 'aborted' });
      fake.txs.set(undecided, { outcome: null, state: 'preparing' });
      const second = participant(opts);
      await second.start();
      expect(second.inDoubtCount()).toBe(3);
      expect(await second.reconcile()).toMatchObject({ prepared: 3, inDoubt: 3, rolledBack: 0, committed: 0, orphaned: [] });
      clock.advance(1_000);
      expect(await second.resolvePending()).toMatchObject({ committed: 1, aborted: 1, waiting: 1 });
      expect([await balance(a), await balance(b), await balance(c)]).toEqual([90, 100, 100]);
      expect(await preparedGids(prefix)).toEqual([`${prefix}:bank:${undecided}`]);
      fake.txs.set(undecided, { outcome: 'committed', state: 'committing' });
      clock.advance(1_000);
      expect(await second.resolvePending()).toMatchObject({ committed: 1 });
      expect(await balance(c)).toBe(90);
      expect(await preparedGids(prefix)).toEqual([]);
      expect(fake.seen.filter((u) => u.startsWith('/v1/transactions/'))).toHaveLength(4);
    } finally {
      await fake.close();
    }
  });

  it('rolls back at restart a PREPARE whose process died before it recorded the vote', async () => {
    const prefix = freshPrefix();
    const acct = await account(100);
    const txId = randomUUID();
    // What a crash right after PREPARE TRANSACTION leaves: a `preparing` record and the prepared transaction.
    const store = new PostgresParticipantStore(pool, { gidPrefix: prefix, schema: SCHEMA });
    await store.open();
    await store.write({
      records: [
        {
          txId,
          participant: 'bank',
          state: 'preparing',
          protocol: '2pc',
          payload: { ops: [] },
          vote: null,
          reason: null,
          preparedTerm: 1,
          updatedAtMs: 1,
        },
      ],
      highestTerm: 1,
    });
    await prepareByHand(`${prefix}:bank:${txId}`, txId, acct, -50);
    const p = participant({ gidPrefix: prefix });
    await p.start();
    expect(await p.resolvePending()).toMatchObject({ aborted: 1 });
    expect(await preparedGids(prefix)).toEqual([]);
    expect(await balance(acct)).toBe(100);
    // The coordinator's retried prepare learns the abort.
    expect((await p.handle('prepare', prepareBody(txId, []))).body).toEqual({
      vote: 'abort',
      reason: 'participant restarted during prepare',
    });
  });

  it('reconciliation rolls back a PREPARE that landed after its record was aborted, and reports a gid without a record', async () => {
    const prefix = freshPrefix();
    const p = participant({ gidPrefix: prefix });
    await p.start();
    const acct = await account(100);
    const late = randomUUID();
    // The coordinator aborted first (the record says aborted), then a PREPARE from a lost connection landed.
    expect((await p.handle('abort', callBody(late))).status).toBe(200);
    await prepareByHand(p.gidOf(late, 'bank'), late, acct, -20);
    const orphan = randomUUID();
    await prepareByHand(p.gidOf(orphan, 'bank'), orphan, await account(1), 1);
    expect(await p.reconcile()).toMatchObject({ prepared: 2, rolledBack: 1, orphaned: [p.gidOf(orphan, 'bank')] });
    expect(await preparedGids(prefix)).toEqual([p.gidOf(orphan, 'bank')]);
    expect(await balance(acct)).toBe(100);
    await pool.query(`ROLLBACK PREPARED '${p.gidOf(orphan, 'bank')}'`);
  });

  it('keeps the highest term in PostgreSQL: a restarted participant still fences a deposed leader', async () => {
    const prefix = freshPrefix();
    const first = participant({ gidPrefix: prefix });
    await first.start();
    expect((await first.handle('abort', callBody(randomUUID(), 5))).status).toBe(200);
    await first.close();
    const second = participant({ gidPrefix: prefix });
    await second.start();
    expect(second.highestTerm()).toBe(5);
    const stale = await second.handle('prepare', prepareBody(randomUUID(), [], 4));
    expect(stale).toMatchObject({ status: 409, body: { error: { code: 'STALE_TERM', highestTerm: 5 } } });
    // Another store (prefix) in the same database keeps its own term.
    const other = participant({ gidPrefix: freshPrefix() });
    await other.start();
    expect(other.highestTerm()).toBe(0);
  });

  it('refuses to start where max_prepared_transactions is 0, naming the setting', async () => {
    const disabled = await startLocalPostgres({ maxPreparedTransactions: 0 });
    const p0 = new pg.Pool(disabled.config('postgres'));
    // The server is stopped below; a connection it terminates must not surface as an uncaught error.
    p0.on('error', () => undefined);
    try {
      const p = createPostgresParticipant({ name: 'bank', pool: p0, work, logger: quiet });
      await expect(p.start()).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        message: expect.stringMatching(/max_prepared_transactions \(0\) on database postgres must be greater than 0/),
      });
      await p.close();
    } finally {
      await p0.end();
      await disabled.stop();
    }
  });

  it('refuses options out of range, naming the value and the limit', () => {
    expect(() => createPostgresParticipant({ pool, work, gidPrefix: 'Bad Prefix' })).toThrow(/gidPrefix \("Bad Prefix"\) must match/);
    expect(() => createPostgresParticipant({ pool, work, lockTimeoutMs: -1 })).toThrow(/lockTimeoutMs \(-1\) must be between 0 and 600000/);
    expect(() => createPostgresParticipant({ pool, work, schema: 'x; drop' })).toThrow(/schema/);
  });

  participantStoreContract('postgres', async (fn) => {
    const gidPrefix = freshPrefix();
    await fn(() => new PostgresParticipantStore(pool, { gidPrefix, schema: SCHEMA }));
  });

  it('store: keeps a record for a gid still prepared when pruning', async () => {
    const prefix = freshPrefix();
    const store = new PostgresParticipantStore(pool, { gidPrefix: prefix, schema: SCHEMA });
    await store.open();
    const txId = randomUUID();
    await store.write({
      records: [
        {
          txId,
          participant: 'bank',
          state: 'aborted',
          protocol: null,
          payload: undefined,
          vote: null,
          reason: 'x',
          preparedTerm: null,
          updatedAtMs: 5,
        },
      ],
    });
    await prepareByHand(`${prefix}:bank:${txId}`, txId, await account(1), 1);
    await store.write({ prune: await store.finishedBefore(10, 10) });
    expect((await store.get(recordKey(txId, 'bank')))?.state).toBe('aborted');
    await pool.query(`ROLLBACK PREPARED '${prefix}:bank:${txId}'`);
    await store.write({ prune: await store.finishedBefore(10, 10) });
    expect(await store.get(recordKey(txId, 'bank'))).toBeUndefined();
  });
});
