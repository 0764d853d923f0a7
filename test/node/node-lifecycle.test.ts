// The node's lifecycle (src/node/node-lifecycle.ts): the pure edges, then what a
// real RaftNode does at each of them: start twice or after a stop, stop twice,
// calls before start and after a failure, a failure before and during stop.
// A one-voter node over memory storage: it elects itself once it ticks.
import { afterEach, describe, expect, it } from 'vitest';
import { RatifyError } from '../../src/errors.js';
import { createKvStateMachine, encodeKvCommand } from '../../src/kv/state-machine.js';
import { silentLogger } from '../../src/logger.js';
import {
  failed,
  hasFailed,
  NEW_NODE,
  type NodeLifecycle,
  started,
  stopped,
  stopRequested,
  takesCalls,
} from '../../src/node/node-lifecycle.js';
import { RaftNode } from '../../src/node/raft-node.js';
import { RaftCore } from '../../src/raft/raft.js';
import { createMemoryBacking, MemoryRaftStorage } from '../../src/storage/memory-storage.js';
import type { RaftStorage, SaveBatch } from '../../src/storage/raft-storage.js';
import type { Transport } from '../../src/transport/transport.js';
import { FAST_RAFT } from '../helpers/in-process-cluster.js';
import { sleep, waitUntil } from '../helpers/wait.js';

describe('the lifecycle edges', () => {
  const boom = new Error('boom');
  const RUNNING = started(NEW_NODE);
  const FAILED = failed(NEW_NODE, boom);
  const STOPPED = stopped(RUNNING);
  const FAILED_THEN_STOPPED = stopped(FAILED);
  const all: readonly [string, NodeLifecycle][] = [
    ['new', NEW_NODE],
    ['running', RUNNING],
    ['failed', FAILED],
    ['stopped', STOPPED],
    ['failed, then stopped', FAILED_THEN_STOPPED],
  ];

  it('starts only a new node', () => {
    expect(RUNNING).toEqual({ kind: 'running' });
    for (const [, l] of all.slice(1)) expect(started(l)).toBe(l);
  });

  it('stops any node once, keeping a failure', () => {
    expect(stopped(NEW_NODE)).toEqual({ kind: 'stopped', failure: null });
    expect(STOPPED).toEqual({ kind: 'stopped', failure: null });
    expect(FAILED_THEN_STOPPED).toEqual({ kind: 'stopped', failure: { error: boom } });
    expect(stopped(STOPPED)).toBe(STOPPED);
    expect(stopped(FAILED_THEN_STOPPED)).toBe(FAILED_THEN_STOPPED);
  });

  it('records the first failure only, also one during a stop', () => {
    expect(failed(RUNNING, boom)).toEqual({ kind: 'failed', error: boom });
    expect(failed(FAILED, new Error('second'))).toBe(FAILED);
    expect(failed(STOPPED, boom)).toEqual({ kind: 'stopped', failure: { error: boom } });
    expect(failed(FAILED_THEN_STOPPED, new Error('second'))).toBe(FAILED_THEN_STOPPED);
  });

  it('answers what each state allows', () => {
    const answers = all.map(([name, l]) => [name, takesCalls(l), stopRequested(l), hasFailed(l)]);
    expect(answers).toEqual([
      ['new', true, false, false],
      ['running', true, false, false],
      ['failed', false, false, true],
      ['stopped', false, true, false],
      ['failed, then stopped', false, true, true],
    ]);
  });
});

/** A storage whose saves can be made to wait, then fail. */
class FailingStorage implements RaftStorage {
  readonly inner = new MemoryRaftStorage(createMemoryBacking());
  readonly saves: SaveBatch[] = [];
  private hold: { readonly fail: (err: Error) => void } | null = null;
  holdNext = false;

  load(): ReturnType<RaftStorage['load']> {
    return this.inner.load();
  }

  async save(batch: SaveBatch): ReturnType<RaftStorage['save']> {
    this.saves.push(batch);
    if (this.holdNext) {
      this.holdNext = false;
      await new Promise<void>((_, reject) => {
        this.hold = { fail: reject };
      });
    }
    return this.inner.save(batch);
  }

  get holding(): boolean {
    return this.hold !== null;
  }

  failHeld(err: Error): void {
    this.hold?.fail(err);
    this.hold = null;
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

interface Harness {
  readonly node: RaftNode;
  readonly storage: FailingStorage;
  readonly fatal: unknown[];
  readonly ticks: () => number;
}

const nodes: RaftNode[] = [];

afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop();
});

async function openNode(opts: { readonly proposeThrows?: boolean } = {}): Promise<Harness> {
  const storage = new FailingStorage();
  const fatal: unknown[] = [];
  let ticks = 0;
  const kv = createKvStateMachine();
  const apply = kv.apply.bind(kv);
  kv.apply = (entry) => {
    if (new TextDecoder().decode(entry.data).includes('bug')) throw new Error('state machine bug');
    return apply(entry);
  };
  const transport: Transport = { send: () => undefined, setMembers: () => undefined, close: async () => undefined };
  const node = await RaftNode.open({
    config: { ...FAST_RAFT, id: 'n1', peers: [{ id: 'n1', url: 'http://n1.invalid', voter: true }] },
    storage,
    transport,
    stateMachine: kv,
    logger: silentLogger(),
    createCore: (config, initial) => {
      const core = new RaftCore(config, initial);
      const tick = core.tick.bind(core);
      core.tick = () => {
        ticks++;
        tick();
      };
      if (opts.proposeThrows === true)
        core.propose = () => {
          throw new Error('core bug');
        };
      return core;
    },
    onFatal: (err) => fatal.push(err),
  });
  nodes.push(node);
  return { node, storage, fatal, ticks: () => ticks };
}

const put = (key: string, value: string): Uint8Array => encodeKvCommand({ op: 'put', key, value });
const electionMs = FAST_RAFT.tickMs * FAST_RAFT.electionTicks;

async function rejection(p: Promise<unknown>): Promise<RatifyError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RatifyError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

async function leaderOf(node: RaftNode): Promise<void> {
  await waitUntil(() => node.status().role === 'leader', { what: 'the one voter to lead' });
}

describe('a RaftNode through its lifecycle', () => {
  it('takes calls before start (the core answers them), and ticks only once started; a second start adds no ticker', async () => {
    const { node, ticks } = await openNode();
    expect((await rejection(node.propose(put('early', '1')))).code).toBe('NO_LEADER');
    await sleep(electionMs * 2);
    expect(ticks()).toBe(0);
    node.start();
    node.start();
    await leaderOf(node);
    const before = ticks();
    await sleep(electionMs * 2);
    // One ticker: about one tick per tickMs; two would tick twice as often.
    expect(ticks() - before).toBeLessThanOrEqual(Math.ceil((electionMs * 2) / FAST_RAFT.tickMs) + 5);
    await node.propose(put('k', 'v'));
  });

  it('stops once: a second stop resolves, a later start does not tick, and every call is SHUTTING_DOWN', async () => {
    const { node, ticks, fatal } = await openNode();
    node.start();
    await leaderOf(node);
    await node.stop();
    await node.stop();
    const after = ticks();
    node.start();
    await sleep(electionMs * 2);
    expect(ticks()).toBe(after);
    expect(node.loopStalledSince()).toBeNull();
    expect((await rejection(node.propose(put('late', '1')))).code).toBe('SHUTTING_DOWN');
    expect((await rejection(node.readBarrier())).code).toBe('SHUTTING_DOWN');
    expect((await rejection(node.transferLeadership('n1'))).code).toBe('SHUTTING_DOWN');
    expect(() => node.backupSnapshot()).toThrow(expect.objectContaining({ code: 'SHUTTING_DOWN' }));
    expect(fatal).toEqual([]);
  });

  it('a node stopped before it started never starts', async () => {
    const { node, ticks } = await openNode();
    await node.stop();
    node.start();
    await sleep(electionMs * 2);
    expect(ticks()).toBe(0);
    expect(node.status().role).toBe('follower');
  });

  it('after a failure: calls are SHUTTING_DOWN, stop resolves and reports nothing more, the failure is reported once', async () => {
    const { node, fatal, storage } = await openNode();
    node.start();
    await leaderOf(node);
    expect((await rejection(node.propose(put('bug', '1')))).code).toBe('SHUTTING_DOWN');
    await waitUntil(() => fatal.length === 1, { what: 'the failure to be reported' });
    expect((fatal[0] as Error).message).toBe('state machine bug');
    expect((await rejection(node.propose(put('after', '1')))).code).toBe('SHUTTING_DOWN');
    expect((await rejection(node.promote('n1'))).code).toBe('SHUTTING_DOWN');
    expect(node.loopStalledSince()).toBeNull();
    const saves = storage.saves.length;
    await node.stop();
    await node.stop();
    // A failed node writes nothing at stop (not even the latest commit index).
    expect(storage.saves.length).toBe(saves);
    expect(fatal).toHaveLength(1);
  });

  it('a core that throws before start fails the node; start then does not tick it', async () => {
    const { node, fatal, ticks } = await openNode({ proposeThrows: true });
    const err = await rejection(node.propose(put('k', 'v')));
    expect(err.code).toBe('INTERNAL');
    expect(fatal.map((e) => (e as Error).message)).toEqual(['core bug']);
    node.start();
    await sleep(electionMs * 2);
    expect(ticks()).toBe(0);
    expect((await rejection(node.propose(put('k', 'v')))).code).toBe('SHUTTING_DOWN');
  });

  it('a save that fails while stop() waits for the Ready is still a failure, reported once, and stop resolves', async () => {
    const { node, fatal, storage } = await openNode();
    node.start();
    await leaderOf(node);
    storage.holdNext = true;
    const proposal = rejection(node.propose(put('k', 'v')));
    await waitUntil(() => storage.holding, { what: 'the save to be held' });
    const stopping = node.stop();
    storage.failHeld(new Error('disk gone'));
    await stopping;
    expect(fatal.map((e) => (e as Error).message)).toEqual(['disk gone']);
    expect((await proposal).code).toBe('SHUTTING_DOWN');
  });
});
