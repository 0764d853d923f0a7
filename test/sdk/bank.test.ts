// The example bank as a participant, driven by a minimal in-test coordinator
// through inject(): holds, votes, outcomes and conservation of money.
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildBank } from '../../examples/bank/bank-service.js';
import { Ledger } from '../../examples/bank/ledger.js';
import type { LedgerTxRecord } from '../../examples/bank/ledger-records.js';
import { transferParticipants, type BankRef } from '../../examples/bank/transfer.js';
import { quiet, withTempDir } from './helpers.js';

interface Accounts {
  accounts: { name: string; balance: number; held: number }[];
  total: number;
}

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function bank(name: string, dir: string, seed: Record<string, number>, transactionsRetainMax?: number): Promise<FastifyInstance> {
  const { app } = await buildBank({
    name,
    dataDir: `${dir}/${name}`,
    logger: quiet as never,
    ...(transactionsRetainMax !== undefined && { transactionsRetainMax }),
  });
  apps.push(app);
  await app.ready();
  for (const [account, balance] of Object.entries(seed)) {
    const res = await app.inject({ method: 'POST', url: '/accounts', payload: { name: account, balance } });
    expect(res.statusCode).toBe(201);
  }
  return app;
}

interface TxList {
  bank: string;
  participantInDoubt: number;
  transactions: LedgerTxRecord[];
  nextCursor: string | null;
}

async function txList(app: FastifyInstance, qs = ''): Promise<TxList> {
  const res = await app.inject({ method: 'GET', url: `/transactions${qs}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<TxList>();
}

/** Every record, following nextCursor with small pages. */
async function allRecords(app: FastifyInstance, filter = ''): Promise<LedgerTxRecord[]> {
  const out: LedgerTxRecord[] = [];
  let cursor: string | null = null;
  do {
    const page: TxList = await txList(app, `?limit=7${filter}${cursor === null ? '' : `&cursor=${cursor}`}`);
    out.push(...page.transactions);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return out;
}

async function accounts(app: FastifyInstance): Promise<Accounts> {
  return (await app.inject({ method: 'GET', url: '/accounts' })).json<Accounts>();
}

/** A tiny 2PC coordinator over inject(): prepare everyone, then commit or abort everyone. */
async function transfer(
  byName: Map<string, FastifyInstance>,
  txId: string,
  participants: { name: string; payload?: unknown }[],
): Promise<'committed' | 'aborted'> {
  const call = (p: { name: string }, path: string, extra: object = {}) =>
    byName.get(p.name)!.inject({ method: 'POST', url: `/ratify/${path}`, payload: { txId, participant: p.name, term: 1, ...extra } });
  const votes = await Promise.all(participants.map((p) => call(p, 'prepare', { protocol: '2pc', payload: p.payload })));
  const commit = votes.every((v) => v.json<{ vote: string }>().vote === 'commit');
  await Promise.all(participants.map((p) => call(p, commit ? 'commit' : 'abort')));
  return commit ? 'committed' : 'aborted';
}

const ref = (name: string): BankRef => ({ name, participantUrl: `http://unused/${name}` });

describe('bank example as a participant', () => {
  it('holds on prepare, applies on commit, releases on abort, and votes abort on insufficient funds', async () => {
    await withTempDir(async (dir) => {
      const a = await bank('bank-a', dir, { alice: 100 });
      const b = await bank('bank-b', dir, { bob: 0 });
      const byName = new Map([
        ['bank-a', a],
        ['bank-b', b],
      ]);
      const prep = await a.inject({
        method: 'POST',
        url: '/ratify/prepare',
        payload: { txId: 't1', participant: 'bank-a', term: 1, protocol: '2pc', payload: { ops: [{ account: 'alice', delta: -60 }] } },
      });
      expect(prep.json()).toEqual({ vote: 'commit' });
      expect((await accounts(a)).accounts).toEqual([{ name: 'alice', balance: 100, held: 60 }]);
      const short = await a.inject({
        method: 'POST',
        url: '/ratify/prepare',
        payload: { txId: 't2', participant: 'bank-a', term: 1, protocol: '2pc', payload: { ops: [{ account: 'alice', delta: -50 }] } },
      });
      expect(short.json()).toMatchObject({ vote: 'abort', reason: expect.stringContaining('insufficient funds in alice') });
      await a.inject({ method: 'POST', url: '/ratify/abort', payload: { txId: 't1', participant: 'bank-a', term: 1 } });
      expect((await accounts(a)).accounts).toEqual([{ name: 'alice', balance: 100, held: 0 }]);
      const outcome = await transfer(
        byName,
        't3',
        transferParticipants({ bank: ref('bank-a'), account: 'alice' }, { bank: ref('bank-b'), account: 'bob' }, 70),
      );
      expect(outcome).toBe('committed');
      expect((await accounts(a)).accounts).toEqual([{ name: 'alice', balance: 30, held: 0 }]);
      expect((await accounts(b)).accounts).toEqual([{ name: 'bob', balance: 70, held: 0 }]);
      const unknown = await transfer(
        byName,
        't4',
        transferParticipants({ bank: ref('bank-a'), account: 'alice' }, { bank: ref('bank-b'), account: 'zed' }, 1),
      );
      expect(unknown).toBe('aborted');
      expect((await accounts(a)).accounts).toEqual([{ name: 'alice', balance: 30, held: 0 }]);
    });
  });

  it('conserves money under concurrent transfers, including within one bank', async () => {
    await withTempDir(async (dir) => {
      const a = await bank('bank-a', dir, { alice: 500, carol: 500 });
      const b = await bank('bank-b', dir, { bob: 500, dave: 500 });
      const byName = new Map([
        ['bank-a', a],
        ['bank-b', b],
      ]);
      const accts = [
        { bank: ref('bank-a'), account: 'alice' },
        { bank: ref('bank-a'), account: 'carol' },
        { bank: ref('bank-b'), account: 'bob' },
        { bank: ref('bank-b'), account: 'dave' },
      ];
      const outcomes = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          transfer(byName, `c${i}`, transferParticipants(accts[i % 4]!, accts[(i * 7 + 1) % 4]!, 100 + (i % 5) * 60)),
        ),
      );
      expect(outcomes).toContain('committed');
      expect(outcomes).toContain('aborted');
      const all = [...(await accounts(a)).accounts, ...(await accounts(b)).accounts];
      expect(all.reduce((s, x) => s + x.balance, 0)).toBe(2000);
      expect(all.every((x) => x.held === 0 && x.balance >= 0)).toBe(true);
      // Per transaction, from the banks' own records: every bank's part has the transfer's outcome.
      const records = [...(await allRecords(a)), ...(await allRecords(b))];
      for (const [i, outcome] of outcomes.entries()) {
        const parts = records.filter((r) => r.txId === `c${i}`);
        // a bank that voted abort still records its part; the ones told abort release theirs
        expect(parts.length, `c${i}`).toBeGreaterThan(0);
        expect(parts.map((r) => r.state)).toEqual(parts.map(() => outcome));
      }
      // Nothing in doubt at either bank, and the committed operations explain every balance.
      for (const app of [a, b]) {
        expect(await txList(app, '?state=prepared')).toMatchObject({ transactions: [], participantInDoubt: 0, nextCursor: null });
      }
      const committedDelta = (account: string): number =>
        records
          .filter((r) => r.state === 'committed')
          .flatMap((r) => r.ops.filter((op) => op.account === account))
          .reduce((s, op) => s + op.delta, 0);
      for (const x of all) expect(x.balance, x.name).toBe(500 + committedDelta(x.name));
    });
  });

  it('rejects a malformed transfer payload with an abort vote', async () => {
    await withTempDir(async (dir) => {
      const a = await bank('bank-a', dir, { alice: 10 });
      const res = await a.inject({
        method: 'POST',
        url: '/ratify/prepare',
        payload: { txId: 'm', participant: 'bank-a', term: 1, protocol: '2pc', payload: { ops: [{ account: 'alice', delta: 1.5 }] } },
      });
      expect(res.json()).toMatchObject({ vote: 'abort' });
    });
  });

  it('GET /transactions: one record per (transaction, participant) with its state and operations', async () => {
    await withTempDir(async (dir) => {
      const a = await bank('bank-a', dir, { alice: 100, carol: 0 });
      const call = (path: string, txId: string, participantName: string, extra: object = {}) =>
        a.inject({ method: 'POST', url: `/ratify/${path}`, payload: { txId, participant: participantName, term: 1, ...extra } });
      const prepare = (txId: string, ops: object[], name = 'bank-a') =>
        call('prepare', txId, name, { protocol: '2pc', payload: { ops, transferKey: 'k' } });
      const debit = (n: number) => [{ account: 'alice', delta: -n }];
      expect((await prepare('t1', debit(30))).json()).toEqual({ vote: 'commit' });
      expect((await prepare('t10', debit(20))).json()).toEqual({ vote: 'commit' });
      expect((await prepare('t2', debit(500))).json()).toMatchObject({ vote: 'abort' }); // insufficient funds
      expect((await prepare('t3', [...debit(10), { account: 'carol', delta: 10 }], 'bank-a-2')).json()).toEqual({ vote: 'commit' });
      await call('commit', 't1', 'bank-a');
      await call('abort', 't10', 'bank-a');
      await call('abort', 't4', 'bank-a'); // abort before any prepare
      const records = await allRecords(a);
      const byTx = (txId: string) => records.filter((r) => r.txId === txId);
      expect(byTx('t1')).toEqual([{ txId: 't1', participant: 'bank-a', state: 'committed', ops: debit(30) }]);
      expect(byTx('t10')).toEqual([{ txId: 't10', participant: 'bank-a', state: 'aborted', ops: debit(20) }]);
      expect(byTx('t2')).toEqual([
        { txId: 't2', participant: 'bank-a', state: 'aborted', ops: debit(500), reason: expect.stringContaining('insufficient funds') },
      ]);
      expect(byTx('t3')).toEqual([
        { txId: 't3', participant: 'bank-a-2', state: 'prepared', ops: [...debit(10), { account: 'carol', delta: 10 }] },
      ]);
      // an abort before any prepare reaches the SDK only: the bank held nothing, so it has no record
      expect(byTx('t4')).toEqual([]);
      expect(records).toHaveLength(4);
      // filters: state (prepared is what is in doubt), txId (t1 is a prefix of t10 but only its own records come back)
      const open = await txList(a, '?state=prepared');
      expect(open.transactions.map((r) => r.txId)).toEqual(['t3']);
      expect(open.participantInDoubt).toBe(1);
      expect((await txList(a, '?txId=t1')).transactions.map((r) => r.txId)).toEqual(['t1']);
      expect((await txList(a, '?state=aborted')).transactions.map((r) => r.txId).sort()).toEqual(['t10', 't2']);
      expect(await allRecords(a, '&state=committed')).toHaveLength(1);
      // held funds are exactly the debits of the prepared records
      expect((await accounts(a)).accounts.find((x) => x.name === 'alice')).toEqual({ name: 'alice', balance: 70, held: 10 });
      await call('commit', 't3', 'bank-a-2');
      expect(await txList(a, '?state=prepared')).toMatchObject({ transactions: [], participantInDoubt: 0 });
    });
  });

  it('GET /transactions pages with limit and cursor, and refuses bad queries with 400 VALIDATION_FAILED', async () => {
    await withTempDir(async (dir) => {
      const a = await bank('bank-a', dir, { alice: 100 });
      for (let i = 0; i < 5; i++) {
        const payload = {
          txId: `p${i}`,
          participant: 'bank-a',
          term: 1,
          protocol: '2pc',
          payload: { ops: [{ account: 'alice', delta: -1 }] },
        };
        expect((await a.inject({ method: 'POST', url: '/ratify/prepare', payload })).json()).toEqual({ vote: 'commit' });
      }
      const first = await txList(a, '?limit=2');
      expect(first.transactions).toHaveLength(2);
      expect(first.nextCursor).not.toBeNull();
      const ids = (await allRecords(a)).map((r) => r.txId);
      expect(ids.sort()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
      for (const qs of ['state=bogus', 'limit=0', 'limit=10001', 'limit=ten', 'cursor=garbage', 'other=1']) {
        const res = await a.inject({ method: 'GET', url: `/transactions?${qs}` });
        expect({ qs, status: res.statusCode, code: res.json<{ error?: { code?: string } }>().error?.code }).toEqual({
          qs,
          status: 400,
          code: 'VALIDATION_FAILED',
        });
      }
    });
  });

  it('keeps at most transactionsRetainMax finished records, oldest dropped first, never a prepared one; across a restart', async () => {
    await withTempDir(async (dir) => {
      const ledger = new Ledger(`${dir}/ledger`, 3);
      await ledger.open();
      await ledger.createAccount('alice', 100);
      const ops = { ops: [{ account: 'alice', delta: -1 }] };
      expect(await ledger.reserve('open', 'x', ops)).toEqual({ ok: true });
      for (const id of ['f1', 'f2', 'f3', 'f4']) {
        await ledger.reserve(id, 'x', ops);
        await ledger.apply(id, 'x');
      }
      const ids = async (l: Ledger) => (await l.transactions({ limit: 100 }, null)).transactions.map((r) => r.txId).sort();
      expect(await ids(ledger)).toEqual(['f2', 'f3', 'f4', 'open']);
      await ledger.close();
      const again = new Ledger(`${dir}/ledger`, 3);
      await again.open();
      await again.release('f5', 'x');
      expect(await ids(again)).toEqual(['f3', 'f4', 'f5', 'open']);
      await again.close();
      expect(() => new Ledger(`${dir}/other`, 0)).toThrow(/transactionsRetainMax \(0\) must be an integer between 1 and/);
    });
  });

  it('the ledger answers repeated and contradictory calls from its record', async () => {
    await withTempDir(async (dir) => {
      const ledger = new Ledger(`${dir}/ledger`);
      await ledger.open();
      await ledger.createAccount('alice', 100);
      const ops = { ops: [{ account: 'alice', delta: -60 }] };
      expect(await ledger.reserve('t1', 'x', ops)).toEqual({ ok: true });
      await ledger.apply('t1', 'x');
      await ledger.apply('t1', 'x'); // a repeated commit does nothing
      // a prepare arriving again after commit holds nothing more
      expect(await ledger.reserve('t1', 'x', ops)).toEqual({ ok: true });
      expect(await ledger.accounts()).toEqual([{ name: 'alice', balance: 40, held: 0 }]);
      // a bank that voted abort stays with abort, even if funds are there now
      expect(await ledger.reserve('t2', 'x', { ops: [{ account: 'alice', delta: -50 }] })).toMatchObject({ ok: false });
      await ledger.createAccount('bob', 0);
      expect(await ledger.reserve('t2', 'x', { ops: [{ account: 'alice', delta: -10 }] })).toMatchObject({ ok: false });
      // commit of what was aborted (or never prepared) here is a protocol violation, not a silent no-op
      await expect(ledger.apply('t2', 'x')).rejects.toThrow(/PROTOCOL VIOLATION/);
      await expect(ledger.apply('t9', 'x')).rejects.toThrow(/PROTOCOL VIOLATION/);
      await expect(ledger.release('t1', 'x')).rejects.toThrow(/PROTOCOL VIOLATION/);
      expect(await ledger.accounts()).toEqual([
        { name: 'alice', balance: 40, held: 0 },
        { name: 'bob', balance: 0, held: 0 },
      ]);
      await ledger.close();
    });
  });
});
