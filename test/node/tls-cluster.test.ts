// Real node processes over HTTPS with mutual TLS (README, "Security"), certificates from a
// throwaway CA made by openssl. Four voters are configured: n1..n3 hold
// certificates of the cluster CA, n4 one of another CA (it trusts the cluster CA,
// as anyone can who saw a certificate, so its own calls get as far as the server).
//   - n1..n3 elect a leader, replicate and forward writes over HTTPS, and the
//     client SDK works against them;
//   - n4 can neither vote nor append: its calls are refused by the auth hook, and
//     nobody can send to it (its certificate does not verify), so it never hears
//     of a leader or an entry; nor can it join as a learner (never caught up);
//   - a certificate of the cluster CA that names another member is refused too.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RatifyClient } from '../../src/sdk/client.js';
import { RAFT_STREAM_PATH, STREAM_CONTENT_TYPE } from '../../src/transport/raft-routes.js';
import { makeCa, makeCert, type TestCa } from '../helpers/certs.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { httpJson } from '../helpers/http.js';
import { eventually, sleep, waitUntil } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'ratify-tls-'));
let cluster: TestCluster | null = null;
let good: TestCa;
let foreign: TestCa;
let operator: Agent;
const agents: Agent[] = [];

function agent(cert?: { cert: string; key: string }, cas: readonly TestCa[] = [good, foreign]): Agent {
  const a = new Agent({
    connect: {
      ca: cas.map((c) => readFileSync(c.cert)),
      ...(cert === undefined ? {} : { cert: readFileSync(cert.cert), key: readFileSync(cert.key) }),
    },
  });
  agents.push(a);
  return a;
}

beforeAll(async () => {
  good = makeCa(dir, 'cluster-ca');
  foreign = makeCa(dir, 'other-ca');
  const tlsArgs = (ca: TestCa, id: string): string[] => {
    const c = makeCert(ca, id);
    return ['--tls-cert', c.cert, '--tls-key', c.key];
  };
  // The test's own calls trust both CAs (to watch n4 too) and present an operator certificate of the cluster CA.
  operator = agent(makeCert(good, 'operator', ['DNS:operator']));
  cluster = await startCluster({
    nodes: 4,
    stateMachine: 'kv',
    https: { dispatcher: operator },
    args: ['--tls-ca', good.cert, '--tls-mutual', 'true'],
    nodeArgs: { n1: tlsArgs(good, 'n1'), n2: tlsArgs(good, 'n2'), n3: tlsArgs(good, 'n3'), n4: tlsArgs(foreign, 'n4') },
  });
}, 120_000);

afterAll(async () => {
  await cluster?.cleanup();
  for (const a of agents) await a.close();
  rmSync(dir, { recursive: true, force: true });
});

function c(): TestCluster {
  if (cluster === null) throw new Error('cluster not started');
  return cluster;
}

describe('a cluster over HTTPS with mutual TLS', () => {
  it('elects among the cluster-CA nodes, replicates and forwards writes over HTTPS, and serves the client SDK', async () => {
    const { leaderId } = await c().waitForLeader({ timeoutMs: 60_000 });
    expect(['n1', 'n2', 'n3']).toContain(leaderId);
    for (const id of ['n1', 'n2', 'n3']) {
      const res = await httpJson('PUT', `${c().url(id)}/v1/kv/via-${id}`, { body: { value: id }, ...c().http(10_000) });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    for (const id of ['n1', 'n2', 'n3']) {
      await waitUntil(async () => (await c().view(id)).appliedIndex >= (await c().view(leaderId)).commitIndex, {
        what: `${id} to catch up`,
      });
    }
    const client = new RatifyClient({ nodes: [c().url('n1'), c().url('n2')], tls: { ca: readFileSync(good.cert) }, retries: 3 });
    try {
      expect((await client.cluster()).leaderId).toBe(leaderId);
    } finally {
      await client.close();
    }
    // Without the CA the client refuses the nodes' certificates.
    const untrusting = new RatifyClient({ nodes: [c().url('n1')], retries: 0, timeoutMs: 3000 });
    try {
      await expect(untrusting.cluster()).rejects.toMatchObject({ code: 'UNREACHABLE' });
    } finally {
      await untrusting.close();
    }
  });

  it('a node with a certificate of another CA can neither vote, append nor join', async () => {
    const { leaderId } = await c().waitForLeader({ timeoutMs: 60_000 });
    // The leader may be elected before n4 even listens (a loaded machine starts it last,
    // seconds later): wait for n4 to answer, then for its campaign to be refused.
    await waitUntil(() => c().view('n4'), { timeoutMs: 30_000, what: 'n4 to answer' });
    // Its pre-votes and votes were refused by the cluster's auth hook...
    await eventually(() => expect(c().node('n4').logs.join('\n')).toMatch(/the client certificate is not trusted/), 20_000);
    await sleep(2000); // several more election timeouts of n4 campaigning
    const n4 = await c().view('n4');
    expect(n4.leaderId).toBeNull();
    expect(n4.commitIndex).toBe(0);
    expect(n4.appliedIndex).toBe(0);
    expect(n4.role).not.toBe('leader');
    // ...and the leader cannot reach it: the term never moved for its sake.
    expect((await c().view(leaderId)).term).toBe((await c().waitForLeader()).term);
    // Join: added as a learner under another id at its address, it never catches up.
    const learner = await httpJson('POST', `${c().url(leaderId)}/v1/cluster/members`, {
      body: { id: 'n9', url: c().url('n4') },
      ...c().http(10_000),
    });
    expect(learner.status, JSON.stringify(learner.body)).toBe(200);
    await sleep(1000);
    const promote = await httpJson('POST', `${c().url(leaderId)}/v1/cluster/members/n9/promote`, c().http(10_000));
    expect(promote.status).toBe(409);
    expect(promote.body).toMatchObject({ error: { code: 'LEARNER_NOT_CAUGHT_UP' } });
  });

  it('refuses peer calls before the body: no certificate, another CA, or a cluster certificate naming someone else', async () => {
    const url = `${c().url('n1')}${RAFT_STREAM_PATH}`;
    const open = async (dispatcher: Agent, from: string): Promise<{ status: number; body: string }> => {
      const res = await request(url, {
        method: 'POST',
        dispatcher,
        headers: { 'content-type': STREAM_CONTENT_TYPE, 'x-ratify-from': from, 'x-ratify-cluster-id': 'ratify' },
        body: Buffer.alloc(0),
        headersTimeout: 5000,
        bodyTimeout: 5000,
      });
      return { status: res.statusCode, body: await res.body.text() };
    };
    const none = await open(agent(undefined, [good]), 'n2');
    expect(none).toEqual({ status: 401, body: expect.stringMatching(/no client certificate/) });
    const other = await open(agent(makeCert(foreign, 'n2'), [good]), 'n2');
    expect(other).toEqual({ status: 401, body: expect.stringMatching(/not trusted/) });
    const impostor = await open(agent(makeCert(good, 'n2'), [good]), 'n3');
    expect(impostor).toEqual({ status: 403, body: expect.stringMatching(/names n2, not the sender id/) });
    // Admin calls without a cluster secret need a certificate of the cluster CA.
    const admin = await httpJson('POST', `${c().url('n1')}/v1/cluster/leadership-transfer`, {
      body: { to: 'n2' },
      dispatcher: agent(undefined, [good]),
      timeoutMs: 5000,
    });
    expect(admin.status).toBe(401);
  });
});
