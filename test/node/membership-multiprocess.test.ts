// Membership churn with real node processes over HTTP (`node dist/src/cli.js node
// --state-machine kv`): a fourth process joins as a learner (--join), is promoted,
// a follower is removed, then the leader removes itself over the admin API. What
// crosses the process boundary is checked: the admin calls' answers, the new
// leader, a stable term afterwards (no removed node campaigning), and what the
// removed nodes say about themselves. Nothing asserts on timing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type ClusterView, type TestCluster } from '../helpers/cluster.js';
import { httpJson } from '../helpers/http.js';
import { sleep, waitUntil } from '../helpers/wait.js';

let cluster: TestCluster | null = null;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3, joiners: 1, stateMachine: 'kv' });
});

afterAll(async () => {
  await cluster?.cleanup();
});

function c(): TestCluster {
  if (cluster === null) throw new Error('cluster not started');
  return cluster;
}

/** Several election timeouts at the defaults (300-600 ms). */
const QUIET_MS = 4000;

async function putVia(id: string, key: string, value: string): Promise<number> {
  const res = await httpJson('PUT', `${c().url(id)}/v1/kv/${key}`, { body: { value }, timeoutMs: 5000 });
  return res.status;
}

async function putAcked(key: string, value: string, via: readonly string[]): Promise<void> {
  let attempt = 0;
  await waitUntil(async () => (await putVia(via[attempt++ % via.length]!, key, value)) === 200, {
    what: `write ${key} acknowledged`,
    intervalMs: 20,
  });
}

async function views(
  ids: readonly string[],
): Promise<Record<string, { term: number; role: string; leaderId: string | null; removed: boolean | undefined }>> {
  const out: Record<string, { term: number; role: string; leaderId: string | null; removed: boolean | undefined }> = {};
  for (const id of ids) {
    const v: ClusterView = await c().view(id);
    out[id] = { term: v.term, role: v.role, leaderId: v.leaderId, removed: v.removed };
  }
  return out;
}

const memberIds = (body: { members: { id: string; voter: boolean }[] }): string[] =>
  body.members.map((m) => `${m.id}${m.voter ? '' : '(learner)'}`).sort();

describe('membership churn over HTTP with real processes', () => {
  it('adds a learner, promotes it, removes a follower and then the leader; the rest elect a leader and stay in one term', async () => {
    const { leaderId } = await c().waitForLeader();
    for (let i = 0; i < 10; i++) await putAcked(`k${i}`, `v${i}`, ['n1', 'n2', 'n3']);

    // Add: n4 started with --join waits as a learner-to-be; the admin call adds it.
    await c().startNode('n4');
    const add = await httpJson('POST', `${c().url(leaderId)}/v1/cluster/members`, { body: { id: 'n4', url: c().url('n4') } });
    expect(add.status).toBe(200);
    expect(memberIds(add.body)).toEqual(['n1', 'n2', 'n3', 'n4(learner)']);
    // Promote once it has caught up (any node forwards admin calls to the leader).
    const promote = await waitUntil(
      async () => {
        const res = await httpJson('POST', `${c().url('n2')}/v1/cluster/members/n4/promote`, {});
        return res.status === 409 && res.body.error.code === 'LEARNER_NOT_CAUGHT_UP' ? undefined : res;
      },
      { what: 'n4 to catch up and be promoted' },
    );
    expect(promote.status).toBe(200);
    expect(memberIds(promote.body)).toEqual(['n1', 'n2', 'n3', 'n4']);
    await waitUntil(async () => (await c().view('n4')).role === 'follower', { what: 'n4 to become a follower' });

    // Remove a follower: it hears nothing more from the leader and learns of its removal from a peer's 410.
    const leader = (await c().waitForLeader()).leaderId;
    const follower = ['n1', 'n2', 'n3'].find((id) => id !== leader)!;
    const removeFollower = await httpJson('DELETE', `${c().url(leader)}/v1/cluster/members/${follower}`);
    expect(removeFollower.status).toBe(200);
    expect(memberIds(removeFollower.body)).not.toContain(follower);
    await waitUntil(async () => (await c().view(follower)).removed === true, { what: `${follower} to know it was removed` });
    await putAcked('after-follower', '1', [leader]);

    // Remove the leader itself: answered once the removal commits.
    const removeLeader = await httpJson('DELETE', `${c().url(leader)}/v1/cluster/members/${leader}`, { timeoutMs: 15_000 });
    expect({ status: removeLeader.status, body: removeLeader.body }).toMatchObject({ status: 200 });
    const rest = ['n1', 'n2', 'n3', 'n4'].filter((id) => id !== leader && id !== follower);
    expect(memberIds(removeLeader.body)).toEqual(rest);
    const next = await c().waitForLeader({ among: rest, quorum: rest.length });
    expect(rest).toContain(next.leaderId);
    await waitUntil(async () => (await c().view(leader)).removed === true, { what: `${leader} to know it was removed` });
    await putAcked('after-leader', '1', rest);
    expect(await putVia(leader, 'from-removed', '1')).toBe(410);

    // Stable afterwards: same leader and term everywhere, removed nodes included (they do not campaign).
    const all = ['n1', 'n2', 'n3', 'n4'];
    const before = await views(all);
    await sleep(QUIET_MS);
    const after = await views(all);
    expect(after).toEqual(before);
    for (const id of rest) expect(after[id]).toMatchObject({ leaderId: next.leaderId, term: next.term, removed: false });
    for (const id of [leader, follower]) expect(after[id]!.removed).toBe(true);
    expect(c().node(leader).logs.join('\n')).toMatch(/this node was removed from the cluster/);
    expect(c().node(follower).logs.join('\n')).toMatch(/this node was removed from the cluster/);
  });
});
