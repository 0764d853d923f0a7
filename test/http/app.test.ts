// The HTTP app of a node, driven with app.inject() around real RaftNodes
// (MemoryNetwork + MemoryRaftStorage). Only the forwarding test listens on
// loopback, because forwarding is an HTTP call to another node.
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { RatifyError } from '../../src/errors.js';
import { PARAM_LENGTH_MAX, buildApp } from '../../src/http/app.js';
import { PUBLIC } from '../../src/http/auth.js';
import { Draining } from '../../src/http/draining.js';
import { silentLogger } from '../../src/logger.js';
import { createKvStateMachine, encodeKvCommand, type KvStateMachine } from '../../src/kv/state-machine.js';
import type { RaftNode } from '../../src/node/raft-node.js';
import { freePorts } from '../helpers/cluster.js';
import { metricValue } from '../helpers/http.js';
import { InProcessCluster } from '../helpers/in-process-cluster.js';
import { waitUntil } from '../helpers/wait.js';
import { messagesHeaders } from '../transport/signing.js';

const SECRET = 'test-secret-0123456789';
// Nothing listens on port 1: forwarding there fails at once with ECONNREFUSED.
const DEAD_URL = (id: string): string => `http://127.0.0.1:1/${id}`;

let cluster: InProcessCluster<KvStateMachine> | null = null;
const apps: FastifyInstance[] = [];

afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
  const c = cluster;
  cluster = null;
  if (c !== null) {
    await c.stopAll();
    expect(c.fatalErrors).toEqual([]);
  }
});

async function startCluster(
  opts: { urlOf?: (id: string) => string; start?: readonly string[]; ids?: readonly string[]; voters?: readonly string[] } = {},
): Promise<InProcessCluster<KvStateMachine>> {
  cluster = new InProcessCluster({
    createStateMachine: () => createKvStateMachine(),
    urlOf: opts.urlOf ?? DEAD_URL,
    ...(opts.ids === undefined ? {} : { ids: opts.ids }),
    ...(opts.voters === undefined ? {} : { voters: opts.voters }),
  });
  for (const id of opts.start ?? ['n1', 'n2', 'n3']) await cluster.start(id);
  return cluster;
}

async function appFor(
  c: InProcessCluster<KvStateMachine>,
  node: RaftNode,
  opts: { secret?: string | null; bodyLimitBytes?: number; draining?: Draining } = {},
): Promise<FastifyInstance> {
  const m = c.member(node.nodeId);
  const app = await buildApp({
    config: {
      nodeId: node.nodeId,
      clusterId: 'ratify',
      clusterSecret: opts.secret === undefined ? SECRET : opts.secret,
      bodyLimitBytes: opts.bodyLimitBytes ?? 64 * 1024,
      raftBodyLimitBytes: 1024 * 1024,
      readyLagEntriesMax: 0,
      forwardTimeoutMs: 5000,
    },
    node,
    logger: silentLogger(),
    metrics: m.metrics,
    onRaftMessages: (msgs) => node.receive(msgs),
    kv: m.stateMachine,
    ...(opts.draining === undefined ? {} : { draining: opts.draining }),
  });
  apps.push(app);
  return app;
}

const admin = { 'x-ratify-secret': SECRET };

describe('GET /v1/cluster', () => {
  it('reports role, term, leader, indexes and members on leader and follower', async () => {
    const c = await startCluster();
    const leader = await c.waitForLeader();
    const follower = c.running().find((n) => n !== leader)!;
    await leader.propose(new TextEncoder().encode(JSON.stringify({ op: 'put', key: 'a', value: 'b' })));
    const l = await (await appFor(c, leader)).inject({ method: 'GET', url: '/v1/cluster' });
    expect(l.statusCode).toBe(200);
    const body = l.json();
    expect(body).toMatchObject({ nodeId: leader.nodeId, role: 'leader', leaderId: leader.nodeId, term: leader.status().term });
    expect(body.commitIndex).toBeGreaterThanOrEqual(2);
    expect(body.appliedIndex).toBeGreaterThanOrEqual(2);
    expect(body.members).toEqual(['n1', 'n2', 'n3'].map((id) => ({ id, url: DEAD_URL(id), voter: true })));
    const f = (await (await appFor(c, follower)).inject({ method: 'GET', url: '/v1/cluster' })).json();
    expect(f).toMatchObject({ nodeId: follower.nodeId, role: 'follower', leaderId: leader.nodeId });
  });

  it('shows a pre-candidate as "candidate"', async () => {
    const c = await startCluster({ start: ['n1'] }); // alone: it campaigns forever
    const node = c.node('n1');
    await waitUntil(() => node.status().role === 'precandidate', { what: 'n1 to campaign' });
    const res = await (await appFor(c, node)).inject({ method: 'GET', url: '/v1/cluster' });
    expect(res.json()).toMatchObject({ role: 'candidate', leaderId: null });
  });
});

describe('health', () => {
  it('/healthz is 200 while the process lives; /readyz needs a known leader and a caught-up log', async () => {
    const c = await startCluster({ start: ['n1'] });
    const lone = await appFor(c, c.node('n1'));
    expect((await lone.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const notReady = await lone.inject({ method: 'GET', url: '/readyz' });
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json()).toMatchObject({ ready: false, leaderKnown: false });
    await c.start('n2');
    await c.start('n3');
    await c.waitForLeader();
    await waitUntil(async () => (await lone.inject({ method: 'GET', url: '/readyz' })).statusCode === 200, { what: 'n1 ready' });
    const ready = (await lone.inject({ method: 'GET', url: '/readyz' })).json();
    expect(ready).toMatchObject({ ready: true, leaderKnown: true });
    expect(ready.appliedIndex).toBeGreaterThanOrEqual(ready.leaderCommitIndex);
  });
});

describe('error mapping', () => {
  it('maps validation, bad JSON, oversized bodies, unknown routes and internal errors', async () => {
    const c = await startCluster();
    const leader = await c.waitForLeader();
    const app = await appFor(c, leader, { bodyLimitBytes: 1024 });
    app.get('/test/boom', { config: PUBLIC }, async () => {
      throw new Error('secret internal detail');
    });
    app.get('/test/typed', { config: PUBLIC }, async () => {
      throw new RatifyError('TX_NOT_FOUND', 'no such tx', { details: { id: 't1' } });
    });

    const invalid = await app.inject({ method: 'PUT', url: '/v1/kv/a', payload: { nope: 1 } });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().error.code).toBe('VALIDATION_FAILED');
    expect(invalid.json().error.issues.length).toBeGreaterThan(0);

    const badJson = await app.inject({
      method: 'PUT',
      url: '/v1/kv/a',
      payload: '{"value":',
      headers: { 'content-type': 'application/json' },
    });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json().error.code).toBe('VALIDATION_FAILED');

    const big = await app.inject({ method: 'PUT', url: '/v1/kv/a', payload: { value: 'x'.repeat(2048) } });
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe('BODY_TOO_LARGE');

    const missing = await app.inject({ method: 'GET', url: '/v2/nothing?x=1' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: { code: 'ROUTE_NOT_FOUND', message: 'no route GET /v2/nothing' } });

    const boom = await app.inject({ method: 'GET', url: '/test/boom' });
    expect(boom.statusCode).toBe(500);
    expect(boom.json()).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } });
    expect(boom.body).not.toContain('secret internal detail');

    const typed = await app.inject({ method: 'GET', url: '/test/typed' });
    expect(typed.statusCode).toBe(404);
    expect(typed.json()).toEqual({ error: { code: 'TX_NOT_FOUND', message: 'no such tx', id: 't1' } });
  });

  it('answers over-long path parameters and malformed URLs in the same error shape (fastify frameworkErrors)', async () => {
    const c = await startCluster();
    const leader = await c.waitForLeader();
    const app = await appFor(c, leader);
    const tooLong = 'k'.repeat(PARAM_LENGTH_MAX + 1);
    for (const req of [
      { method: 'GET', url: `/v1/kv/${tooLong}` },
      { method: 'POST', url: `/v1/cluster/members/${tooLong}/promote`, headers: admin },
      { method: 'DELETE', url: `/v1/cluster/members/${tooLong}`, headers: admin },
    ] as const) {
      const res = await app.inject(req);
      expect(res.statusCode, req.url).toBe(414);
      expect(res.json()).toEqual({ error: { code: 'URI_TOO_LONG', message: expect.any(String) } });
    }
    const badUrl = await app.inject({ method: 'GET', url: '/v1/kv/%E0%A4%A' });
    expect(badUrl.statusCode).toBe(400);
    expect(badUrl.json()).toEqual({ error: { code: 'VALIDATION_FAILED', message: expect.any(String) } });
    // Every valid key fits: 200 characters used to hit fastify's default limit of 100.
    const longKey = 'k'.repeat(200);
    expect((await app.inject({ method: 'PUT', url: `/v1/kv/${longKey}`, payload: { value: 'v' } })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: `/v1/kv/${longKey}` })).json()).toEqual({ key: longKey, found: true, value: 'v' });
  });

  it('answers 503 NOT_LEADER with the leader id and Retry-After when the leader cannot be reached', async () => {
    const c = await startCluster();
    const leader = await c.waitForLeader();
    const follower = c.running().find((n) => n !== leader)!;
    const res = await (await appFor(c, follower)).inject({ method: 'PUT', url: '/v1/kv/a', payload: { value: 'b' } });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json().error).toMatchObject({ code: 'NOT_LEADER', leaderId: leader.nodeId });
  });
});

describe('KV API', () => {
  it('writes on the leader and reads linearizably on a follower', async () => {
    const c = await startCluster();
    const leader = await c.waitForLeader();
    const follower = c.running().find((n) => n !== leader)!;
    const la = await appFor(c, leader);
    const fa = await appFor(c, follower);
    const put = await la.inject({ method: 'PUT', url: '/v1/kv/color', payload: { value: 'blue' } });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual({ key: 'color', index: expect.any(Number) });
    expect((await fa.inject({ method: 'GET', url: '/v1/kv/color' })).json()).toEqual({ key: 'color', found: true, value: 'blue' });
    expect((await fa.inject({ method: 'GET', url: '/v1/kv/other' })).json()).toEqual({ key: 'other', found: false, value: null });
  });

  it('forwards a write from a follower to the leader over HTTP', async () => {
    const ports = await freePorts(3);
    const urlOf = (id: string): string => `http://127.0.0.1:${ports[Number(id.slice(1)) - 1]}`;
    const c = await startCluster({ urlOf });
    const appOf = new Map<string, FastifyInstance>();
    for (const node of c.running()) {
      const app = await appFor(c, node);
      await app.listen({ host: '127.0.0.1', port: Number(new URL(urlOf(node.nodeId)).port) });
      appOf.set(node.nodeId, app);
    }
    const leader = await c.waitForLeader();
    const follower = c.running().find((n) => n !== leader)!;
    const fa = appOf.get(follower.nodeId)!;
    const res = await fa.inject({ method: 'PUT', url: '/v1/kv/fwd', payload: { value: 'ok' } });
    expect(res.statusCode).toBe(200);
    await leader.readBarrier();
    expect(c.member(leader.nodeId).stateMachine.get('fwd')).toBe('ok');
  });
});

describe('cluster admin', () => {
  it('requires the cluster secret', async () => {
    const c = await startCluster();
    const leader = await c.waitForLeader();
    const app = await appFor(c, leader);
    const none = await app.inject({ method: 'POST', url: '/v1/cluster/members', payload: { id: 'n4', url: 'http://127.0.0.1:1' } });
    expect(none.statusCode).toBe(401);
    expect(none.json().error.code).toBe('UNAUTHORIZED');
    const wrong = await app.inject({ method: 'DELETE', url: '/v1/cluster/members/n3', headers: { 'x-ratify-secret': 'nope' } });
    expect(wrong.statusCode).toBe(401);
    expect(leader.status().members).toHaveLength(3);
  });

  it('adds a learner, refuses to promote it while it has not caught up, and removes it; unknown members are 404', async () => {
    const c = await startCluster();
    const leader = await c.waitForLeader();
    const app = await appFor(c, leader);
    const add = await app.inject({
      method: 'POST',
      url: '/v1/cluster/members',
      headers: admin,
      payload: { id: 'n4', url: 'http://127.0.0.1:1/' },
    });
    expect(add.statusCode).toBe(200);
    expect(add.json().members).toContainEqual({ id: 'n4', url: 'http://127.0.0.1:1', voter: false });
    // Nothing listens at n4's address: it never acknowledges an entry.
    const promote = await app.inject({ method: 'POST', url: '/v1/cluster/members/n4/promote', headers: admin });
    expect(promote.statusCode).toBe(409);
    expect(promote.json().error).toMatchObject({
      code: 'LEARNER_NOT_CAUGHT_UP',
      id: 'n4',
      matchIndex: null,
      lastIndex: leader.coreStatus().lastIndex,
    });
    expect(leader.status().members).toContainEqual({ id: 'n4', url: 'http://127.0.0.1:1', voter: false });
    const remove = await app.inject({ method: 'DELETE', url: '/v1/cluster/members/n4', headers: admin });
    expect(remove.statusCode).toBe(200);
    expect(remove.json().members.map((m: { id: string }) => m.id)).toEqual(['n1', 'n2', 'n3']);
    const unknown = await app.inject({ method: 'DELETE', url: '/v1/cluster/members/n9', headers: admin });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error).toMatchObject({ code: 'MEMBER_NOT_FOUND', id: 'n9' });
    const badBody = await app.inject({ method: 'POST', url: '/v1/cluster/members', headers: admin, payload: { id: 'n5', url: 'ftp://x' } });
    expect(badBody.statusCode).toBe(400);
  });

  it('promotes a learner once it has caught up, and it becomes a voter', async () => {
    const c = await startCluster({ ids: ['n1', 'n2', 'n3', 'n4'], voters: ['n1', 'n2', 'n3'], start: ['n1', 'n2', 'n3'] });
    const leader = await c.waitForLeader();
    const app = await appFor(c, leader);
    // More history than promoteLagEntriesMax (8 in FAST_RAFT) for the learner to catch up on.
    for (let i = 0; i < 30; i++) await leader.propose(encodeKvCommand({ op: 'put', key: `k${i}`, value: String(i) }));
    const add = await app.inject({ method: 'POST', url: '/v1/cluster/members', headers: admin, payload: { id: 'n4', url: c.urlOf('n4') } });
    expect(add.statusCode).toBe(200);
    const early = await app.inject({ method: 'POST', url: '/v1/cluster/members/n4/promote', headers: admin });
    expect(early.statusCode).toBe(409);
    expect(early.json().error.code).toBe('LEARNER_NOT_CAUGHT_UP');

    const learner = await c.start('n4');
    expect(learner.status().role).toBe('learner');
    const promoted = await waitUntil(
      async () => {
        const res = await app.inject({ method: 'POST', url: '/v1/cluster/members/n4/promote', headers: admin });
        return res.statusCode === 409 && res.json().error.code === 'LEARNER_NOT_CAUGHT_UP' ? undefined : res;
      },
      { what: 'the learner to catch up' },
    );
    expect(promoted.statusCode).toBe(200);
    expect(promoted.json().members).toContainEqual({ id: 'n4', url: c.urlOf('n4'), voter: true });
    await waitUntil(() => learner.status().role === 'follower', { what: 'n4 to become a follower' });
    expect(c.member('n4').stateMachine.get('k29')).toBe('29');
    // Promoting a voter is not a catch-up question: the core refuses it as a config change.
    const again = await app.inject({ method: 'POST', url: '/v1/cluster/members/n4/promote', headers: admin });
    expect(again.json().error.code).toBe('INVALID_CONFIG_CHANGE');
  });

  it('removes the leader: 200 once the removal commits; the removed node says so on /v1/cluster and /readyz, and refuses clients', async () => {
    const c = await startCluster();
    const leader = await c.waitForLeader();
    // Membership changes wait for an entry of the leader's own term to commit.
    await leader.propose(encodeKvCommand({ op: 'put', key: 'first', value: '1' }));
    const app = await appFor(c, leader);
    const res = await app.inject({ method: 'DELETE', url: `/v1/cluster/members/${leader.nodeId}`, headers: admin });
    expect(res.statusCode).toBe(200);
    expect(res.json().members.map((m: { id: string }) => m.id)).not.toContain(leader.nodeId);
    await waitUntil(() => leader.status().removed, { what: 'the old leader to know it was removed' });
    const view = (await app.inject({ method: 'GET', url: '/v1/cluster' })).json();
    expect(view).toMatchObject({ nodeId: leader.nodeId, removed: true });
    expect(view.role).not.toBe('leader');
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ ready: false, removed: true });
    const write = await app.inject({ method: 'PUT', url: '/v1/kv/k', payload: { value: 'v' } });
    expect(write.statusCode).toBe(410);
    expect(write.json().error.code).toBe('MEMBER_REMOVED');
    const other = c.running().find((n) => n !== leader)!;
    expect((await (await appFor(c, other)).inject({ method: 'GET', url: '/v1/cluster' })).json()).toMatchObject({ removed: false });
  });

  it('transfers leadership to a follower', async () => {
    const c = await startCluster();
    const leader = await c.waitForLeader();
    const target = c.running().find((n) => n !== leader)!;
    const res = await (await appFor(c, leader)).inject({
      method: 'POST',
      url: '/v1/cluster/leadership-transfer',
      headers: admin,
      payload: { to: target.nodeId },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ leaderId: target.nodeId });
    expect((await c.waitForLeader()).nodeId).toBe(target.nodeId);
  });
});

describe('draining (node stop)', () => {
  it('answers new client requests SHUTTING_DOWN with Connection: close, keeps /healthz and Raft traffic, and answers waiting ones on demand', async () => {
    const c = await startCluster();
    const leader = await c.waitForLeader();
    const draining = new Draining();
    const app = await appFor(c, leader, { draining });
    // A write that cannot commit (the leader is cut off) waits when draining begins.
    c.network.partition([leader.nodeId]);
    const waiting = app.inject({ method: 'PUT', url: '/v1/kv/stuck', payload: { value: '1' } });
    await waitUntil(() => leader.coreStatus().lastIndex > leader.coreStatus().commitIndex, { what: 'the write to be proposed' });
    draining.begin();
    const fresh = await app.inject({ method: 'GET', url: '/v1/cluster' });
    expect(fresh.statusCode).toBe(503);
    expect(fresh.headers['connection']).toBe('close');
    expect(fresh.json()).toEqual({ error: { code: 'SHUTTING_DOWN', message: expect.any(String) } });
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const garbage = Buffer.from([0xc0]);
    const signed = messagesHeaders({ secret: SECRET, clusterId: 'ratify', from: 'n2', to: leader.nodeId }, garbage);
    const raft = await app.inject({
      method: 'POST',
      url: '/raft/v1/messages',
      headers: { 'content-type': 'application/msgpack', ...signed },
      payload: garbage,
    });
    expect(raft.statusCode).toBe(400); // reached the Raft route (and refused the garbage), not the drain
    expect(draining.answerPending()).toBe(1);
    const answered = await waiting;
    expect(answered.statusCode).toBe(503);
    expect(answered.json().error.code).toBe('SHUTTING_DOWN');
    c.network.heal();
  });
});

describe('GET /metrics', () => {
  it('exposes the Raft gauges in the Prometheus format', async () => {
    const c = await startCluster();
    const leader = await c.waitForLeader();
    const res = await (await appFor(c, leader)).inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(metricValue(res.body, 'ratify_raft_term')).toBe(leader.status().term);
    expect(metricValue(res.body, 'ratify_raft_role', { role: 'leader' })).toBe(1);
    expect(metricValue(res.body, 'ratify_raft_role', { role: 'follower' })).toBe(0);
    expect(metricValue(res.body, 'ratify_raft_storage_batches_total')).toBeGreaterThan(0);
    expect(metricValue(res.body, 'ratify_raft_applied_index')).toBe(leader.status().appliedIndex);
    expect(metricValue(res.body, 'ratify_raft_commit_index')).toBe(leader.status().commitIndex);
    // Read at scrape time: a write in between shows in the next scrape.
    await leader.propose(encodeKvCommand({ op: 'put', key: 'm', value: '1' }));
    const again = await (await appFor(c, leader)).inject({ method: 'GET', url: '/metrics' });
    expect(metricValue(again.body, 'ratify_raft_applied_index')).toBe(leader.status().appliedIndex);
    expect(metricValue(again.body, 'ratify_raft_applied_index')).toBeGreaterThan(metricValue(res.body, 'ratify_raft_applied_index') ?? 0);
  });
});
