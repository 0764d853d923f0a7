// startNode() in-process with the transaction state machine: real LevelDB, real
// HTTP on loopback. Checks the wiring (tx API mounted, logs carry nodeId and term)
// and that stop() releases everything so the same data directory reopens.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { resolveNodeConfig } from '../../src/node/config.js';
import { startNode, type RunningNode } from '../../src/node/server.js';
import { freePorts } from '../helpers/cluster.js';
import { httpJson } from '../helpers/http.js';
import { waitUntil } from '../helpers/wait.js';

const dataRoot = mkdtempSync(join(tmpdir(), 'ratify-server-'));
const running: RunningNode[] = [];

afterAll(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
  rmSync(dataRoot, { recursive: true, force: true });
});

describe('startNode', () => {
  it('serves the cluster, health and transaction APIs, logs nodeId and term, and reopens its data dir after stop', async () => {
    const [port] = await freePorts(1);
    const url = `http://127.0.0.1:${port}`;
    const config = resolveNodeConfig({ flags: { id: 'solo', peers: `solo=${url}`, dataDir: join(dataRoot, 'solo'), stateMachine: 'tx' } });
    const lines: string[] = [];
    const logger = () =>
      createLogger({
        level: 'info',
        nodeId: 'solo',
        term: () => first?.node.term,
        destination: { write: (s: string) => void lines.push(s) },
      });
    let first: RunningNode | null = null;
    first = await startNode(config, { processMetrics: false, logger: logger() });
    running.push(first);

    await waitUntil(async () => (await httpJson('GET', `${url}/readyz`)).status === 200, { what: 'single node ready' });
    const cluster = await httpJson('GET', `${url}/v1/cluster`);
    expect(cluster.body).toMatchObject({ nodeId: 'solo', role: 'leader', leaderId: 'solo' });
    const list = await httpJson('GET', `${url}/v1/transactions`);
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ transactions: [] });
    const created = await httpJson('POST', `${url}/v1/transactions`, { body: {} });
    expect(created.status).toBe(201);

    const leaderLine = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l['msg'] === 'became leader; state machine is up to date');
    expect(leaderLine).toMatchObject({ nodeId: 'solo', term: first.node.term });

    const termBefore = first.node.term;
    const appliedBefore = first.node.status().appliedIndex;
    await first.stop();
    running.splice(running.indexOf(first), 1);
    await expect(httpJson('GET', `${url}/healthz`, { timeoutMs: 1000 })).rejects.toThrow();

    const second = await startNode(config, { processMetrics: false, logger: logger() });
    running.push(second);
    await waitUntil(() => second.node.status().role === 'leader', { what: 'leader again' });
    expect(second.node.term).toBeGreaterThan(termBefore);
    await second.node.readBarrier();
    expect(second.node.status().appliedIndex).toBeGreaterThan(appliedBefore);
    const again = await httpJson<{ id: string }>('GET', `${url}/v1/transactions/${(created.body as { id: string }).id}`);
    expect(again.status).toBe(200);
  });

  it('wires the client security settings: tokens on every client route, the start-up warnings, the URL policy, the depth limit', async () => {
    const [port] = await freePorts(1);
    const url = `http://127.0.0.1:${port}`;
    const token = 'server-test-token-0123456789';
    const config = resolveNodeConfig({
      flags: { id: 'secure', peers: `secure=${url}`, dataDir: join(dataRoot, 'secure'), stateMachine: 'tx', jsonDepthMax: '8' },
      env: { RATIFY_TOKENS: `payments client ${token}` },
    });
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger({
      level: 'info',
      nodeId: 'secure',
      destination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
    });
    const node = await startNode(config, { processMetrics: false, logger });
    running.push(node);
    await waitUntil(async () => (await httpJson('GET', `${url}/readyz`)).status === 200, { what: 'single node ready' });
    const auth = { authorization: `Bearer ${token}` };
    expect((await httpJson('POST', `${url}/v1/transactions`, { body: {} })).status).toBe(401);
    expect((await httpJson('GET', `${url}/v1/cluster`)).status).toBe(401);
    const created = await httpJson<{ id: string }>('POST', `${url}/v1/transactions`, { body: {}, headers: auth });
    expect(created.status).toBe(201);
    expect(node.node.status().role).toBe('leader');
    const deep = await httpJson('POST', `${url}/v1/transactions`, {
      body: { participants: [{ name: 'a', url: 'http://127.0.0.1:9/x', payload: [[[[[[[[1]]]]]]]] }] },
      headers: auth,
    });
    expect(deep.status).toBe(400);
    const metadata = await httpJson('POST', `${url}/v1/transactions`, {
      body: { participants: [{ name: 'a', url: 'http://169.254.169.254/' }] },
      headers: auth,
    });
    expect(metadata.body).toMatchObject({ error: { code: 'PARTICIPANT_URL_REFUSED' } });
    // tokens set, on loopback: no warning; the token count and principals are logged, never the token
    expect(lines.filter((l) => l['level'] === 40)).toEqual([]);
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: 'client API tokens loaded', tokens: 1, principals: ['payments'], ownTransactionsOnly: true }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: 'audit', audit: 'tx.create', principal: 'payments', txId: created.body.id, status: 201 }),
    );
    expect(JSON.stringify(lines)).not.toContain(token);
  });
});
