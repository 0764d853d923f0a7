// The driver's edge for inbound messages (src/node/inbound-guard.ts) in a running
// node: an implausible message is dropped before the core, counted in
// ratify_raft_rejected_messages_total{reason} and logged at warn with the peer id
// (throttled), and the node goes on; a snapshot whose data the state machine cannot
// read is refused before it replaces the log.
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { createKvStateMachine, type KvStateMachine } from '../../src/kv/state-machine.js';
import { encodeKvCommand } from '../../src/kv/state-machine.js';
import { metricValue } from '../helpers/http.js';
import { InProcessCluster } from '../helpers/in-process-cluster.js';
import { waitUntil } from '../helpers/wait.js';

let cluster: InProcessCluster<KvStateMachine> | null = null;
const lines: Array<Record<string, unknown>> = [];

afterEach(async () => {
  await cluster?.stopAll();
  expect(cluster?.fatalErrors ?? []).toEqual([]);
  cluster = null;
  lines.length = 0;
});

function start(): InProcessCluster<KvStateMachine> {
  const logger = createLogger({
    level: 'warn',
    nodeId: 'test',
    destination: { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  });
  cluster = new InProcessCluster({ createStateMachine: () => createKvStateMachine(), logger });
  return cluster;
}

describe('inbound guard in a running node', () => {
  it('drops an implausible message before the core, counts it by reason and warns with the peer id, once per interval', async () => {
    const c = start();
    await c.startAll();
    const leader = await c.waitForLeader();
    const follower = c.running().find((n) => n !== leader)!;
    const st = follower.coreStatus();
    const bogus = {
      type: 'heartbeat',
      from: leader.nodeId,
      to: follower.nodeId,
      term: st.term,
      leaderCommit: st.lastIndex + 1000,
      readSeq: 0,
    } as const;
    for (let i = 0; i < 5; i++) follower.receive([bogus]);
    const text = await c.member(follower.nodeId).metrics.registry.metrics();
    expect(metricValue(text, 'ratify_raft_rejected_messages_total', { reason: 'commit_beyond_log' })).toBe(5);
    expect(metricValue(text, 'ratify_raft_rejected_messages_total', { reason: 'two_leaders' })).toBe(0);
    const warned = lines.filter((l) => l['msg'] === 'dropped an implausible Raft message from a peer');
    expect(warned).toEqual([expect.objectContaining({ level: 40, peer: leader.nodeId, reason: 'commit_beyond_log', type: 'heartbeat' })]);
    // The node did not stop and still commits.
    await leader.propose(encodeKvCommand({ op: 'put', key: 'k', value: 'v' }));
    await waitUntil(() => c.member(follower.nodeId).stateMachine.get('k') === 'v', { what: 'the follower to apply' });
  });

  it('refuses a snapshot whose data the state machine cannot read, keeping its log', async () => {
    const c = start();
    await c.startAll();
    const leader = await c.waitForLeader();
    const follower = c.running().find((n) => n !== leader)!;
    const st = follower.coreStatus();
    const members = st.members;
    follower.receive([
      {
        type: 'snapshot',
        from: leader.nodeId,
        to: follower.nodeId,
        term: st.term,
        meta: { index: st.lastIndex + 50, term: st.term, members },
        offset: 0,
        chunk: new Uint8Array([0xc1, 0x00]),
        done: true,
      },
    ]);
    await waitUntil(
      async () =>
        metricValue(await c.member(follower.nodeId).metrics.registry.metrics(), 'ratify_raft_rejected_messages_total', {
          reason: 'snapshot_data',
        }) === 1,
      { what: 'the refusal to be counted' },
    );
    expect(follower.coreStatus().snapshotIndex).toBe(st.snapshotIndex);
    expect(lines).toContainEqual(expect.objectContaining({ peer: leader.nodeId, reason: 'snapshot_data' }));
    await leader.propose(encodeKvCommand({ op: 'put', key: 'k', value: 'v' }));
    await waitUntil(() => c.member(follower.nodeId).stateMachine.get('k') === 'v', { what: 'the follower to apply' });
  });
});
