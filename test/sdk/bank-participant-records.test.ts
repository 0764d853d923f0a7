// GET /participant-records of the example bank, through inject(): the participant SDK's
// records (not the ledger's), and who may read them: loopback callers only while no token
// is set; with a token, only callers presenting it, loopback included.
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildBank } from '../../examples/bank/bank-service.js';
import { quiet, withTempDir } from './helpers.js';

const TOKEN = 'records-token-0123456789';
const FAR = '10.1.2.3';

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function bank(dir: string, recordsToken: string | null): Promise<FastifyInstance> {
  const { app } = await buildBank({ name: 'bank-a', dataDir: `${dir}/bank-a`, logger: quiet as never, recordsToken });
  apps.push(app);
  await app.ready();
  expect((await app.inject({ method: 'POST', url: '/accounts', payload: { name: 'alice', balance: 100 } })).statusCode).toBe(201);
  const call = (path: string, txId: string, extra: object = {}) =>
    app.inject({ method: 'POST', url: `/ratify/${path}`, payload: { txId, participant: 'bank-a', term: 1, ...extra } });
  const prepare = (txId: string, delta: number) =>
    call('prepare', txId, { protocol: '2pc', payload: { ops: [{ account: 'alice', delta }] } });
  await prepare('t1', -10);
  await call('commit', 't1');
  await prepare('t2', -500); // insufficient funds: voted abort
  await prepare('t3', -5); // in doubt
  await call('abort', 't4'); // before any prepare
  return app;
}

function read(app: FastifyInstance, o: { qs?: string; remoteAddress?: string; auth?: string } = {}) {
  return app.inject({
    method: 'GET',
    url: `/participant-records${o.qs ?? ''}`,
    ...(o.remoteAddress === undefined ? {} : { remoteAddress: o.remoteAddress }),
    headers: o.auth === undefined ? {} : { authorization: o.auth },
  });
}

interface Listing {
  bank: string;
  records: Record<string, unknown>[];
  complete: boolean;
}

describe('bank: GET /participant-records', () => {
  it("lists the SDK's records (every state, aborts before prepare too) without their payloads", async () => {
    await withTempDir(async (dir) => {
      const app = await bank(dir, null);
      const res = await read(app);
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json<Listing>();
      expect(body.bank).toBe('bank-a');
      expect(body.complete).toBe(true);
      const byTx = Object.fromEntries(body.records.map((r) => [r['txId'], r]));
      expect(Object.keys(byTx).sort()).toEqual(['t1', 't2', 't3', 't4']);
      expect(byTx['t1']).toMatchObject({ participant: 'bank-a', state: 'committed', protocol: '2pc', vote: 'commit', reason: null });
      expect(byTx['t2']).toMatchObject({ state: 'aborted', vote: 'abort', reason: expect.stringContaining('insufficient funds') });
      expect(byTx['t3']).toMatchObject({ state: 'prepared', vote: 'commit' });
      expect(byTx['t4']).toMatchObject({ state: 'aborted', protocol: null, vote: null });
      expect(body.records.every((r) => !('payload' in r) && typeof r['updatedAtMs'] === 'number')).toBe(true);
      // sinceMs scopes to "this run"; scanMax cuts the scan of finished records and says so.
      expect((await read(app, { qs: `?sinceMs=${Date.now() + 60_000}` })).json<Listing>().records).toEqual([]);
      const cut = (await read(app, { qs: '?scanMax=1' })).json<Listing>();
      expect(cut.complete).toBe(false);
      expect(cut.records.map((r) => r['txId']).sort()).toEqual(['t1', 't3']);
      for (const qs of ['?scanMax=0', '?scanMax=100001', '?sinceMs=-1', '?limit=5']) {
        const bad = await read(app, { qs });
        expect(bad.statusCode, qs).toBe(400);
        expect(bad.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
      }
    });
  });

  it('without a token: loopback callers only, 403 from anywhere else', async () => {
    await withTempDir(async (dir) => {
      const app = await bank(dir, null);
      expect((await read(app, { remoteAddress: '127.0.0.1' })).statusCode).toBe(200);
      expect((await read(app, { remoteAddress: '::1' })).statusCode).toBe(200);
      expect((await read(app, { remoteAddress: '::ffff:127.0.0.1' })).statusCode).toBe(200);
      const far = await read(app, { remoteAddress: FAR, auth: `Bearer ${TOKEN}` });
      expect(far.statusCode).toBe(403);
      expect(far.json()).toMatchObject({ error: { code: 'FORBIDDEN', message: expect.stringContaining('BANK_RECORDS_TOKEN') } });
      // Refused before the query is looked at; the other routes are unaffected.
      expect((await read(app, { remoteAddress: FAR, qs: '?bogus=1' })).statusCode).toBe(403);
      expect((await app.inject({ method: 'GET', url: '/accounts', remoteAddress: FAR })).statusCode).toBe(200);
    });
  });

  it('with a token: every caller must present it, loopback included', async () => {
    await withTempDir(async (dir) => {
      const app = await bank(dir, TOKEN);
      expect((await read(app, { remoteAddress: FAR, auth: `Bearer ${TOKEN}` })).statusCode).toBe(200);
      expect((await read(app, { auth: `Bearer ${TOKEN}` })).json<Listing>().records).toHaveLength(4);
      for (const auth of [undefined, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, TOKEN, `Basic ${TOKEN}`]) {
        for (const remoteAddress of ['127.0.0.1', FAR]) {
          const res = await read(app, { remoteAddress, ...(auth === undefined ? {} : { auth }) });
          expect(res.statusCode, `${String(auth)} from ${remoteAddress}`).toBe(401);
          expect(res.body).not.toContain(TOKEN);
        }
      }
    });
  });

  it('refuses a token too short to start with, naming its length and the limit but not the token', async () => {
    await withTempDir(async (dir) => {
      await expect(
        buildBank({ name: 'bank-a', dataDir: `${dir}/bank-a`, logger: quiet as never, recordsToken: 'short-token' }),
      ).rejects.toThrow('BANK_RECORDS_TOKEN length (11) must be 16-1024 characters');
    });
  });
});
