// RaftNode (the driver) end to end in one process: three nodes over MemoryNetwork
// with MemoryRaftStorage and the KV state machine. Liveness waits are bounded
// polls; nothing asserts on timing.
import { afterEach, describe, expect, it } from 'vitest';
import { RatifyError, isRatifyError } from '../../src/errors.js';
import { createKvStateMachine, encodeKvCommand, type KvStateMachine } from '../../src/kv/state-machine.js';
import type { RaftNode } from '../../src/node/raft-node.js';
import type { LeadershipEvent } from '../../src/node/replicated-log.js';
import type { RaftStorage } from '../../src/storage/raft-storage.js';
import { FAST_RAFT, InProcessCluster } from '../helpers/in-process-cluster.js';
import { sleep, waitUntil } from '../helpers/wait.js';

let cluster: InProcessCluster<KvStateMachine> | null = null;

function makeCluster(config: ConstructorParameters<typeof InProcessCluster>[0]['config'] = {}): InProcessCluster<KvStateMachine> {
  cluster = new InProcessCluster({ createStateMachine: () => createKvStateMachine(), config });
  return cluster;
}

afterEach(async () => {
  const c = cluster;
  cluster = null;
  if (c === null) return;
  await c.stopAll();
  expect(c.fatalErrors).toEqual([]);
});

const put = (key: string, value: string): Uint8Array => encodeKvCommand({ op: 'put', key, value });

async function writeKeys(leader: RaftNode, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) await leader.propose(put(`k${i}`, `v${i}`));
}

function hasKeys(kv: KvStateMachine, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (kv.get(`k${i}`) !== `v${i}`) return false;
  return true;
}

async function rejection(p: Promise<unknown>): Promise<RatifyError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RatifyError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('RaftNode over MemoryNetwork', () => {
  it('elects a leader, commits proposals and applies them on every node', async () => {
    const c = makeCluster();
    await c.startAll();
    const leader = await c.waitForLeader();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => leader.propose(put(`k${i}`, `v${i}`))));
    // apply() results come back to the proposer: distinct, increasing log indexes.
    const indexes = results.map((r) => (r as { index: number }).index);
    expect(new Set(indexes).size).toBe(20);
    expect([...indexes].sort((a, b) => a - b)).toEqual(indexes);
    for (const m of c.members.values()) await waitUntil(() => hasKeys(m.stateMachine, 0, 20), { what: `${m.id} to apply 20 keys` });
    const st = leader.status();
    expect(st.appliedIndex).toBeGreaterThanOrEqual(indexes.at(-1)!);
    expect(st.leaderId).toBe(leader.nodeId);
    expect(st.members.map((m) => m.id)).toEqual(['n1', 'n2', 'n3']);
    // Group commit: the 20 proposals made in one synchronous burst went to disk in one synced batch.
    const hist = (await c.member(leader.nodeId).metrics.raft.storageBatchEntries.get()).values;
    const count = (le: number | string): number => hist.find((v) => v.metricName?.endsWith('_bucket') && v.labels['le'] === le)?.value ?? 0;
    expect(count(16)).toBeLessThan(count('+Inf'));
  });

  it('refuses proposals on a follower with NOT_LEADER naming the leader', async () => {
    const c = makeCluster();
    await c.startAll();
    const leader = await c.waitForLeader();
    const follower = c.running().find((n) => n !== leader)!;
    const err = await rejection(follower.propose(put('a', 'b')));
    expect(err.code).toBe('NOT_LEADER');
    expect(err.details).toMatchObject({ leaderId: leader.nodeId, leaderUrl: `http://${leader.nodeId}.invalid` });
  });

  it('serves a linearizable read barrier on a follower', async () => {
    const c = makeCluster();
    await c.startAll();
    const leader = await c.waitForLeader();
    const follower = c.running().find((n) => n !== leader)!;
    const followerKv = c.member(follower.nodeId).stateMachine;
    for (let i = 0; i < 10; i++) {
      await leader.propose(put('x', `v${i}`));
      // The write was acknowledged; a barrier on any node must observe it.
      await follower.readBarrier();
      expect(followerKv.get('x')).toBe(`v${i}`);
    }
  });

  it('refuses more than maxPendingProposals local proposals at once', async () => {
    const c = makeCluster({ maxPendingProposals: 2 });
    await c.startAll();
    const leader = await c.waitForLeader();
    const first = leader.propose(put('a', '1'));
    const second = leader.propose(put('b', '2'));
    const third = await rejection(leader.propose(put('c', '3')));
    expect(third.code).toBe('TOO_MANY_PENDING');
    await Promise.all([first, second]);
  });

  it('announces leadership only once the new leader has applied everything committed before', async () => {
    const c = makeCluster();
    await c.startAll();
    const leader = await c.waitForLeader();
    await writeKeys(leader, 0, 30);
    const seen: { id: string; event: LeadershipEvent; upToDate: boolean }[] = [];
    for (const n of c.running()) {
      if (n === leader) continue;
      const kv = c.member(n.nodeId).stateMachine;
      n.onLeadership((event) => seen.push({ id: n.nodeId, event, upToDate: hasKeys(kv, 0, 30) }));
    }
    await c.stop(leader.nodeId);
    const next = await c.waitForLeader();
    const announced = await waitUntil(() => seen.find((s) => s.event.isLeader), { what: 'a leadership event' });
    expect(announced.id).toBe(next.nodeId);
    expect(announced.event.term).toBe(next.status().term);
    expect(announced.upToDate).toBe(true);
  });

  it('fails the proposals of a leader cut off from its quorum with LEADERSHIP_LOST', async () => {
    const c = makeCluster();
    await c.startAll();
    const leader = await c.waitForLeader();
    c.network.partition([leader.nodeId]);
    const err = await rejection(leader.propose(put('lost', '1'), { timeoutMs: 20_000 }));
    // CheckQuorum makes it step down; the entry's fate is unknown to the caller.
    expect(err.code).toBe('LEADERSHIP_LOST');
    c.network.heal();
    const next = await c.waitForLeader();
    await next.propose(put('after', '1'));
    for (const m of c.members.values()) await waitUntil(() => m.stateMachine.get('after') === '1', { what: `${m.id} to apply` });
  });

  it('restarts a node from its storage and catches it up from the log', async () => {
    const c = makeCluster();
    await c.startAll();
    let leader = await c.waitForLeader();
    await writeKeys(leader, 0, 10);
    const victim = c.running().find((n) => n !== leader)!.nodeId;
    await waitUntil(() => hasKeys(c.member(victim).stateMachine, 0, 10), { what: 'victim to apply' });
    await c.stop(victim);
    await writeKeys(leader, 10, 25);
    const restarted = await c.start(victim);
    // Replays its own log (no snapshot yet), then receives the missed suffix.
    await waitUntil(() => hasKeys(c.member(victim).stateMachine, 0, 25), { what: 'restarted node to catch up' });
    expect(restarted.snapshotIndex()).toBe(0);
    // The whole cluster restarting keeps every acknowledged write.
    await c.stopAll();
    await c.startAll();
    leader = await c.waitForLeader();
    await leader.readBarrier();
    expect(hasKeys(c.member(leader.nodeId).stateMachine, 0, 25)).toBe(true);
  });

  it('compacts the log with snapshots and catches a lagging node up with InstallSnapshot', async () => {
    const c = makeCluster({ snapshotThresholdEntries: 10 });
    await c.startAll();
    const leader = await c.waitForLeader();
    const lagging = c.running().find((n) => n !== leader)!.nodeId;
    await c.stop(lagging);
    await writeKeys(leader, 0, 60);
    // The leader's log no longer reaches back to what the lagging node has (snapshots land in the background).
    await waitUntil(() => leader.snapshotIndex() >= 50, { what: 'the leader to compact past index 50' });
    expect((await c.member(leader.nodeId).metrics.raft.snapshotsTaken.get()).values[0]?.value).toBeGreaterThanOrEqual(5);
    await c.start(lagging);
    const kv = (): KvStateMachine => c.member(lagging).stateMachine;
    await waitUntil(() => hasKeys(kv(), 0, 60), { what: 'lagging node to catch up' });
    const installed = (await c.member(lagging).metrics.raft.snapshotsInstalled.get()).values[0]?.value ?? 0;
    expect(installed).toBeGreaterThanOrEqual(1);
    // Writes after the snapshot still replicate normally.
    await writeKeys(leader, 60, 65);
    await waitUntil(() => hasKeys(kv(), 60, 65), { what: 'post-snapshot writes' });
    // A restart now starts from the node's own snapshot, not from index 0.
    await c.stop(lagging);
    const again = await c.start(lagging);
    expect(again.status().appliedIndex).toBeGreaterThan(0);
    expect(hasKeys(c.member(lagging).stateMachine, 0, 50)).toBe(true);
    await waitUntil(() => hasKeys(c.member(lagging).stateMachine, 0, 65), { what: 'restart from local snapshot' });
  });

  it('catches a node that missed a snapshot up from the trail of entries kept behind it, without InstallSnapshot', async () => {
    const c = makeCluster({ snapshotThresholdEntries: 10, snapshotCatchUpEntries: 40 });
    await c.startAll();
    const leader = await c.waitForLeader();
    await writeKeys(leader, 0, 5);
    const lagging = c.running().find((n) => n !== leader)!.nodeId;
    await waitUntil(() => hasKeys(c.member(lagging).stateMachine, 0, 5), { what: 'the node to apply before it stops' });
    const stoppedAt = c.member(lagging).node!.coreStatus().lastIndex;
    await c.stop(lagging);
    await writeKeys(leader, 5, 30);
    // The leader took snapshots past everything the stopped node has: without the
    // trail, it could catch up only by the whole snapshot.
    await waitUntil(() => leader.snapshotIndex() > stoppedAt + 10, { what: 'the leader to compact past the stopped node' });
    expect(leader.coreStatus().firstIndex).toBeLessThanOrEqual(stoppedAt + 1);
    await c.start(lagging);
    await waitUntil(() => hasKeys(c.member(lagging).stateMachine, 0, 30), { what: 'the node to catch up' });
    const installed = (await c.member(lagging).metrics.raft.snapshotsInstalled.get()).values[0]?.value ?? 0;
    expect(installed).toBe(0);
  });

  it('writes snapshots in the background: proposals commit while one is held, and the core compacts once it is durable', async () => {
    let open = false;
    const waiting: Array<() => void> = [];
    const c = new InProcessCluster({
      createStateMachine: () => createKvStateMachine(),
      config: { snapshotThresholdEntries: 10 },
      // Every compaction, on every node, waits until the test opens the gate.
      wrapStorage: (_id, storage): RaftStorage => ({
        load: () => storage.load(),
        save: (batch) => storage.save(batch),
        close: () => storage.close(),
        compact: (snapshot) => storage.compact(snapshot),
        snapshotWriter: (meta) => {
          const writer = storage.snapshotWriter(meta);
          return {
            write: (piece) => writer.write(piece),
            abort: () => writer.abort(),
            commit: async () => {
              if (!open) await new Promise<void>((r) => waiting.push(r));
              return writer.commit();
            },
          };
        },
      }),
    });
    cluster = c;
    await c.startAll();
    const leader = await c.waitForLeader();
    await writeKeys(leader, 0, 40);
    // Far past the threshold, with the first compaction still held: nothing stalled, nothing compacted.
    expect(waiting.length).toBeGreaterThanOrEqual(1);
    expect(leader.snapshotIndex()).toBe(0);
    open = true;
    for (const r of waiting.splice(0)) r();
    await waitUntil(() => leader.snapshotIndex() >= 10, { what: 'the held snapshot to reach the core' });
    await writeKeys(leader, 40, 60);
    await waitUntil(() => leader.snapshotIndex() >= 40, { what: 'later snapshots' });
    // A restart starts from the durable snapshot and loses nothing.
    await c.stop(leader.nodeId);
    const again = await c.start(leader.nodeId);
    expect(again.status().appliedIndex).toBeGreaterThan(0);
    await waitUntil(() => hasKeys(c.member(leader.nodeId).stateMachine, 0, 60), { what: 'restarted node to have every key' });
  });

  it('fails hard when the state machine throws (a bug): onFatal, then no more service', async () => {
    const c = new InProcessCluster({
      createStateMachine: () => {
        const kv = createKvStateMachine();
        const apply = kv.apply.bind(kv);
        kv.apply = (entry) => {
          if (new TextDecoder().decode(entry.data).includes('boom')) throw new Error('state machine bug');
          return apply(entry);
        };
        return kv;
      },
    });
    cluster = c;
    await c.startAll();
    const leader = await c.waitForLeader();
    await leader.propose(put('fine', '1'));
    const err = await rejection(leader.propose(put('boom', '1')));
    expect(err.code).toBe('SHUTTING_DOWN');
    await waitUntil(() => c.fatalErrors.length >= 1, { what: 'the leader to fail on the bad entry' });
    expect((c.fatalErrors[0] as Error).message).toBe('state machine bug');
    expect((await rejection(leader.propose(put('after', '1')))).code).toBe('SHUTTING_DOWN');
    // A follower fails too once it learns the commit (the leader may fail before telling it,
    // and a new leader commits the entry again); none ever serves a state past the bad entry.
    const badIndex = leader.status().appliedIndex + 1;
    await sleep(FAST_RAFT.tickMs * FAST_RAFT.electionTicks * 4);
    expect(c.fatalErrors.every((e) => (e as Error).message === 'state machine bug')).toBe(true);
    for (const n of c.running()) expect(n.status().appliedIndex).toBeLessThan(badIndex);
    c.fatalErrors.length = 0; // expected here; afterEach checks the rest
  });

  it('fails what is pending at stop with SHUTTING_DOWN, and every later call too', async () => {
    const c = makeCluster();
    await c.startAll();
    const leader = await c.waitForLeader();
    const [f, g] = c.running().filter((n) => n !== leader);
    // Cut off from its followers, the leader can neither commit nor confirm a read, nor
    // hand leadership over; it stops long before CheckQuorum would depose it.
    c.network.partition([leader.nodeId]);
    const proposal = rejection(leader.propose(put('late', '1'), { timeoutMs: 20_000 }));
    const read = rejection(leader.readBarrier({ timeoutMs: 20_000 }));
    const transfer = rejection(leader.transferLeadership(f!.nodeId, { timeoutMs: 20_000 }));
    await c.stop(leader.nodeId);
    expect((await proposal).code).toBe('SHUTTING_DOWN');
    expect((await read).code).toBe('SHUTTING_DOWN');
    expect((await transfer).code).toBe('SHUTTING_DOWN');
    expect(isRatifyError(await rejection(leader.propose(put('x', '1'))), 'SHUTTING_DOWN')).toBe(true);
    expect(isRatifyError(await rejection(leader.readBarrier()), 'SHUTTING_DOWN')).toBe(true);
    expect(isRatifyError(await rejection(leader.promote(g!.nodeId)), 'SHUTTING_DOWN')).toBe(true);
    c.network.heal();
  });
});
