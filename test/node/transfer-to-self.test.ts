// A leadership transfer to the node that already leads is done at once (issue 16: it
// used to wait for a new term that never comes, and answered 504 TIMEOUT after four
// election timeouts).
import { afterEach, expect, it } from 'vitest';
import { createKvStateMachine, encodeKvCommand, type KvStateMachine } from '../../src/kv/state-machine.js';
import { InProcessCluster } from '../helpers/in-process-cluster.js';

let cluster: InProcessCluster<KvStateMachine> | null = null;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = null;
});

it('a transfer to the current leader resolves without waiting for an election, and proposals go on', async () => {
  cluster = new InProcessCluster({ createStateMachine: () => createKvStateMachine() });
  await cluster.startAll();
  const leader = await cluster.waitForLeader();
  // A generous bound: without the shortcut this rejects with TIMEOUT once it runs out.
  await expect(leader.transferLeadership(leader.nodeId, { timeoutMs: 10_000 })).resolves.toBeUndefined();
  await expect(leader.propose(encodeKvCommand({ op: 'put', key: 'k', value: 'v' }))).resolves.toBeDefined();
  expect(cluster.fatalErrors).toEqual([]);
});
