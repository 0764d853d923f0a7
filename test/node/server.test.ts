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
    const logger = () => createLogger({ level: 'info', nodeId: 'solo', term: () => first?.node.term, destination: { write: (s: string) => void lines.push(s) } });
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

    const leaderLine = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['msg'] === 'became leader; state machine is up to date');
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
});
