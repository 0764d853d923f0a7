// Digests and local snapshots are encoded in slices off the Raft loop
// (snapshot-slicer.ts). Across a real three-node cluster the digests still
// agree at equal indexes, and each is the sha256 of the synchronous snapshot of
// the state at its index (replayed from the writes' own indexes); local
// snapshots still compact the log. A node stopped while an encoding is under
// way stops it: stop() resolves, no step runs after, nothing is written.
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createKvStateMachine, encodeKvCommand, type KvPutResult, type KvStateMachine } from '../../src/kv/state-machine.js';
import { StateDigests } from '../../src/node/state-digests.js';
import type { SnapshotEncoding } from '../../src/raft/state-machine.js';
import type { RaftStorage } from '../../src/storage/raft-storage.js';
import { InProcessCluster } from '../helpers/in-process-cluster.js';
import { waitUntil } from '../helpers/wait.js';

let cluster: InProcessCluster<KvStateMachine> | null = null;
afterEach(async () => {
  const c = cluster;
  cluster = null;
  if (c === null) return;
  await c.stopAll();
  expect(c.fatalErrors).toEqual([]);
});

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const put = (key: string, value: string): Uint8Array => encodeKvCommand({ op: 'put', key, value });

describe('sliced digests and snapshots in a cluster', () => {
  it('agree across replicas at equal indexes, each the sha256 of the synchronous snapshot of its index', async () => {
    const digests = new Map<string, StateDigests>();
    const c = new InProcessCluster({
      createStateMachine: () => createKvStateMachine(),
      config: { snapshotThresholdEntries: 40 },
      digests: (id) => {
        const d = new StateDigests(25);
        digests.set(id, d);
        return d;
      },
    });
    cluster = c;
    await c.startAll();
    const leader = await c.waitForLeader();
    const writes: Array<{ index: number; key: string; value: string }> = [];
    for (let i = 0; i < 300; i++) {
      // Overwrites too: a key's value changes after digests captured the older one.
      const key = `k${i % 70}`;
      const value = `v${i}`;
      const r = (await leader.propose(put(key, value))) as KvPutResult;
      writes.push({ index: r.index, key, value });
    }
    const last = writes.at(-1)!.index;
    const newest = Math.floor(last / 25) * 25;
    await waitUntil(() => [...digests.values()].every((d) => d.list().at(-1)?.index === newest) || undefined, {
      what: `every node's digest at ${newest}`,
    });
    const expected = (index: number): string => {
      const sm = createKvStateMachine();
      for (const w of writes) if (w.index <= index) sm.apply({ index: w.index, term: 1, data: put(w.key, w.value) });
      return sha256(sm.snapshot());
    };
    const lists = [...digests.values()].map((d) => d.list());
    for (const d of lists[0]!) {
      expect(d.sha256, `digest at ${d.index}`).toBe(expected(d.index));
      for (const other of lists.slice(1)) expect(other.find((o) => o.index === d.index)?.sha256).toBe(d.sha256);
    }
    expect(lists[0]!.length).toBeGreaterThanOrEqual(10);
    // Local snapshots, encoded the same way, still reach the core.
    await waitUntil(() => c.running().every((n) => n.snapshotIndex() > 0) || undefined, { what: 'every node to compact' });
  });

  // A save that completes in a later turn of the event loop, as LevelDB's does (its fsync runs on
  // another thread and completes in a later poll phase): the Ready awaits it after applying, so a
  // digest's first slice (setImmediate) can run before the Ready ends. MemoryRaftStorage alone
  // settles a save within the same turn.
  const laterTurnSaves = (_id: string, storage: RaftStorage): RaftStorage => ({
    load: () => storage.load(),
    save: (batch) => new Promise((r) => setTimeout(r, 1)).then(() => storage.save(batch)),
    close: () => storage.close(),
    compact: (snapshot) => storage.compact(snapshot),
    snapshotWriter: (meta) => storage.snapshotWriter(meta),
  });

  /** Captures and digests per node after 60 writes, with snapshots and digests every 10 entries. */
  async function encodingsAndDigests(
    wrapStorage?: (id: string, storage: RaftStorage) => RaftStorage,
  ): Promise<{ captures: Map<string, number>; digests: Map<string, StateDigests> }> {
    const thresholdEntries = 10;
    const intervalEntries = 10;
    const captures = new Map<string, number>();
    const digests = new Map<string, StateDigests>();
    const c = new InProcessCluster({
      ids: ['n1', 'n2', 'n3'],
      createStateMachine: (id) => {
        const kv = createKvStateMachine();
        const capture = kv.captureSnapshot!.bind(kv);
        kv.captureSnapshot = () => {
          captures.set(id, (captures.get(id) ?? 0) + 1);
          return capture();
        };
        return kv;
      },
      config: { snapshotThresholdEntries: thresholdEntries },
      digests: (id) => {
        const d = new StateDigests(intervalEntries);
        digests.set(id, d);
        return d;
      },
      ...(wrapStorage === undefined ? {} : { wrapStorage }),
    });
    cluster = c;
    await c.startAll();
    const leader = await c.waitForLeader();
    let last = 0;
    for (let i = 0; i < 60; i++) last = ((await leader.propose(put(`k${i}`, `v${i}`))) as KvPutResult).index;
    const newest = Math.floor(last / intervalEntries) * intervalEntries;
    const newestSnapshot = Math.floor(last / thresholdEntries) * thresholdEntries - thresholdEntries;
    await waitUntil(
      () =>
        c.running().every((n) => digests.get(n.nodeId)!.list().at(-1)?.index === newest && n.snapshotIndex() >= newestSnapshot) ||
        undefined,
      { what: "every node's digests and snapshots to catch up" },
    );
    return { captures, digests };
  }

  for (const [name, wrap] of [
    ['saves that settle at once', undefined],
    ['saves that settle in a later turn, as on disk', laterTurnSaves],
  ] as const) {
    it(`encodes once where a digest and a local snapshot fall on the same index, on the node whose phase is 0 (${name})`, async () => {
      const { captures, digests } = await encodingsAndDigests(wrap);
      // n1 (phase 0) snapshots at the digests' indexes: every local snapshot shared a digest's encoding.
      expect(captures.get('n1')).toBe(digests.get('n1')!.list().length);
      // n2 (phase a third of the threshold) snapshots elsewhere: more encodings than digests.
      expect(captures.get('n2')!).toBeGreaterThan(digests.get('n2')!.list().length);
    });
  }

  it('stops with an encoding under way: stop() resolves, no step runs after, no digest and no snapshot is stored', async () => {
    const encodings: Array<SnapshotEncoding & { steps: number }> = [];
    let compactions = 0;
    const c = new InProcessCluster({
      // A state machine whose every snapshot is too large to finish before the stop.
      createStateMachine: () => {
        const kv = createKvStateMachine();
        kv.captureSnapshot = () => {
          const e = {
            steps: 0,
            step: (): boolean => {
              e.steps++;
              return true;
            },
            piece: (): Uint8Array => new Uint8Array(16),
          };
          encodings.push(e);
          return e;
        };
        return kv;
      },
      config: { snapshotThresholdEntries: 10 },
      digests: () => new StateDigests(10),
      wrapStorage: (_id, storage): RaftStorage => ({
        load: () => storage.load(),
        save: (batch) => storage.save(batch),
        close: () => storage.close(),
        compact: (snapshot) => {
          compactions++;
          return storage.compact(snapshot);
        },
        snapshotWriter: (meta) => {
          const writer = storage.snapshotWriter(meta);
          return {
            write: (piece) => writer.write(piece),
            abort: () => writer.abort(),
            commit: () => {
              compactions++;
              return writer.commit();
            },
          };
        },
      }),
    });
    cluster = c;
    await c.startAll();
    const leader = await c.waitForLeader();
    for (let i = 0; i < 25; i++) await leader.propose(put(`k${i}`, `v${i}`));
    await waitUntil(() => encodings.some((e) => e.steps > 5) || undefined, { what: 'an encoding under way' });
    const nodes = c.running();
    await c.stopAll();
    const steps = encodings.map((e) => e.steps);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(encodings.map((e) => e.steps)).toEqual(steps);
    expect(compactions).toBe(0);
    for (const n of nodes) expect(n.stateDigests().digests).toEqual([]);
  });
});
