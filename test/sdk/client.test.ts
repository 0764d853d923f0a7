// RatifyClient against a fake cluster: leader discovery, failover retries that
// keep the idempotency key, bounded retries, and error mapping.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRatifyClientError, RatifyClient, RatifyClientError } from '../../src/sdk/index.js';
import { refusedUrl } from './fake-coordinator.js';
import { startFakeCluster, view, type FakeCluster, type Reply } from './fake-cluster.js';

let cluster: FakeCluster;
const clients: RatifyClient[] = [];

function client(nodes: string[], extra: object = {}): RatifyClient {
  const c = new RatifyClient({ nodes, timeoutMs: 5_000, retries: 5, backoffBaseMs: 1, backoffMaxMs: 5, ...extra });
  clients.push(c);
  return c;
}

const noLeader: Reply = { status: 503, body: { error: { code: 'NO_LEADER', message: 'no leader' } }, headers: { 'retry-after': '0' } };
const writes = () => cluster.seen.filter((r) => r.method === 'POST');

beforeEach(async () => {
  cluster = await startFakeCluster(3);
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await cluster.close();
});

describe('RatifyClient: leader discovery and requests', () => {
  it('sends writes to the leader found through /v1/cluster', async () => {
    cluster.elect('n2');
    const c = client(cluster.urls());
    const v = await c.createTransaction({ participants: [{ name: 'a', url: 'http://127.0.0.1:1/p', payload: { x: 1 } }], protocol: '3pc' });
    expect(v.id).toBe('tx-1');
    expect(writes()).toHaveLength(1);
    expect(writes()[0]).toMatchObject({
      node: 'n2',
      url: '/v1/transactions',
      body: { participants: [{ name: 'a', url: 'http://127.0.0.1:1/p', payload: { x: 1 } }], protocol: '3pc' },
    });
    expect(writes()[0]!.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('maps every method to its route and body', async () => {
    const c = client(cluster.urls(), { secret: 's3cret' });
    await c.run({ participants: [{ name: 'a', url: 'http://x/p' }], timeoutMs: 1000, idempotencyKey: 'mine' });
    await c.enlist('t/1', { name: 'b', url: 'http://x/q' });
    await c.commit('t/1');
    await c.abort('t/1');
    await c.get('t/1');
    cluster.nodes[0]!.respond = () => ({ status: 200, body: { transactions: [view('a')], nextCursor: 'c2' } });
    const page = await c.list({ state: 'committed', limit: 5, cursor: 'c1' });
    expect(page).toEqual({ transactions: [view('a')], nextCursor: 'c2' });
    expect(cluster.seen.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /v1/transactions',
      'POST /v1/transactions/t%2F1/participants',
      'POST /v1/transactions/t%2F1/commit',
      'POST /v1/transactions/t%2F1/abort',
      'GET /v1/transactions/t%2F1',
      'GET /v1/transactions?state=committed&limit=5&cursor=c1',
    ]);
    expect(cluster.seen[0]).toMatchObject({
      idempotencyKey: 'mine',
      body: { participants: [{ name: 'a', url: 'http://x/p' }], timeoutMs: 1000, commit: true },
    });
    expect(cluster.seen[1]!.body).toEqual({ name: 'b', url: 'http://x/q' });
    expect(cluster.seen.every((r) => r.secret === 's3cret')).toBe(true);
    expect((await c.cluster()).nodeId).toBe('n1');
  });

  it('sends its token as a bearer token on every request; 401 and 403 are not retried', async () => {
    const c = client(cluster.urls(), { token: 'payments-token-0123456789' });
    await c.createTransaction();
    await c.get('t1');
    expect(cluster.seen.map((r) => r.authorization)).toEqual(['Bearer payments-token-0123456789', 'Bearer payments-token-0123456789']);
    for (const [status, code] of [
      [401, 'UNAUTHORIZED'],
      [403, 'FORBIDDEN'],
    ] as const) {
      cluster.seen.length = 0;
      for (const n of cluster.nodes) n.respond = () => ({ status, body: { error: { code, message: code } } });
      await expect(c.abort('t1')).rejects.toMatchObject({ code, status, attempts: 1 });
      expect(cluster.seen).toHaveLength(1);
    }
    expect(() => new RatifyClient({ nodes: cluster.urls(), token: 'has a space' })).toThrow(/bearer token/);
    expect(() => new RatifyClient({ nodes: cluster.urls(), token: 'line\nbreak' })).toThrow(/bearer token/);
  });

  it('gives each logical call its own idempotency key', async () => {
    const c = client(cluster.urls());
    await c.createTransaction();
    await c.createTransaction();
    const [k1, k2] = writes().map((r) => r.idempotencyKey);
    expect(k1).toBeDefined();
    expect(k1).not.toBe(k2);
  });
});

describe('RatifyClient: failover', () => {
  it('retries a 503 on the new leader with the same idempotency key and body', async () => {
    const c = client(cluster.urls());
    let calls = 0;
    cluster.nodes[0]!.respond = () => {
      calls++;
      // The leader loses leadership mid-request; n3 takes over.
      cluster.elect('n3');
      cluster.nodes[0]!.role = 'follower';
      return noLeader;
    };
    const v = await c.run({ participants: [{ name: 'a', url: 'http://x/p' }] });
    expect(v.id).toBe('tx-1');
    expect(calls).toBe(1);
    expect(writes().map((r) => r.node)).toEqual(['n1', 'n3']);
    expect(new Set(writes().map((r) => r.idempotencyKey)).size).toBe(1);
    expect(writes()[1]!.body).toEqual(writes()[0]!.body);
  });

  it('survives the leader dying (connection refused) and a dead node in the list', async () => {
    const dead = await refusedUrl();
    const c = client([dead, ...cluster.urls()]);
    await c.createTransaction({ idempotencyKey: 'k1' });
    await cluster.nodes[0]!.close();
    cluster.elect('n2');
    await c.createTransaction({ idempotencyKey: 'k2' });
    expect(writes().map((r) => `${r.node}:${r.idempotencyKey}`)).toEqual(['n1:k1', 'n2:k2']);
  });

  it('retries on another node when no leader is known, with the same key each time', async () => {
    cluster.elect(null);
    for (const n of cluster.nodes) n.respond = () => noLeader;
    cluster.nodes[2]!.respond = () => ({ status: 201, body: view('late') });
    const c = client(cluster.urls());
    const v = await c.createTransaction();
    expect(v.id).toBe('late');
    expect(writes().map((r) => r.node)).toEqual(['n1', 'n2', 'n3']);
    expect(new Set(writes().map((r) => r.idempotencyKey)).size).toBe(1);
  });

  it('moves on from a node removed from the cluster (410 MEMBER_REMOVED), with the same key', async () => {
    const c = client(cluster.urls());
    cluster.nodes[0]!.respond = () => ({ status: 410, body: { error: { code: 'MEMBER_REMOVED', message: 'removed', appliedIndex: 9 } } });
    cluster.elect('n2');
    cluster.nodes[0]!.role = 'leader'; // the removed node still calls itself leader: the finder asks it first
    const v = await c.createTransaction();
    expect(v.id).toBe('tx-1');
    expect(writes().map((r) => r.node)).toEqual(['n1', 'n2']);
    expect(new Set(writes().map((r) => r.idempotencyKey)).size).toBe(1);
  });

  it('retries 429 on the same node', async () => {
    const c = client(cluster.urls());
    let n = 0;
    cluster.nodes[0]!.respond = () =>
      ++n === 1 ? { status: 429, body: { error: { code: 'TOO_MANY_PENDING', message: 'busy' } } } : { status: 201, body: view('ok') };
    expect((await c.createTransaction()).id).toBe('ok');
    expect(writes().map((r) => r.node)).toEqual(['n1', 'n1']);
  });

  it('gives up after the configured retries with the last error', async () => {
    for (const n of cluster.nodes) n.respond = () => noLeader;
    const c = client(cluster.urls(), { retries: 3 });
    const err = await c.createTransaction().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RatifyClientError);
    expect(err).toMatchObject({ code: 'NO_LEADER', status: 503, attempts: 4 });
    expect(writes()).toHaveLength(4);
  });

  it('reports UNREACHABLE (status 0) when no node answers', async () => {
    const c = client([await refusedUrl(), await refusedUrl()], { retries: 2 });
    const err = await c.get('x').catch((e: unknown) => e);
    expect(isRatifyClientError(err, 'UNREACHABLE')).toBe(true);
    expect(err).toMatchObject({ status: 0, attempts: 3 });
  });
});

describe('RatifyClient: error mapping', () => {
  it('does not retry a 4xx and carries code, status and details', async () => {
    const c = client(cluster.urls());
    cluster.nodes[0]!.respond = () => ({
      status: 409,
      body: { error: { code: 'TX_ALREADY_COMMITTED', message: 'decision was commit', txState: 'committing' } },
    });
    const err = await c.abort('t1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RatifyClientError);
    expect(err).toMatchObject({
      code: 'TX_ALREADY_COMMITTED',
      status: 409,
      message: 'decision was commit',
      attempts: 1,
      details: { txState: 'committing' },
    });
    expect(writes()).toHaveLength(1);
  });

  it('maps 404 and 400', async () => {
    const c = client(cluster.urls());
    cluster.nodes[0]!.respond = (r) =>
      r.method === 'GET'
        ? { status: 404, body: { error: { code: 'TX_NOT_FOUND', message: 'no such transaction' } } }
        : { status: 400, body: { error: { code: 'VALIDATION_FAILED', message: 'bad' } } };
    await expect(c.get('nope')).rejects.toMatchObject({ code: 'TX_NOT_FOUND', status: 404 });
    await expect(c.createTransaction()).rejects.toMatchObject({ code: 'VALIDATION_FAILED', status: 400 });
  });

  it('calls an answer that is not the API JSON BAD_RESPONSE', async () => {
    const c = client(cluster.urls());
    cluster.nodes[0]!.respond = () => ({ status: 418, body: 'teapot' });
    await expect(c.get('x')).rejects.toMatchObject({ code: 'BAD_RESPONSE', status: 418 });
  });

  it('validates its options with the value and the limit', () => {
    expect(() => new RatifyClient({ nodes: [] })).toThrow(/at least one/);
    expect(() => new RatifyClient({ nodes: ['http://127.0.0.1:1'], retries: 1000 })).toThrow('retries (1000) must be between 0 and 100');
    expect(() => new RatifyClient({ nodes: ['ftp://x'] })).toThrow(/http/);
  });
});
