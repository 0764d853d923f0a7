// Every transaction route through inject(): valid requests and each invalid
// kind (wrong types, missing fields, oversized bodies, unknown ids, wrong state).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RatifyError } from '../../src/errors.js';
import { decodeCommand } from '../../src/tx/commands.js';
import { TX_ID_LENGTH_MAX } from '../../src/tx/schemas.js';
import type { TxView } from '../../src/tx/types.js';
import { FakeCluster } from './fake-log.js';
import { FakeParticipant } from './fake-participant.js';
import { eventually, participant, startLeader, startNode, type TestNode } from './harness.js';

type Json = Record<string, unknown>;

describe('transaction routes', () => {
  let node: TestNode;
  let cluster: FakeCluster;
  let a: FakeParticipant;
  let b: FakeParticipant;

  beforeAll(async () => {
    ({ cluster, node } = await startLeader({
      config: { maxParticipants: 3, maxPayloadBytes: 1024, maxBodyBytes: 4096, listLimitDefault: 20, listLimitMax: 50 },
    }));
    a = await FakeParticipant.start();
    b = await FakeParticipant.start();
  });
  afterAll(async () => {
    await node?.close();
    await a?.close();
    await b?.close();
  });

  const post = (url: string, payload?: unknown, headers: Record<string, string> = {}) =>
    node.app.inject({ method: 'POST', url, headers, ...(payload !== undefined && { payload: payload as Json }) });
  const create = async (body: Json = { participants: [participant('a', a.url), participant('b', b.url)] }): Promise<TxView> => {
    const res = await post('/v1/transactions', body);
    expect(res.statusCode).toBe(201);
    return res.json<TxView>();
  };
  const expectError = (res: { statusCode: number; json: <T>() => T }, status: number, code: string): void => {
    expect({ status: res.statusCode, code: res.json<{ error: { code: string } }>().error.code }).toEqual({ status, code });
    expect(typeof res.json<{ error: { message: string } }>().error.message).toBe('string');
  };

  describe('POST /v1/transactions', () => {
    it('creates an active transaction and answers 201 with the view', async () => {
      const res = await post('/v1/transactions', {
        participants: [participant('a', a.url, { amount: 5 })],
        protocol: '3pc',
        timeoutMs: 5_000,
      });
      expect(res.statusCode).toBe(201);
      const view = res.json<TxView>();
      expect(Object.keys(view).sort()).toEqual(['createdAt', 'deadlineAt', 'id', 'outcome', 'participants', 'protocol', 'state']);
      expect(view).toMatchObject({ state: 'active', outcome: null, protocol: '3pc' });
      expect(view.participants).toEqual([{ name: 'a', url: a.url, vote: null, acknowledged: false }]);
      expect(new Date(view.createdAt).toISOString()).toBe(view.createdAt);
      expect(Date.parse(view.deadlineAt) - Date.parse(view.createdAt)).toBe(5_000);
    });

    it('accepts an empty body and no body', async () => {
      expect((await post('/v1/transactions', {})).statusCode).toBe(201);
      const res = await post('/v1/transactions');
      expect(res.statusCode).toBe(201);
      expect(res.json<TxView>()).toMatchObject({ protocol: '2pc', participants: [] });
    });

    it('with commit: true runs the protocol and answers 200 once the decision is durable', async () => {
      const res = await post('/v1/transactions', { participants: [participant('a', a.url), participant('b', b.url)], commit: true });
      expect(res.statusCode).toBe(200);
      const view = res.json<TxView>();
      expect(view.outcome).toBe('committed');
      expect(['committing', 'committed']).toContain(view.state);
      expect(view.decidedAt).toBeDefined();
    });

    it.each<[string, unknown]>([
      ['participants not an array', { participants: 'a' }],
      ['participant without url', { participants: [{ name: 'a' }] }],
      ['participant name wrong type', { participants: [{ name: { x: 1 }, url: 'http://127.0.0.1:1' }] }],
      ['empty participant name', { participants: [{ name: '', url: 'http://127.0.0.1:1' }] }],
      ['unknown protocol', { protocol: '4pc' }],
      ['protocol wrong type', { protocol: 2 }],
      ['timeoutMs zero', { timeoutMs: 0 }],
      ['timeoutMs not a number', { timeoutMs: 'soon' }],
      ['timeoutMs fractional', { timeoutMs: 1.5 }],
      ['timeoutMs above maxTimeoutMs', { timeoutMs: 600_001 }],
      ['commit not a boolean', { commit: 'yes' }],
      ['body an array', [1, 2]],
      ['url not a URL', { participants: [{ name: 'a', url: 'nope' }] }],
      ['url not http', { participants: [{ name: 'a', url: 'ftp://127.0.0.1/x' }] }],
      ['url with a query', { participants: [{ name: 'a', url: 'http://127.0.0.1:1/?x=1' }] }],
      ['duplicate names', { participants: [participant('a', 'http://127.0.0.1:1'), participant('a', 'http://127.0.0.1:2')] }],
      // strict bodies: no type coercion, unknown fields refused (not silently dropped)
      ['commit the string "true"', { participants: [participant('a', 'http://127.0.0.1:1')], commit: 'true' }],
      ['commit the number 1', { commit: 1 }],
      ['timeoutMs a numeric string', { timeoutMs: '5' }],
      ['participant name a number', { participants: [{ name: 1, url: 'http://127.0.0.1:1' }] }],
      ['participants an object', { participants: { name: 'a', url: 'http://127.0.0.1:1' } }],
      ['an unknown top-level field', { participants: [], timeout: 5 }],
      ['a misspelled field', { comit: true }],
      ['an unknown participant field', { participants: [{ name: 'a', url: 'http://127.0.0.1:1', amount: 5 }] }],
    ])('answers 400 VALIDATION_FAILED for %s', async (_what, body) => {
      const creates = (): number => cluster.entries.filter((e) => decodeCommand(e.data)?.type === 'created').length;
      const before = creates();
      expectError(await post('/v1/transactions', body), 400, 'VALIDATION_FAILED');
      expect(creates()).toBe(before); // nothing was created
    });

    it('still refuses a bad participant URL after a good one was accepted (only exact passing strings are remembered)', async () => {
      const created = await post('/v1/transactions', { participants: [participant('a', 'http://127.0.0.1:1')] });
      expect(created.statusCode).toBe(201);
      for (const url of ['http://127.0.0.1:1/?x=1', 'http://127.0.0.1:1/#f', 'ftp://127.0.0.1:1']) {
        expectError(await post('/v1/transactions', { participants: [{ name: 'a', url }] }), 400, 'VALIDATION_FAILED');
      }
      expect((await post('/v1/transactions', { participants: [participant('a', 'http://127.0.0.1:1')] })).statusCode).toBe(201);
    });

    it('answers 400 PARTICIPANT_URL_REFUSED for a host not in participantHostAllowlist, and creates nothing', async () => {
      const creates = (): number => cluster.entries.filter((e) => decodeCommand(e.data)?.type === 'created').length;
      const before = creates();
      expectError(
        await post('/v1/transactions', { participants: [{ name: 'a', url: 'http://example.com' }] }),
        400,
        'PARTICIPANT_URL_REFUSED',
      );
      expect(creates()).toBe(before);
    });

    it('answers 400 for malformed JSON and a bad Idempotency-Key', async () => {
      const res = await node.app.inject({
        method: 'POST',
        url: '/v1/transactions',
        headers: { 'content-type': 'application/json' },
        payload: '{"participants": [',
      });
      expectError(res, 400, 'VALIDATION_FAILED');
      expectError(await post('/v1/transactions', {}, { 'idempotency-key': 'k'.repeat(257) }), 400, 'VALIDATION_FAILED');
    });

    it('answers 413 for too many participants, an oversized payload and an oversized body', async () => {
      const four = ['a', 'b', 'c', 'd'].map((n) => participant(n, a.url));
      expectError(await post('/v1/transactions', { participants: four }), 413, 'TOO_MANY_PARTICIPANTS');
      expectError(await post('/v1/transactions', { participants: [participant('a', a.url, 'x'.repeat(2000))] }), 413, 'BODY_TOO_LARGE');
      const big = await post('/v1/transactions', { participants: [participant('a', a.url, 'x'.repeat(5000))] });
      expectError(big, 413, 'BODY_TOO_LARGE');
      expect(big.json<{ error: { message: string } }>().error.message).toContain('maxBodyBytes (4096)');
    });

    it('returns the same transaction for the same Idempotency-Key, 409 for a different body', async () => {
      const body = { participants: [participant('a', a.url)] };
      const first = await post('/v1/transactions', body, { 'idempotency-key': 'key-1' });
      const again = await post('/v1/transactions', body, { 'idempotency-key': 'key-1' });
      expect(first.statusCode).toBe(201);
      expect(again.statusCode).toBe(201);
      expect(again.json<TxView>().id).toBe(first.json<TxView>().id);
      const other = await post('/v1/transactions', { participants: [participant('b', b.url)] }, { 'idempotency-key': 'key-1' });
      expectError(other, 409, 'IDEMPOTENCY_KEY_REUSED');
      // a different key is a different transaction
      const fresh = await post('/v1/transactions', body, { 'idempotency-key': 'key-2' });
      expect(fresh.json<TxView>().id).not.toBe(first.json<TxView>().id);
    });
  });

  describe('POST /v1/transactions/:id/participants', () => {
    it('enlists while active and answers 200 with the view', async () => {
      const tx = await create({});
      const res = await post(`/v1/transactions/${tx.id}/participants`, participant('a', a.url, [1, 2]));
      expect(res.statusCode).toBe(200);
      expect(res.json<TxView>().participants).toEqual([{ name: 'a', url: a.url, vote: null, acknowledged: false }]);
      // the same enlist again is harmless
      expect((await post(`/v1/transactions/${tx.id}/participants`, participant('a', a.url, [1, 2]))).statusCode).toBe(200);
    });

    it('answers 400, 404, 409 and 413 with their codes', async () => {
      const tx = await create({});
      expectError(await post(`/v1/transactions/${tx.id}/participants`, { name: 'x' }), 400, 'VALIDATION_FAILED');
      expectError(await post(`/v1/transactions/${tx.id}/participants`, { name: 'x', url: 42 }), 400, 'VALIDATION_FAILED');
      expectError(await post(`/v1/transactions/${tx.id}/participants`), 400, 'VALIDATION_FAILED');
      expectError(await post('/v1/transactions/no-such-tx/participants', participant('a', a.url)), 404, 'TX_NOT_FOUND');
      for (const n of ['a', 'b', 'c']) await post(`/v1/transactions/${tx.id}/participants`, participant(n, a.url));
      expectError(await post(`/v1/transactions/${tx.id}/participants`, participant('d', a.url)), 413, 'TOO_MANY_PARTICIPANTS');
      const done = await create({});
      expect((await post(`/v1/transactions/${done.id}/commit`)).statusCode).toBe(200);
      expectError(await post(`/v1/transactions/${done.id}/participants`, participant('a', a.url)), 409, 'TX_NOT_ACTIVE');
    });

    it.each<[string, unknown]>([
      ['name a number', { name: 1, url: 'http://127.0.0.1:1' }],
      ['url a number', { name: 'x', url: 42 }],
      ['an unknown field', { name: 'x', url: 'http://127.0.0.1:1', amount: 5 }],
      // (A body sent as text/plain is 415 UNSUPPORTED_MEDIA_TYPE: test/http/validation-messages.test.ts.)
      ['a body that is an array', ['x']],
    ])('enlist answers 400 VALIDATION_FAILED for %s (strict bodies)', async (_what, body) => {
      const tx = await create({});
      expectError(await post(`/v1/transactions/${tx.id}/participants`, body), 400, 'VALIDATION_FAILED');
      expect(node.sm.get(tx.id)?.participants).toEqual([]);
    });

    it('re-enlisting the same participant on a transaction that is no longer active answers 409 TX_NOT_ACTIVE', async () => {
      const tx = await create({});
      expect((await post(`/v1/transactions/${tx.id}/participants`, participant('a', a.url))).statusCode).toBe(200);
      expect((await post(`/v1/transactions/${tx.id}/commit`)).statusCode).toBe(200);
      expectError(await post(`/v1/transactions/${tx.id}/participants`, participant('a', a.url)), 409, 'TX_NOT_ACTIVE');
      const aborted = await create({ participants: [participant('a', a.url)] });
      expect((await post(`/v1/transactions/${aborted.id}/abort`)).statusCode).toBe(200);
      expectError(await post(`/v1/transactions/${aborted.id}/participants`, participant('a', a.url)), 409, 'TX_NOT_ACTIVE');
    });

    it('the same name with another url or payload on an active transaction answers 409 IDEMPOTENCY_KEY_REUSED', async () => {
      const tx = await create({});
      expect((await post(`/v1/transactions/${tx.id}/participants`, participant('a', a.url, { n: 1 }))).statusCode).toBe(200);
      expectError(await post(`/v1/transactions/${tx.id}/participants`, participant('a', b.url, { n: 1 })), 409, 'IDEMPOTENCY_KEY_REUSED');
      expectError(await post(`/v1/transactions/${tx.id}/participants`, participant('a', a.url, { n: 2 })), 409, 'IDEMPOTENCY_KEY_REUSED');
      expect(node.sm.get(tx.id)?.participants.map((p) => [p.url, p.payload])).toEqual([[a.url, { n: 1 }]]);
    });

    it('the same payload with its keys reordered is a replay, not a conflict (canonical JSON)', async () => {
      const tx = await create({});
      const first = { amount: 5, account: { id: 'alice', bank: 'a' } };
      const reordered = { account: { bank: 'a', id: 'alice' }, amount: 5 };
      expect((await post(`/v1/transactions/${tx.id}/participants`, participant('a', a.url, first))).statusCode).toBe(200);
      expect((await post(`/v1/transactions/${tx.id}/participants`, participant('a', a.url, reordered))).statusCode).toBe(200);
      expect(node.sm.get(tx.id)?.participants.map((p) => p.payload)).toEqual([first]);
    });
  });

  describe('POST /v1/transactions/:id/commit', () => {
    it('commits, and is idempotent', async () => {
      const tx = await create();
      const first = await post(`/v1/transactions/${tx.id}/commit`);
      expect(first.statusCode).toBe(200);
      expect(first.json<TxView>().outcome).toBe('committed');
      await eventually(() => node.sm.get(tx.id)?.state === 'committed', 'committed');
      const again = await post(`/v1/transactions/${tx.id}/commit`, {});
      expect(again.statusCode).toBe(200);
      expect(again.json<TxView>()).toMatchObject({ state: 'committed', outcome: 'committed' });
      expect(again.json<TxView>().completedAt).toBeDefined();
    });

    it('shows the outcome even when the transaction was aborted', async () => {
      const tx = await create();
      expect((await post(`/v1/transactions/${tx.id}/abort`)).statusCode).toBe(200);
      const res = await post(`/v1/transactions/${tx.id}/commit`);
      expect(res.statusCode).toBe(200);
      expect(res.json<TxView>().outcome).toBe('aborted');
    });

    it('answers 404 for an unknown id', async () => {
      expectError(await post('/v1/transactions/nope/commit'), 404, 'TX_NOT_FOUND');
    });
  });

  describe('POST /v1/transactions/:id/abort', () => {
    it('aborts an active transaction, again idempotently', async () => {
      const tx = await create();
      const res = await post(`/v1/transactions/${tx.id}/abort`);
      expect(res.statusCode).toBe(200);
      expect(res.json<TxView>()).toMatchObject({ outcome: 'aborted' });
      expect(['aborting', 'aborted']).toContain(res.json<TxView>().state);
      expect((await post(`/v1/transactions/${tx.id}/abort`)).json<TxView>().outcome).toBe('aborted');
    });

    it('answers 409 TX_ALREADY_COMMITTED after a commit decision, 404 for unknown ids', async () => {
      const tx = await create();
      await post(`/v1/transactions/${tx.id}/commit`);
      expectError(await post(`/v1/transactions/${tx.id}/abort`), 409, 'TX_ALREADY_COMMITTED');
      expectError(await post('/v1/transactions/nope/abort'), 404, 'TX_NOT_FOUND');
    });
  });

  describe('GET /v1/transactions/:id and the list', () => {
    it('reads one transaction; 404 when unknown', async () => {
      const tx = await create();
      const res = await node.app.inject({ method: 'GET', url: `/v1/transactions/${tx.id}` });
      expect(res.statusCode).toBe(200);
      expect(res.json<TxView>()).toEqual(tx);
      expectError(await node.app.inject({ method: 'GET', url: '/v1/transactions/nope' }), 404, 'TX_NOT_FOUND');
    });

    it('answers an over-long id with 400 VALIDATION_FAILED in the API error shape, on every id route', async () => {
      const longId = 'x'.repeat(TX_ID_LENGTH_MAX + 1);
      // Up to the router's maxParamLength (100 by default) the schema judges the id; beyond it see schemas.ts.
      expect(longId.length).toBeLessThanOrEqual(100);
      expectError(await node.app.inject({ method: 'GET', url: `/v1/transactions/${longId}` }), 400, 'VALIDATION_FAILED');
      for (const action of ['commit', 'abort']) expectError(await post(`/v1/transactions/${longId}/${action}`), 400, 'VALIDATION_FAILED');
      expectError(await post(`/v1/transactions/${longId}/participants`, participant('a', a.url)), 400, 'VALIDATION_FAILED');
      expectError(await node.app.inject({ method: 'GET', url: `/v1/transactions/${'x'.repeat(TX_ID_LENGTH_MAX)}` }), 404, 'TX_NOT_FOUND');
    });

    it('lists with state filter, limit and cursor', async () => {
      const ids = [(await create({})).id, (await create({})).id, (await create({})).id];
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const qs: string = `state=active&limit=2${cursor === null ? '' : `&cursor=${cursor}`}`;
        const res = await node.app.inject({ method: 'GET', url: `/v1/transactions?${qs}` });
        expect(res.statusCode).toBe(200);
        const page = res.json<{ transactions: TxView[]; nextCursor: string | null }>();
        expect(page.transactions.length).toBeLessThanOrEqual(2);
        for (const t of page.transactions) expect(t.state).toBe('active');
        seen.push(...page.transactions.map((t) => t.id));
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect(seen).toEqual(expect.arrayContaining(ids));
      expect(new Set(seen).size).toBe(seen.length);
    });

    it.each([['state=bogus'], ['limit=0'], ['limit=51'], ['limit=ten'], ['cursor=garbage']])('answers 400 for %s', async (qs) => {
      expectError(await node.app.inject({ method: 'GET', url: `/v1/transactions?${qs}` }), 400, 'VALIDATION_FAILED');
    });

    it('answers 503 with Retry-After when no read index can be had', async () => {
      cluster.readError = new RatifyError('NO_LEADER', 'election in progress');
      try {
        const res = await node.app.inject({ method: 'GET', url: '/v1/transactions/any' });
        expectError(res, 503, 'NO_LEADER');
        expect(res.headers['retry-after']).toBe('1');
      } finally {
        cluster.readError = null;
      }
    });
  });
});

describe('limits and leadership', () => {
  it('answers 429 TOO_MANY_PENDING past maxActiveTransactions', async () => {
    const { node } = await startLeader({ config: { maxActiveTransactions: 2 } });
    try {
      for (let i = 0; i < 2; i++)
        expect((await node.app.inject({ method: 'POST', url: '/v1/transactions', payload: {} })).statusCode).toBe(201);
      const res = await node.app.inject({ method: 'POST', url: '/v1/transactions', payload: {} });
      expect(res.statusCode).toBe(429);
      expect(res.json<{ error: { code: string } }>().error.code).toBe('TOO_MANY_PENDING');
    } finally {
      await node.close();
    }
  });

  it('a follower forwards writes to the leader; with no leader it answers 503 NO_LEADER and Retry-After', async () => {
    const cluster = new FakeCluster();
    const leader = await startNode(cluster, 'n1');
    const follower = await startNode(cluster, 'n2');
    try {
      await leader.listen();
      cluster.elect('n1');
      const res = await follower.app.inject({
        method: 'POST',
        url: '/v1/transactions',
        payload: {},
        headers: { 'idempotency-key': 'fwd-1' },
      });
      expect(res.statusCode).toBe(201);
      const view = res.json<TxView>();
      expect(leader.sm.get(view.id)?.idempotencyKey).toBe('fwd-1');
      // reads are served by the follower itself
      expect((await follower.app.inject({ method: 'GET', url: `/v1/transactions/${view.id}` })).json<TxView>().id).toBe(view.id);
      // errors come back as the leader gave them
      const missing = await follower.app.inject({ method: 'POST', url: '/v1/transactions/nope/commit' });
      expect(missing.statusCode).toBe(404);
      expect(missing.json<{ error: { code: string } }>().error.code).toBe('TX_NOT_FOUND');
      // one hop only: a forwarded request reaching a non-leader is refused (a peer's mark names a member)
      const hop = await follower.app.inject({
        method: 'POST',
        url: '/v1/transactions',
        payload: {},
        headers: { 'x-ratify-forwarded': 'n1' },
      });
      expect(hop.statusCode).toBe(503);
      expect(hop.json<{ error: { code: string } }>().error.code).toBe('NOT_LEADER');
      // a mark that names no member is a client's header: ignored, the request is forwarded as any other
      const fake = await follower.app.inject({
        method: 'POST',
        url: '/v1/transactions',
        payload: {},
        headers: { 'x-ratify-forwarded': '1' },
      });
      expect(fake.statusCode).toBe(201);
      cluster.noLeader();
      const none = await follower.app.inject({ method: 'POST', url: `/v1/transactions/${view.id}/abort` });
      expect(none.statusCode).toBe(503);
      expect(none.headers['retry-after']).toBe('1');
      expect(none.json<{ error: { code: string } }>().error.code).toBe('NO_LEADER');
    } finally {
      await follower.close();
      await leader.close();
    }
  });
});
