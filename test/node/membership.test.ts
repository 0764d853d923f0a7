// Membership changes through the driver (RaftNode) over MemoryNetwork, which
// enforces the transport's rules as HTTP does (src/transport/peer-admission.ts):
// a node refuses a peer only once the peer's removal is committed and applied,
// and tells it so (MEMBER_REMOVED). Each test is a consequence of the old rule
// (refuse whatever the latest, uncommitted configuration lacks), which failed
// all three. Liveness waits are bounded polls; nothing asserts on timing.
import { afterEach, describe, expect, it } from 'vitest';
import { RatifyError } from '../../src/errors.js';
import { createKvStateMachine, encodeKvCommand, type KvStateMachine } from '../../src/kv/state-machine.js';
import type { RaftNode } from '../../src/node/raft-node.js';
import type { NodeId } from '../../src/raft/types.js';
import { type FAST_RAFT, InProcessCluster } from '../helpers/in-process-cluster.js';
import { sleep, waitUntil } from '../helpers/wait.js';

let cluster: InProcessCluster<KvStateMachine> | null = null;

function makeCluster(ids: readonly NodeId[], config: Partial<typeof FAST_RAFT> = {}): InProcessCluster<KvStateMachine> {
  cluster = new InProcessCluster({ ids, createStateMachine: () => createKvStateMachine(), config });
  return cluster;
}

afterEach(async () => {
  const c = cluster;
  cluster = null;
  if (c === null) return;
  c.network.heal();
  await c.stopAll();
  expect(c.fatalErrors).toEqual([]);
});

const put = (key: string, value: string): Uint8Array => encodeKvCommand({ op: 'put', key, value });
const ids = (n: RaftNode): string[] => n.status().members.map((m) => m.id);
/** Several election timeouts of FAST_RAFT (100-200 ms): long enough for a campaign to show in a term. */
const QUIET_MS = 1500;

/** The leader among `among`, acknowledged by every one of them in the same term. */
async function leaderAmong(c: InProcessCluster<KvStateMachine>, among: readonly NodeId[]): Promise<RaftNode> {
  return waitUntil(
    () => {
      const nodes = among.map((id) => c.node(id));
      const leader = nodes.find((n) => n.status().role === 'leader');
      if (leader === undefined) return undefined;
      const { term } = leader.status();
      return nodes.every((n) => n.status().leaderId === leader.nodeId && n.status().term === term) ? leader : undefined;
    },
    { what: `a leader among ${among.join(',')}` },
  );
}

/** Repeats a membership call while the cluster is not ready for it yet (a change in flight, a learner behind). */
async function retrying<T>(call: () => Promise<T>): Promise<T> {
  return waitUntil(
    async () => {
      try {
        return await call();
      } catch (err) {
        if (err instanceof RatifyError && (err.code === 'CONFIG_CHANGE_IN_PROGRESS' || err.code === 'LEARNER_NOT_CAUGHT_UP'))
          return undefined;
        throw err;
      }
    },
    { what: 'the membership call to be accepted' },
  );
}

function terms(c: InProcessCluster<KvStateMachine>): Record<string, number> {
  return Object.fromEntries(c.running().map((n) => [n.nodeId, n.status().term]));
}

describe.each([
  { preVote: true, checkQuorum: true },
  { preVote: false, checkQuorum: false },
])('membership over the transport (preVote $preVote, checkQuorum $checkQuorum)', (flags) => {
  it('a leader commits its own removal: the call resolves, the others elect a leader, the removed node knows and stays quiet', async () => {
    const c = makeCluster(['n1', 'n2', 'n3'], flags);
    await c.startAll();
    const old = await c.waitForLeader();
    await old.propose(put('before', '1'));
    // The followers append the removal first; they must still take the leader's messages and answer them.
    const members = await old.remove(old.nodeId);
    expect(members.map((m) => m.id)).not.toContain(old.nodeId);
    const rest = ['n1', 'n2', 'n3'].filter((id) => id !== old.nodeId);
    const next = await leaderAmong(c, rest);
    expect(ids(next)).toEqual(rest);
    await waitUntil(() => old.status().removed, { what: `${old.nodeId} to know it was removed` });
    expect(old.status().role).not.toBe('leader');
    await expect(old.propose(put('x', '1'))).rejects.toMatchObject({ code: 'MEMBER_REMOVED' });
    await next.propose(put('after', '1'));
    // Stable afterwards: nobody campaigns, the removed node included.
    const before = terms(c);
    await sleep(QUIET_MS);
    expect(terms(c)).toEqual(before);
    expect(next.status().role).toBe('leader');
  });

  it('a removed follower hears MEMBER_REMOVED when it campaigns, and stops', async () => {
    const c = makeCluster(['n1', 'n2', 'n3'], flags);
    await c.startAll();
    const leader = await c.waitForLeader();
    // Membership changes wait for an entry of the leader's own term to commit.
    await leader.propose(put('before', '1'));
    const victim = c.running().find((n) => n !== leader)!;
    await leader.remove(victim.nodeId);
    // The leader stops replicating to it at once; it learns of its removal from a refusal.
    await waitUntil(() => victim.status().removed, { what: `${victim.nodeId} to learn it was removed` });
    const before = terms(c);
    await sleep(QUIET_MS);
    expect(terms(c)).toEqual(before);
    expect(leader.status().role).toBe('leader');
    expect(ids(leader)).not.toContain(victim.nodeId);
  });
});

describe('membership over the transport: an uncommitted removal', () => {
  it('a follower holding an uncommitted removal of X follows X once X is elected under the old configuration', async () => {
    const all = ['n1', 'n2', 'n3', 'n4', 'n5'];
    const c = makeCluster(all);
    await c.startAll();
    const first = await c.waitForLeader();
    await first.propose(put('base', '1'));
    const [holder, x, ...others] = all.filter((id) => id !== first.nodeId) as [NodeId, NodeId, NodeId, NodeId];
    // Only `holder` gets the removal of x; it never commits.
    c.network.partition([first.nodeId, holder]);
    void first.remove(x).catch(() => undefined);
    await waitUntil(
      () =>
        !c
          .node(holder)
          .coreStatus()
          .members.some((m) => m.id === x),
      { what: `${holder} to append the removal of ${x}` },
    );
    await c.stop(first.nodeId);
    // x wins under the old configuration with the others (holder's longer log denies it holder's vote).
    c.network.partition([holder]);
    let leader = await leaderAmong(c, [x, ...others]);
    if (leader.nodeId !== x) {
      await leader.transferLeadership(x);
      leader = await leaderAmong(c, [x, ...others]);
    }
    expect(leader.nodeId).toBe(x);
    const res = (await leader.propose(put('after', '1'))) as { index: number };
    c.network.heal();
    // holder must take x's appends: drop its uncommitted removal, catch up, count again.
    await waitUntil(() => c.member(holder).stateMachine.get('after') === '1', { what: `${holder} to apply x's write` });
    expect(ids(c.node(holder))).toContain(x);
    expect(c.node(holder).status().appliedIndex).toBeGreaterThanOrEqual(res.index);
    expect(c.node(holder).status().removed).toBe(false);
  });
});

describe('membership over the transport: addresses', () => {
  it('a learner started with the initial voters as --peers catches up from a leader added after them', async () => {
    cluster = new InProcessCluster({
      ids: ['n1', 'n2', 'n3', 'n4', 'n5'],
      voters: ['n1', 'n2', 'n3'],
      createStateMachine: () => createKvStateMachine(),
    });
    const c = cluster;
    for (const id of ['n1', 'n2', 'n3']) await c.start(id);
    const first = await c.waitForLeader();
    await first.propose(put('base', '1'));
    await c.start('n4');
    await first.addLearner('n4', c.urlOf('n4'));
    await waitUntil(() => c.member('n4').stateMachine.get('base') === '1', { what: 'n4 to catch up' });
    await retrying(() => first.promote('n4'));
    await first.transferLeadership('n4');
    const n4 = c.node('n4');
    expect(n4.status().role).toBe('leader');
    // n5 knows n1..n3 only; its answers to n4 need the address n4 sends along.
    await c.start('n5');
    await retrying(() => n4.addLearner('n5', c.urlOf('n5')));
    await n4.propose(put('late', '1'));
    await waitUntil(() => c.member('n5').stateMachine.get('late') === '1', { what: 'n5 to catch up from n4' });
    expect(c.node('n5').status().role).toBe('learner');
  });
});
