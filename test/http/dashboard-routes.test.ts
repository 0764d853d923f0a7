// The dashboard's page, files and JSON endpoints on the node's real app (buildApp),
// three coordinator nodes listening on loopback with HTTP participants.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.js';
import { ASSET_DIR, AssetStore, PAGE_CSP } from '../../src/http/static-assets.js';
import { silentLogger } from '../../src/logger.js';
import { createKvStateMachine, type KvStateMachine } from '../../src/kv/state-machine.js';
import type { TxView } from '../../src/tx/types.js';
import { httpJson } from '../helpers/http.js';
import { InProcessCluster } from '../helpers/in-process-cluster.js';
import { startTxAppCluster, type TxAppCluster } from '../helpers/tx-app-cluster.js';
import { waitUntil } from '../helpers/wait.js';
import { FakeParticipant } from '../tx/fake-participant.js';

let cluster: TxAppCluster;
let a: FakeParticipant;
let b: FakeParticipant;

beforeEach(async () => {
  cluster = await startTxAppCluster({ dashboard: { intervalMs: 100, probeTimeoutMs: 1000 } });
  a = await FakeParticipant.start();
  b = await FakeParticipant.start();
});
afterEach(async () => {
  await cluster.close();
  await a.close();
  await b.close();
});

const get = (url: string) => httpJson('GET', url, { timeoutMs: 5000 });

async function commitOne(nodeUrl: string): Promise<TxView> {
  const res = await httpJson<TxView>('POST', `${nodeUrl}/v1/transactions`, {
    body: {
      participants: [
        { name: 'a', url: a.url, payload: 1 },
        { name: 'b', url: b.url },
      ],
      commit: true,
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

describe('the page and its files', () => {
  it('GET / is the dashboard, with a strict content security policy and a validator', async () => {
    const { app } = await cluster.follower();
    const res = await app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toBe(PAGE_CSP);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.body).toContain('<script type="module" src="assets/dashboard.js">');
    const again = await app.inject({ method: 'GET', url: '/', headers: { 'if-none-match': String(res.headers['etag']) } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
  });

  it('serves every script and style the pages load, and every module those import', async () => {
    const { app } = await cluster.follower();
    const wanted = new Set<string>();
    for (const page of ['/', '/docs']) {
      const html = (await app.inject({ method: 'GET', url: page })).body;
      for (const m of html.matchAll(/(?:src|href)="assets\/([^"]+)"/g)) wanted.add(m[1]!);
    }
    for (const name of [...wanted]) {
      if (!name.endsWith('.js')) continue;
      for (const m of readFileSync(join(ASSET_DIR, name), 'utf8').matchAll(/from '\.\/([^']+)'/g)) wanted.add(m[1]!);
    }
    expect([...wanted].sort()).toEqual(['charts.js', 'dashboard.js', 'docs.js', 'format.js', 'ratify.css']);
    for (const name of wanted) {
      const res = await app.inject({ method: 'GET', url: `/assets/${name}` });
      expect(res.statusCode, name).toBe(200);
      expect(res.headers['content-type']).toBe(name.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8');
      expect(res.body).toBe(readFileSync(join(ASSET_DIR, name), 'utf8'));
    }
  });

  it('anything else under /assets is not found or refused, never read from disk', async () => {
    const { app } = await cluster.follower();
    const notFound = await app.inject({ method: 'GET', url: '/assets/nope.js' });
    expect(notFound.statusCode).toBe(404);
    expect(notFound.json().error.code).toBe('ROUTE_NOT_FOUND');
    for (const url of ['/assets/tsconfig.json', '/assets/..%2F..%2Fapp.ts', '/assets/dashboard.html']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error.code).toBe('VALIDATION_FAILED');
    }
  });

  it('a build without the copied files fails when the app is built, saying how to fix it', () => {
    expect(() => new AssetStore('/nonexistent/ratify-assets')).toThrow(/run `npm run build`/);
  });
});

describe('GET /v1/cluster/nodes over HTTP', () => {
  it("shows every member's own status from any node, and the leader's loss and successor", async () => {
    const leader = await cluster.leader();
    const follower = await cluster.follower();
    const healthy = await waitUntil(
      async () => {
        const res = await get(`${follower.url}/v1/cluster/nodes`);
        return res.status === 200 && res.body.leaderId === leader.id && res.body.members.every((m: { health: string }) => m.health === 'ok')
          ? res.body
          : undefined;
      },
      { what: 'all members ok' },
    );
    expect(healthy.observedBy).toBe(follower.id);
    expect(healthy.members.map((m: { id: string }) => m.id).sort()).toEqual(['n1', 'n2', 'n3']);
    for (const m of healthy.members) {
      expect(m.report.nodeId).toBe(m.id);
      expect(m.report.role).toBe(m.id === leader.id ? 'leader' : 'follower');
      expect(m.lagEntries).toBeGreaterThanOrEqual(0);
    }

    await cluster.kill(leader.id);
    const after = await waitUntil(
      async () => {
        const res = await get(`${follower.url}/v1/cluster/nodes`);
        return res.status === 200 && res.body.leaderId !== null && res.body.leaderId !== leader.id ? res.body : undefined;
      },
      { what: 'a new leader in the survey' },
    );
    const old = after.members.find((m: { id: string }) => m.id === leader.id);
    expect(old).toMatchObject({ health: 'unreachable', report: null, lagEntries: null });
    expect(old.error).toMatch(/ECONNREFUSED/);
    expect(after.term).toBeGreaterThan(healthy.term);
  });
});

describe('GET /v1/stats and GET /v1/activity', () => {
  it('a follower draws the decisions the leader made, and lists them as recent outcomes', async () => {
    const follower = await cluster.follower();
    const views = [await commitOne(follower.url), await commitOne(follower.url)];
    const stats = await waitUntil(
      async () => {
        const res = await get(`${follower.url}/v1/stats`);
        const committed = res.body.samples.reduce((n: number, s: { committed: number }) => n + s.committed, 0);
        // The Raft indexes are sampled on the sampler's own tick, which may come after the decisions are counted.
        const sampledRaft = res.body.samples.some(
          (s: { raft: { appliedIndex: number } | null }) => s.raft !== null && s.raft.appliedIndex > 0,
        );
        return committed === 2 && sampledRaft ? res.body : undefined;
      },
      { what: 'two decisions and a Raft sample in the follower series' },
    );
    expect(stats).toMatchObject({ nodeId: follower.id, intervalMs: 100 });
    expect(stats.samples.some((s: { raft: { appliedIndex: number } | null }) => s.raft !== null && s.raft.appliedIndex > 0)).toBe(true);
    const timed = stats.samples.filter((s: { decisionLatencyMs: unknown }) => s.decisionLatencyMs !== null);
    expect(timed.length).toBeGreaterThan(0);
    expect(timed[0].decisionLatencyMs.max).toBeGreaterThanOrEqual(timed[0].decisionLatencyMs.p50);

    const activity = await get(`${follower.url}/v1/activity?limit=5`);
    expect(activity.status).toBe(200);
    expect(activity.body).toMatchObject({
      nodeId: follower.id,
      stuckAfterMs: 10_000,
      inFlight: { count: expect.any(Number) },
      failing: { count: 0, participants: [] },
    });
    expect(activity.body.recent.map((r: { tx: TxView }) => r.tx.id)).toEqual([views[1]!.id, views[0]!.id]);
    expect(activity.body.recent[0].tx).toMatchObject({
      outcome: 'committed',
      participants: [
        { name: 'a', vote: 'commit' },
        { name: 'b', vote: 'commit' },
      ],
    });
  });

  it('refuses bad query parameters', async () => {
    const { url } = await cluster.follower();
    for (const q of ['limit=0', 'limit=501', 'stuckAfterMs=-1', 'colour=red', 'limit=ten']) {
      const res = await get(`${url}/v1/activity?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
  });
});

describe('a node of the kv state machine', () => {
  let kv: InProcessCluster<KvStateMachine> | null = null;
  afterEach(async () => {
    await kv?.stopAll();
    kv = null;
  });

  it('serves the page, the stats and the members, and no /v1/activity (it has no transactions)', async () => {
    kv = new InProcessCluster({ ids: ['k1'], createStateMachine: () => createKvStateMachine() });
    await kv.startAll();
    const node = await kv.waitForLeader();
    const m = kv.member('k1');
    const app = await buildApp({
      config: {
        nodeId: 'k1',
        clusterId: 'ratify',
        clusterSecret: null,
        bodyLimitBytes: 1 << 16,
        raftBodyLimitBytes: 1 << 20,
        readyLagEntriesMax: 0,
        forwardTimeoutMs: 1000,
      },
      node,
      logger: silentLogger(),
      metrics: m.metrics,
      onRaftMessages: (msgs) => node.receive(msgs),
      kv: m.stateMachine,
    });
    try {
      expect((await app.inject({ method: 'GET', url: '/' })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/v1/stats' })).statusCode).toBe(200);
      const nodes = await app.inject({ method: 'GET', url: '/v1/cluster/nodes' });
      expect(nodes.json()).toMatchObject({ leaderId: 'k1', members: [{ id: 'k1', health: 'ok' }] });
      const activity = await app.inject({ method: 'GET', url: '/v1/activity' });
      expect(activity.statusCode).toBe(404);
      expect(activity.json().error.code).toBe('ROUTE_NOT_FOUND');
    } finally {
      await app.close();
    }
  });
});
