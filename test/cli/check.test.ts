// The consistency check across replicas: three nodes that applied the same log hold
// the same state digests, and `ratify check` says so (exit 0). A fourth node started
// with RATIFY_TEST_LOSE_APPLY (src/node/test-switches.ts) loses the effect of the
// first entry it applies, as a lost write would; once it is added and has caught up,
// the leader's periodic check logs an error naming it and sets
// ratify_consistency_mismatch, and `ratify check` names it and exits 1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsistencyView } from '../../src/sdk/admin-types.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { httpJson, metricValue } from '../helpers/http.js';
import { waitUntil } from '../helpers/wait.js';
import { ratify } from './cli-harness.js';

let cluster: TestCluster;
let env: Record<string, string>;

beforeAll(async () => {
  cluster = await startCluster({
    nodes: 3,
    joiners: 1,
    stateMachine: 'tx',
    args: ['--consistency-interval-entries', '8', '--consistency-check-ms', '200'],
    nodeEnv: { n4: { NODE_ENV: 'test', RATIFY_TEST_LOSE_APPLY: '1' } },
  });
  await cluster.waitForLeader();
  env = { RATIFY_NODES: cluster.nodes.map((n) => n.url).join(',') };
});
afterAll(async () => cluster?.cleanup());

async function transactions(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const created = await ratify(['tx', 'create', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    expect((await ratify(['tx', 'commit', created.json<{ id: string }>().id], env)).code).toBe(0);
  }
}

async function check(args: string[] = []): Promise<{ code: number; view: ConsistencyView; stdout: string; stderr: string }> {
  const r = await ratify(['check', '--json', ...args], env);
  return { code: r.code, view: r.json<ConsistencyView>(), stdout: r.stdout, stderr: r.stderr };
}

describe('ratify check', () => {
  it('finds equal digests on replicas that applied the same log', async () => {
    await transactions(6);
    const done = await waitUntil(
      async () => {
        const r = await check(['--require-all']);
        return r.view.members.length === 3 && r.view.members.every((m) => m.verdict === 'match') ? r : undefined;
      },
      { timeoutMs: 20_000 },
    );
    expect(done.code).toBe(0);
    expect(done.view.mismatched).toEqual([]);
    const table = await ratify(['check'], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ID\s+VERDICT\s+INDEX\s+DIGEST/m);
    expect(table.stdout).toMatch(/^n\d \*\s+match/m);
  });

  it('names a replica whose state diverged: the leader logs it and counts it, and check exits 1', async () => {
    await cluster.startNode('n4');
    expect((await ratify(['members', 'add', 'n4', cluster.url('n4')], env)).code).toBe(0);
    const found = await waitUntil(
      async () => {
        await transactions(1);
        const r = await check();
        return r.view.mismatched.includes('n4') ? r : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(found.code).toBe(1);
    expect(found.view.mismatched).toEqual(['n4']);
    expect(found.stderr).toContain("MISMATCH: the state of n4 differs from the leader's");
    const n4 = found.view.members.find((m) => m.id === 'n4')!;
    expect(n4.digest).not.toBe(n4.referenceDigest);

    const table = await ratify(['check'], env);
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/^n4\s+mismatch/m);

    // The leader found it on its own too.
    const leaderId = found.view.referenceId!;
    await waitUntil(() => cluster.node(leaderId).logs.some((l) => l.includes('consistency check: the state of n4 differs')) || undefined, {
      timeoutMs: 10_000,
    });
    const metrics = await httpJson<string>('GET', `${cluster.url(leaderId)}/metrics`);
    expect(metricValue(metrics.body, 'ratify_consistency_mismatch')).toBe(1);
  });
});
