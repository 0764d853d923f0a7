// The example bank as a participant, driven by a minimal in-test coordinator
// through inject(): holds, votes, outcomes and conservation of money.
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildBank } from '../../examples/bank/bank-service.js';
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

async function bank(name: string, dir: string, seed: Record<string, number>): Promise<FastifyInstance> {
  const { app } = await buildBank({ name, dataDir: `${dir}/${name}`, logger: quiet as never });
  apps.push(app);
  await app.ready();
  for (const [account, balance] of Object.entries(seed)) {
    const res = await app.inject({ method: 'POST', url: '/accounts', payload: { name: account, balance } });
    expect(res.statusCode).toBe(201);
  }
  return app;
}

async function accounts(app: FastifyInstance): Promise<Accounts> {
  return (await app.inject({ method: 'GET', url: '/accounts' })).json<Accounts>();
}

/** A tiny 2PC coordinator over inject(): prepare everyone, then commit or abort everyone. */
async function transfer(byName: Map<string, FastifyInstance>, txId: string, participants: { name: string; payload?: unknown }[]): Promise<'committed' | 'aborted'> {
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
      const outcome = await transfer(byName, 't3', transferParticipants({ bank: ref('bank-a'), account: 'alice' }, { bank: ref('bank-b'), account: 'bob' }, 70));
      expect(outcome).toBe('committed');
      expect((await accounts(a)).accounts).toEqual([{ name: 'alice', balance: 30, held: 0 }]);
      expect((await accounts(b)).accounts).toEqual([{ name: 'bob', balance: 70, held: 0 }]);
      const unknown = await transfer(byName, 't4', transferParticipants({ bank: ref('bank-a'), account: 'alice' }, { bank: ref('bank-b'), account: 'zed' }, 1));
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
        Array.from({ length: 60 }, (_, i) => transfer(byName, `c${i}`, transferParticipants(accts[i % 4]!, accts[(i * 7 + 1) % 4]!, 100 + (i % 5) * 60))),
      );
      expect(outcomes).toContain('committed');
      expect(outcomes).toContain('aborted');
      const all = [...(await accounts(a)).accounts, ...(await accounts(b)).accounts];
      expect(all.reduce((s, x) => s + x.balance, 0)).toBe(2000);
      expect(all.every((x) => x.held === 0 && x.balance >= 0)).toBe(true);
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
});
