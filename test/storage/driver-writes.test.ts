// How the driver (src/node/raft-node.ts) uses RaftStorage: which saves it lets
// skip the fsync (etcd's MustSync), and that a leader which sends its appends
// while its own write runs (thesis §10.2.1) still counts only its persisted
// entries towards commit. Real RaftNodes on memory storage and transport; the
// wider persist-before-send checks live in test/node/persist-order.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { createKvStateMachine, encodeKvCommand, type KvStateMachine } from '../../src/kv/state-machine.js';
import type { NodeId } from '../../src/raft/types.js';
import type { MemoryStorageBacking } from '../../src/storage/memory-storage.js';
import type { RaftStorage, SaveBatch } from '../../src/storage/raft-storage.js';
import { FAST_RAFT, InProcessCluster } from '../helpers/in-process-cluster.js';
import { sleep, waitUntil } from '../helpers/wait.js';

/** Records every batch with what was durable before it; hold() parks saves until release(). */
class WatchedStorage implements RaftStorage {
  readonly saves: Array<{ readonly batch: SaveBatch; readonly before: { term: number; vote: string | null } }> = [];
  private holding = false;
  private readonly parked: Array<() => void> = [];

  constructor(
    private readonly inner: RaftStorage,
    private readonly backing: MemoryStorageBacking,
  ) {}

  hold(): void {
    this.holding = true;
  }

  release(): void {
    this.holding = false;
    for (const go of this.parked.splice(0)) go();
  }

  get parkedCount(): number {
    return this.parked.length;
  }

  load(): ReturnType<RaftStorage['load']> {
    return this.inner.load();
  }

  async save(batch: SaveBatch): ReturnType<RaftStorage['save']> {
    const { term, vote } = this.backing.hardState;
    this.saves.push({ batch, before: { term, vote } });
    if (this.holding) await new Promise<void>((go) => this.parked.push(go));
    return this.inner.save(batch);
  }

  compact(...args: Parameters<RaftStorage['compact']>): ReturnType<RaftStorage['compact']> {
    return this.inner.compact(...args);
  }

  snapshotWriter(...args: Parameters<RaftStorage['snapshotWriter']>): ReturnType<RaftStorage['snapshotWriter']> {
    return this.inner.snapshotWriter(...args);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

let cluster: InProcessCluster<KvStateMachine> | null = null;
let storages = new Map<NodeId, WatchedStorage>();

afterEach(async () => {
  for (const s of storages.values()) s.release();
  const c = cluster;
  cluster = null;
  storages = new Map();
  if (c === null) return;
  await c.stopAll();
  expect(c.fatalErrors).toEqual([]);
});

/** A stalled leader sends no heartbeats; long election timeouts keep it leading through the stall. */
const SLOW_ELECTION = { electionTicks: 100 };

async function start(config: Partial<typeof FAST_RAFT> = {}): Promise<InProcessCluster<KvStateMachine>> {
  const backings = new Map<NodeId, MemoryStorageBacking>();
  const applyViolations: string[] = [];
  cluster = new InProcessCluster({
    config,
    createStateMachine: (id) => {
      const kv = createKvStateMachine();
      const apply = kv.apply.bind(kv);
      kv.apply = (entry) => {
        if (backings.get(id)?.entries.get(entry.index)?.term !== entry.term)
          applyViolations.push(`${id} applied ${entry.index} before it was durable`);
        return apply(entry);
      };
      return kv;
    },
    wrapStorage: (id, storage, backing) => {
      backings.set(id, backing);
      const watched = new WatchedStorage(storage, backing);
      storages.set(id, watched);
      return watched;
    },
  });
  await cluster.startAll();
  afterChecks.push(() => expect(applyViolations).toEqual([]));
  return cluster;
}

const afterChecks: Array<() => void> = [];
afterEach(() => {
  for (const check of afterChecks.splice(0)) check();
});

const put = (key: string): Uint8Array => encodeKvCommand({ op: 'put', key, value: 'v' });

describe('driver writes', () => {
  it('skips the fsync only for saves that move nothing but the commit index', async () => {
    const c = await start();
    let leader = await c.waitForLeader();
    for (let i = 0; i < 20; i++) await leader.propose(put(`k${i}`));
    await c.stop(leader.nodeId); // an election: new terms and votes get written
    leader = await c.waitForLeader();
    await Promise.all(Array.from({ length: 20 }, (_, i) => leader.propose(put(`m${i}`))));
    let unsynced = 0;
    for (const [id, s] of storages) {
      for (const { batch, before } of s.saves) {
        const termOrVote = batch.hardState !== null && (batch.hardState.term !== before.term || batch.hardState.vote !== before.vote);
        const needsSync = batch.entries.length > 0 || batch.snapshot !== null || termOrVote;
        expect(batch.sync, `${id}: ${JSON.stringify({ hs: batch.hardState, entries: batch.entries.length, before })}`).toBe(needsSync);
        if (batch.sync === false) unsynced++;
      }
    }
    expect(unsynced).toBeGreaterThan(0); // not vacuous: commit-only saves happened
    // the synced-write metric counts synced writes only
    const m = c.member(leader.nodeId);
    const synced = storages.get(leader.nodeId)!.saves.filter((x) => x.batch.sync !== false).length;
    const counted = (await m.metrics.raft.storageBatches.get()).values.reduce((sum, v) => sum + v.value, 0);
    expect(counted).toBe(synced);
  });

  it('a leader sends appends before its own write is durable, but never counts its unpersisted entries', async () => {
    const c = await start(SLOW_ELECTION);
    const leader = await c.waitForLeader();
    await leader.propose(put('warm'));
    const [f1, f2] = c
      .running()
      .filter((n) => n !== leader)
      .map((n) => n.nodeId) as [NodeId, NodeId];
    // The leader's disk and f1's disk stall; only f2 can make the entry durable.
    storages.get(leader.nodeId)!.hold();
    storages.get(f1)!.hold();
    const result = leader.propose(put('held'));
    result.catch(() => undefined);
    // f2 has it durable although the leader's write of it has not finished: it was sent first.
    const heldIndex = await waitUntil(
      () => {
        for (const [i, e] of c.member(f2).backing.entries) {
          if (e.kind === 'normal' && Buffer.from(e.data).includes(Buffer.from('held'))) return i;
        }
        return undefined;
      },
      { what: `${f2} to hold the entry durably` },
    );
    expect(c.member(leader.nodeId).backing.entries.has(heldIndex)).toBe(false);
    // One durable copy out of three is no majority: nothing may commit, however long we wait
    // (here well inside an election timeout, so the stalled leader keeps its term).
    await sleep(SLOW_ELECTION.electionTicks * FAST_RAFT.tickMs * 0.3);
    expect(leader.status().commitIndex).toBeLessThan(heldIndex);
    for (const n of c.running()) expect(c.member(n.nodeId).stateMachine.get('held')).toBeUndefined();

    storages.get(leader.nodeId)!.release(); // leader + f2 are a majority now
    await result;
    expect(c.member(leader.nodeId).stateMachine.get('held')).toBe('v');
    storages.get(f1)!.release();
    await waitUntil(() => c.member(f1).stateMachine.get('held') === 'v', { what: `${f1} to apply the entry` });
  });
});
