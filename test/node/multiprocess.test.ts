// Three real node processes (`node dist/src/cli.js node --state-machine kv`) on
// loopback. What crosses a process boundary is tested here: SIGKILL of the leader,
// failover, durability of acknowledged writes, catch-up of a restarted node through
// InstallSnapshot, graceful SIGTERM, and refusing to start on a corrupt data dir.
//
// Failover time (SIGKILL -> next acknowledged write) is printed, never asserted.
import { Level } from 'level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HARD_STATE_KEY } from '../../src/storage/level-keys.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { httpJson, metricValue } from '../helpers/http.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const SNAPSHOT_THRESHOLD = 20;

let cluster: TestCluster | null = null;

beforeAll(async () => {
  // No trail behind snapshots (--snapshot-catchup-entries 0): the killed node must catch up by InstallSnapshot.
  cluster = await startCluster({
    nodes: 3,
    stateMachine: 'kv',
    args: ['--snapshot-threshold-entries', String(SNAPSHOT_THRESHOLD), '--snapshot-catchup-entries', '0'],
  });
});

afterAll(async () => {
  await cluster?.cleanup();
});

function c(): TestCluster {
  if (cluster === null) throw new Error('cluster not started');
  return cluster;
}

/** PUT through any live node until one acknowledges (followers forward to the leader). */
async function putAcked(key: string, value: string, via: readonly string[], timeoutMs = 30_000): Promise<void> {
  let attempt = 0;
  await waitUntil(
    async () => {
      const id = via[attempt++ % via.length]!;
      const res = await httpJson('PUT', `${c().url(id)}/v1/kv/${key}`, { body: { value }, timeoutMs: 5000 });
      if (res.status === 200) return true;
      await sleep(10);
      return false;
    },
    { timeoutMs, intervalMs: 0, what: `write ${key} to be acknowledged` },
  );
}

async function expectAllPresent(acked: ReadonlyMap<string, string>, on: readonly string[]): Promise<void> {
  for (const id of on) {
    for (const [key, value] of acked) {
      // GET is linearizable (ReadIndex), so it must see every acknowledged write.
      const res = await waitUntil(
        async () => {
          const r = await httpJson<{ found: boolean; value: string | null }>('GET', `${c().url(id)}/v1/kv/${key}`, { timeoutMs: 5000 });
          return r.status === 200 ? r.body : undefined;
        },
        { what: `GET ${key} on ${id}` },
      );
      expect({ id, key, value: res.value }).toEqual({ id, key, value });
    }
  }
}

describe('multi-process failover (kv state machine)', () => {
  it('keeps every acknowledged write across a leader SIGKILL and catches the restarted node up via InstallSnapshot', async () => {
    const all = c().nodes.map((n) => n.id);
    const acked = new Map<string, string>();
    const { leaderId } = await c().waitForLeader();

    for (let i = 0; i < 30; i++) {
      await putAcked(`before-${i}`, `v${i}`, all);
      acked.set(`before-${i}`, `v${i}`);
    }
    await expectAllPresent(acked, all);

    const survivors = all.filter((id) => id !== leaderId);
    const killedAt = performance.now();
    await c().stopNode(leaderId, 'SIGKILL');
    await putAcked('after-kill', 'x', survivors);
    const failoverMs = performance.now() - killedAt;
    acked.set('after-kill', 'x');
    console.log(`failover: SIGKILL of leader ${leaderId} -> next acknowledged write in ${failoverMs.toFixed(0)} ms`);
    const next = await c().waitForLeader();
    expect(next.leaderId).not.toBe(leaderId);

    // Enough writes that the new leader compacts past everything the killed node has.
    for (let i = 0; i < 3 * SNAPSHOT_THRESHOLD; i++) {
      await putAcked(`after-${i}`, `w${i}`, survivors);
      acked.set(`after-${i}`, `w${i}`);
    }
    await expectAllPresent(acked, survivors);
    const leaderView = await c().view(next.leaderId);
    expect(leaderView.snapshotIndex).toBeGreaterThan(31);

    await c().startNode(leaderId);
    await expectAllPresent(acked, [leaderId]);
    const installed = metricValue(await c().metrics(leaderId), 'ratify_raft_snapshots_installed_total');
    expect(installed).toBeGreaterThanOrEqual(1);
    // The leader's transport metrics: messages went out, batched into envelopes.
    const leaderMetrics = await c().metrics(next.leaderId);
    const sent = metricValue(leaderMetrics, 'ratify_raft_messages_total', { outcome: 'sent' }) ?? 0;
    const envelopes = metricValue(leaderMetrics, 'ratify_raft_envelopes_total') ?? 0;
    expect(sent).toBeGreaterThan(0);
    expect(envelopes).toBeGreaterThan(0);
    expect(envelopes).toBeLessThanOrEqual(sent);
    const restartedView = await c().view(leaderId);
    expect(restartedView.role).toBe('follower');
    expect(restartedView.snapshotIndex).toBeGreaterThanOrEqual(leaderView.snapshotIndex!);
  });

  it('stops gracefully on SIGTERM and restarts from its data directory', async () => {
    const { leaderId } = await c().waitForLeader();
    const follower = c().nodes.find((n) => n.id !== leaderId)!.id;
    const exit = await c().stopNode(follower, 'SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    await putAcked('while-down', '1', [leaderId]);
    await c().startNode(follower);
    await expectAllPresent(new Map([['while-down', '1']]), [follower]);
  });

  it('refuses to start on a corrupt data directory (exit code 3, clear message)', async () => {
    const { leaderId } = await c().waitForLeader();
    const victim = c().nodes.find((n) => n.id !== leaderId)!;
    await c().stopNode(victim.id, 'SIGKILL');
    const db = new Level<string, Uint8Array>(victim.dataDir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    await db.put(HARD_STATE_KEY, new Uint8Array([1, 2, 3, 4]));
    await db.close();
    await expect(c().startNode(victim.id)).rejects.toThrow(/exited during start-up/);
    expect(victim.lastExit).toEqual({ code: 3, signal: null });
    expect(victim.logs.join('\n')).toMatch(/failed its integrity checks/);
    // The cluster keeps serving with the two healthy nodes.
    await putAcked(
      'still-serving',
      '1',
      c()
        .live()
        .map((n) => n.id),
    );
  });
});
