// Backup and restore end to end: a 3-node coordinator cluster decides transactions
// both ways (and leaves one active), `ratify snapshot save` takes a backup from the
// leader, the cluster is gone, `ratify snapshot restore` writes the backup into the
// data directories of a new 3-node cluster on other ports, and the new cluster
// reports the same state and outcome for every transaction, and keeps working.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TransactionPage, TransactionView } from '../../src/sdk/client-types.js';
import { createKvStateMachine } from '../../src/kv/state-machine.js';
import { decodeBackup, encodeBackup } from '../../src/storage/backup-file.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { ratify } from './cli-harness.js';

const tmp = mkdtempSync(join(tmpdir(), 'ratify-backup-'));
const clusters: TestCluster[] = [];
afterAll(async () => {
  for (const c of clusters) await c.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

function nodesEnv(c: TestCluster): Record<string, string> {
  return { RATIFY_NODES: c.initial.map((n) => n.url).join(',') };
}

async function transactions(env: Record<string, string>): Promise<Map<string, Pick<TransactionView, 'state' | 'outcome'>>> {
  const r = await ratify(['tx', 'list', '--all', '--json'], env);
  expect(r.code, r.stderr).toBe(0);
  return new Map(r.json<TransactionPage>().transactions.map((t) => [t.id, { state: t.state, outcome: t.outcome }]));
}

describe('ratify snapshot save and restore', () => {
  it('restores into a new cluster that reports the same outcomes', async () => {
    const old = await startCluster({ nodes: 3, stateMachine: 'tx' });
    clusters.push(old);
    await old.waitForLeader();
    const env = nodesEnv(old);
    for (let i = 0; i < 12; i++) {
      const tx = (await ratify(['tx', 'create', '--tx-timeout-ms', '600000', '--json'], env)).json<TransactionView>();
      if (i % 3 === 0) expect((await ratify(['tx', 'commit', tx.id], env)).code).toBe(0);
      if (i % 3 === 1) expect((await ratify(['tx', 'abort', tx.id], env)).code).toBe(0);
      // i % 3 === 2 stays active, its deadline far away.
    }
    // A decided transaction finishes a few ms after its decision (its completion entry rides
    // the completion queue); on a loaded machine the listing can come first. Wait for that, so
    // the backup holds finished transactions and the new cluster has nothing left to finish.
    let before = await transactions(env);
    for (let waited = 0; [...before.values()].some((t) => t.state === 'committing' || t.state === 'aborting'); waited += 100) {
      expect(waited, 'decided transactions still unfinished after 10 s').toBeLessThan(10_000);
      await new Promise((r) => setTimeout(r, 100));
      before = await transactions(env);
    }
    expect(before.size).toBe(12);
    expect([...before.values()].filter((t) => t.outcome === 'committed')).toHaveLength(4);

    const file = join(tmp, 'cluster.backup');
    const saved = await ratify(['snapshot', 'save', file, '--json'], env);
    expect(saved.code, saved.stderr).toBe(0);
    expect(saved.stderr).toContain('asking the leader for a snapshot');
    const header = decodeBackup(readFileSync(file)).header;
    expect(saved.json()).toMatchObject({ file, index: header.index, sha256: header.sha256, stateMachine: 'tx' });
    expect(header.members.map((m) => m.id).sort()).toEqual(['n1', 'n2', 'n3']);
    // A second save does not overwrite the file unless asked.
    expect((await ratify(['snapshot', 'save', file], env)).code).toBe(2);
    await old.cleanup();

    const restored = await startCluster({
      nodes: 3,
      stateMachine: 'tx',
      prepare: async (nodes) => {
        const peers = nodes.map((n) => `${n.id}=${n.url}`).join(',');
        for (const n of nodes) {
          const r = await ratify(['snapshot', 'restore', file, '--data', n.dataDir, '--peers', peers]);
          expect(r.code, r.stderr).toBe(0);
          expect(r.stdout).toMatch(new RegExp(`^index\\s+${header.index}$`, 'm'));
        }
      },
    });
    clusters.push(restored);
    const { term } = await restored.waitForLeader();
    expect(term).toBeGreaterThan(header.currentTerm);
    const newEnv = nodesEnv(restored);
    const after = await transactions(newEnv);
    expect(after).toEqual(before);

    // The new cluster works on: an active transaction of the backup commits.
    const active = [...before.entries()].find(([, t]) => t.state === 'active')![0];
    const committed = await ratify(['tx', 'commit', active, '--json'], newEnv);
    expect(committed.code, committed.stderr).toBe(0);
    expect(committed.json<TransactionView>().outcome).toBe('committed');
  });

  it('refuses a data directory in use and a damaged file (exit 2), and a save from nowhere (exit 3)', async () => {
    const dir = join(tmp, 'used');
    const file = join(tmp, 'damaged.backup');
    writeFileSync(file, 'RATIFY-BACKUP 1\n{"clusterId":"x"}\n');
    const damaged = await ratify(['snapshot', 'restore', file, '--data', dir]);
    expect(damaged.code).toBe(2);
    expect(damaged.stderr).toContain('backup header');

    writeFileSync(join(tmp, 'not-a-backup'), 'hello');
    expect((await ratify(['snapshot', 'restore', join(tmp, 'not-a-backup'), '--data', dir])).stderr).toContain('not a Ratify backup');
    expect((await ratify(['snapshot', 'restore', join(tmp, 'not-a-backup')])).code).toBe(2); // --data missing

    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'LOCK'), '');
    const backup = join(tmp, 'valid.backup');
    const members = [{ id: 'n1', url: 'http://127.0.0.1:7001', voter: true }];
    writeFileSync(
      backup,
      encodeBackup(
        {
          clusterId: 'ratify',
          stateMachine: 'kv',
          takenBy: 'n1',
          takenAt: new Date().toISOString(),
          index: 5,
          term: 2,
          currentTerm: 3,
          members,
        },
        createKvStateMachine().snapshot(),
      ),
    );
    const inUse = await ratify(['snapshot', 'restore', backup, '--data', dir]);
    expect(inUse.code).toBe(2);
    expect(inUse.stderr).toContain('is not empty');

    const unreachable = await ratify(['snapshot', 'save', join(tmp, 'x.backup'), '--nodes', 'http://127.0.0.1:1', '--timeout-ms', '500']);
    expect(unreachable.code).toBe(3);
  });
});
