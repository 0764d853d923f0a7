// Persist before send, and before apply, in the real driver (src/node/raft-node.ts).
//
// Raft's safety rests on it: a vote or an append acknowledgement that leaves before
// the vote or the entries are durable can be forgotten by a crash, and then two
// leaders win one term or a committed entry disappears (thesis §3.8, §11.7.1; etcd's
// Ready contract). Each node's storage here is wrapped so that a save() can be held
// until the test releases it, and each node's transport and state machine are spied
// on: every message sent and every entry applied is checked against what the node's
// storage has durably written at that moment.
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { createKvStateMachine, encodeKvCommand, type KvStateMachine } from '../../src/kv/state-machine.js';
import { RaftNode } from '../../src/node/raft-node.js';
import type { CoreStatus, RaftCoreApi } from '../../src/raft/api.js';
import type { LocalState } from '../../src/raft/plausibility.js';
import type { Entry, HardState, Member, Message, NodeId, Ready } from '../../src/raft/types.js';
import { MemoryRaftStorage, createMemoryBacking, type MemoryStorageBacking } from '../../src/storage/memory-storage.js';
import type { RaftStorage, SaveBatch } from '../../src/storage/raft-storage.js';
import type { Transport } from '../../src/transport/transport.js';
import { FAST_RAFT, InProcessCluster } from '../helpers/in-process-cluster.js';
import { sleep, waitUntil } from '../helpers/wait.js';

/**
 * A storage whose saves can be held until released, or delayed at random, and are
 * then written through. holdFrom(pred) holds the first save that matches and every
 * save after it (earlier saves, such as a commit-index-only hard state, pass).
 */
class GatedStorage implements RaftStorage {
  readonly held: { readonly batch: SaveBatch; readonly release: () => void }[] = [];
  private holdPredicate: ((batch: SaveBatch) => boolean) | null = null;

  constructor(
    private readonly inner: RaftStorage,
    private readonly opts: {
      readonly randomDelayMsMax?: number;
      /** Told of every save() as it is called, before any hold. */
      readonly onSave?: (batch: SaveBatch) => void;
      readonly onSaved?: () => void;
    } = {},
  ) {}

  holdFrom(predicate: (batch: SaveBatch) => boolean): void {
    this.holdPredicate = predicate;
  }

  openGate(): void {
    this.holdPredicate = null;
    for (const h of this.held.splice(0)) h.release();
  }

  load(): ReturnType<RaftStorage['load']> {
    return this.inner.load();
  }

  async save(batch: SaveBatch): ReturnType<RaftStorage['save']> {
    this.opts.onSave?.(batch);
    const hold = this.holdPredicate !== null && (this.held.length > 0 || this.holdPredicate(batch));
    if (hold) await new Promise<void>((release) => this.held.push({ batch, release }));
    else if ((this.opts.randomDelayMsMax ?? 0) > 0) await sleep(Math.random() * (this.opts.randomDelayMsMax ?? 0));
    const stored = await this.inner.save(batch);
    this.opts.onSaved?.();
    return stored;
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

/** Why sending `m` now would break persist-before-send, given what is durable; null if it is fine. */
function sendViolation(from: NodeId, m: Message, durable: MemoryStorageBacking): string | null {
  const hs = durable.hardState;
  const at = `${from} sent ${m.type} (term ${m.term}) while its durable hard state was ${JSON.stringify(hs)}`;
  // A PreVote carries the term the sender would campaign in, and its answer echoes it (thesis §9.6).
  if (m.type !== 'preVote' && m.type !== 'preVoteResp' && hs.term < m.term) return `${at}: its term was not durable`;
  if (m.type === 'vote' && hs.vote !== from) return `${at}: its vote for itself was not durable`;
  if (m.type === 'voteResp' && m.granted && !(hs.term === m.term && hs.vote === m.to)) return `${at}: the vote it granted was not durable`;
  if (m.type === 'appendResp' && m.success && !isDurable(durable, m.matchIndex))
    return `${at}: entry ${m.matchIndex} it acknowledged was not durable`;
  return null;
}

function isDurable(durable: MemoryStorageBacking, index: number, term?: number): boolean {
  if (index === 0 || (durable.snapshot !== null && index <= durable.snapshot.meta.index)) return true;
  const e = durable.entries.get(index);
  return e !== undefined && (term === undefined || e.term === term);
}

interface Watch {
  readonly storage: Map<NodeId, GatedStorage>;
  readonly sent: Map<NodeId, Message[]>;
  readonly violations: string[];
  readonly checked: { voteGranted: number; appendAck: number; applied: number };
}

function watchedCluster(randomDelayMsMax: number): { c: InProcessCluster<KvStateMachine>; w: Watch } {
  const w: Watch = { storage: new Map(), sent: new Map(), violations: [], checked: { voteGranted: 0, appendAck: 0, applied: 0 } };
  const backings = new Map<NodeId, MemoryStorageBacking>();
  const c: InProcessCluster<KvStateMachine> = new InProcessCluster({
    createStateMachine: (id) => {
      const kv = createKvStateMachine();
      const apply = kv.apply.bind(kv);
      kv.apply = (entry) => {
        const durable = backings.get(id);
        if (durable !== undefined && !isDurable(durable, entry.index, entry.term))
          w.violations.push(`${id} applied entry ${entry.index} before it was durable`);
        w.checked.applied++;
        return apply(entry);
      };
      return kv;
    },
    wrapStorage: (id, storage, backing) => {
      backings.set(id, backing);
      const gated = new GatedStorage(storage, { randomDelayMsMax });
      w.storage.set(id, gated);
      return gated;
    },
    wrapTransport: (id, inner): Transport => ({
      send: (messages) => {
        const durable = backings.get(id)!;
        for (const m of messages) {
          const v = sendViolation(id, m, durable);
          if (v !== null) w.violations.push(v);
          if (m.type === 'voteResp' && m.granted) w.checked.voteGranted++;
          if (m.type === 'appendResp' && m.success) w.checked.appendAck++;
        }
        const log = w.sent.get(id) ?? [];
        log.push(...messages);
        w.sent.set(id, log);
        inner.send(messages);
      },
      setMembers: (members) => inner.setMembers(members),
      close: () => inner.close(),
    }),
  });
  return { c, w };
}

let cluster: InProcessCluster<KvStateMachine> | null = null;
let gates: Map<NodeId, GatedStorage> | null = null;

afterEach(async () => {
  for (const g of gates?.values() ?? []) g.openGate(); // a held save would keep stop() waiting
  const c = cluster;
  cluster = null;
  gates = null;
  if (c === null) return;
  await c.stopAll();
  expect(c.fatalErrors).toEqual([]);
});

async function start(randomDelayMsMax = 0): Promise<{ c: InProcessCluster<KvStateMachine>; w: Watch }> {
  const cw = watchedCluster(randomDelayMsMax);
  cluster = cw.c;
  gates = cw.w.storage;
  await cw.c.startAll();
  return cw;
}

const put = (key: string, value: string): Uint8Array => encodeKvCommand({ op: 'put', key, value });
const quietMs = (): number => FAST_RAFT.electionTicks * FAST_RAFT.tickMs * 3;

describe('persist before send, in the real driver', () => {
  it('a follower acknowledges and applies an entry only after the save that holds it resolved', async () => {
    const { c, w } = await start();
    const leader = await c.waitForLeader();
    await leader.propose(put('warm', '1'));
    const f = c.running().find((n) => n !== leader)!.nodeId;
    const gate = w.storage.get(f)!;
    gate.holdFrom((batch) => batch.entries.length > 0);
    // The leader and the other follower are a majority: the entry commits without f.
    const { index } = (await leader.propose(put('held', '1'))) as { index: number };
    await waitUntil(() => gate.held.some((h) => h.batch.entries.some((e) => e.index === index)), {
      what: `${f} to try to save entry ${index}`,
    });
    const acks = (): Message[] => (w.sent.get(f) ?? []).filter((m) => m.type === 'appendResp' && m.success && m.matchIndex >= index);
    await sleep(quietMs()); // heartbeats carry the new commit index to f meanwhile
    expect(acks()).toEqual([]);
    expect(c.member(f).stateMachine.get('held')).toBeUndefined();

    gate.openGate();
    await waitUntil(() => acks().length > 0, { what: `${f} to acknowledge entry ${index}` });
    await waitUntil(() => c.member(f).stateMachine.get('held') === '1', { what: `${f} to apply entry ${index}` });
    expect(w.violations).toEqual([]);
  });

  it('a voter grants its vote, and a candidate asks for votes, only after the vote is durable', async () => {
    const { c, w } = await start();
    const old = await c.waitForLeader();
    const oldTerm = old.status().term;
    const [f, g] = c
      .running()
      .filter((n) => n !== old)
      .map((n) => n.nodeId) as [NodeId, NodeId];
    const gate = w.storage.get(f)!;
    const votesInNewTerm = (b: SaveBatch): boolean => b.hardState !== null && b.hardState.term > oldTerm && b.hardState.vote !== null;
    gate.holdFrom(votesInNewTerm);
    await c.stop(old.nodeId);
    // f votes in a new term, for g or for itself; that hard state is now held.
    await waitUntil(() => gate.held.some((h) => votesInNewTerm(h.batch)), { what: `${f} to try to save a vote` });
    await sleep(quietMs());
    const votes = (): Message[] =>
      (w.sent.get(f) ?? []).filter((m) => m.term > oldTerm && ((m.type === 'voteResp' && m.granted) || m.type === 'vote'));
    expect(votes()).toEqual([]);
    // Without f's vote, g cannot win: two of three voters are needed.
    expect(c.node(g).status().role).not.toBe('leader');

    gate.openGate();
    const next = await c.waitForLeader();
    expect(next.status().term).toBeGreaterThan(oldTerm);
    expect(votes().length).toBeGreaterThan(0);
    expect(w.violations).toEqual([]);
  });

  it('checks every message and every apply against durable state through elections, writes and a restart', async () => {
    const { c, w } = await start(4); // every save takes a random 0-4 ms
    let leader = await c.waitForLeader();
    for (let round = 0; round < 3; round++) {
      await Promise.all(Array.from({ length: 20 }, (_, i) => leader.propose(put(`r${round}-${i}`, 'v'))));
      const victim = leader.nodeId;
      await c.stop(victim);
      leader = await c.waitForLeader();
      await leader.propose(put(`after-${round}`, 'v'));
      await c.start(victim); // catches up through append acknowledgements
    }
    await waitUntil(() => c.running().every((n) => c.member(n.nodeId).stateMachine.get('after-2') === 'v'), {
      what: 'every node to catch up',
    });
    expect(w.violations).toEqual([]);
    // Not vacuous: elections granted votes, followers acknowledged appends, entries were applied.
    expect(w.checked.voteGranted).toBeGreaterThan(0);
    expect(w.checked.appendAck).toBeGreaterThan(0);
    expect(w.checked.applied).toBeGreaterThan(60);
  });
});

// ---- the same contract with a scripted core: one Ready, nothing else going on ----

/** A core that hands out exactly one Ready: a new term and vote, an entry, two responses and the entry committed. */
/** A core that hands out the given Readys, in order, and nothing else. */
class ScriptedCore implements RaftCoreApi {
  private readonly pending: Ready[];
  advanced = false;
  advances = 0;

  constructor(...readys: Ready[]) {
    this.pending = readys;
  }

  tick(): void {}
  step(): void {}
  propose(): never {
    throw new Error('not used');
  }
  proposeConfChange(): never {
    throw new Error('not used');
  }
  readIndex(): void {}
  transferLeadership(): never {
    throw new Error('not used');
  }
  hasReady(): boolean {
    return this.pending.length > 0;
  }
  ready(): Ready {
    return this.pending.shift()!;
  }
  advance(): void {
    this.advanced = true;
    this.advances++;
  }
  takeHeartbeats(): Message[] {
    return [];
  }
  compact(): void {}
  snapshotStored(): void {}
  status(): CoreStatus {
    const hardState: HardState = { term: 2, vote: 'n2', commitIndex: 1 };
    return {
      id: 'n1',
      role: 'follower',
      term: 2,
      leaderId: null,
      commitIndex: 1,
      appliedIndex: 0,
      lastIndex: 1,
      snapshotIndex: 0,
      firstIndex: 1,
      configIndex: 0,
      members: this.members(),
      hardState,
    };
  }
  snapshotIndex(): number {
    return 0;
  }
  members(): readonly Member[] {
    return SCRIPTED_MEMBERS;
  }
  localState(): LocalState {
    return { id: 'n1', role: 'follower', term: 2, leaderId: null, lastIndex: 1 };
  }
}

const SCRIPTED_MEMBERS: readonly Member[] = ['n1', 'n2', 'n3'].map((id) => ({ id, url: `http://${id}.invalid`, voter: true }));

/**
 * A node over a ScriptedCore that records, in `events`, every entry it applies
 * ("apply N"), every message it sends ("send type") and a fatal error ("fatal ...").
 */
async function openScriptedNode(storage: RaftStorage, core: ScriptedCore, events: string[]): Promise<RaftNode> {
  const kv = createKvStateMachine();
  const apply = kv.apply.bind(kv);
  kv.apply = (e) => {
    events.push(`apply ${e.index}`);
    return apply(e);
  };
  const transport: Transport = {
    send: (messages) => events.push(...messages.map((m) => `send ${m.type}`)),
    setMembers: () => undefined,
    close: async () => undefined,
  };
  return RaftNode.open({
    config: { ...FAST_RAFT, id: 'n1', peers: core.status().members },
    storage,
    transport,
    stateMachine: kv,
    logger: silentLogger(),
    createCore: () => core,
    onFatal: (err) => events.push(`fatal ${err instanceof Error ? err.message : String(err)}`),
  });
}

/**
 * Starts `node`, whose storage holds every save, runs `whileHeld`, then lets the
 * saves through, waits for the core's advance() and runs `afterAdvance`; the node
 * stops either way, after both.
 */
async function runWithSaveHeld(
  node: RaftNode,
  storage: GatedStorage,
  core: ScriptedCore,
  whileHeld: () => Promise<void>,
  afterAdvance: () => void,
): Promise<void> {
  try {
    node.start();
    await whileHeld();
    storage.openGate();
    await waitUntil(() => core.advanced, { what: 'advance()' });
    afterAdvance();
  } finally {
    storage.openGate();
    await node.stop();
  }
}

describe('persist before send and apply, one Ready', () => {
  it('sends a granted vote and an append acknowledgement, and applies, only once the save resolved', async () => {
    const entry: Entry = { kind: 'normal', index: 1, term: 2, data: put('k', 'v') };
    const ready: Ready = {
      softState: null,
      hardState: { term: 2, vote: 'n2', commitIndex: 1 },
      entries: [entry],
      snapshot: null,
      messages: [
        { type: 'voteResp', from: 'n1', to: 'n2', term: 2, granted: true },
        { type: 'appendResp', from: 'n1', to: 'n2', term: 2, success: true, matchIndex: 1, rejectHint: 0, rejectTerm: 0 },
      ],
      committedEntries: [entry],
      readStates: [],
      droppedReads: [],
    };
    const core = new ScriptedCore(ready);
    const events: string[] = [];
    const storage = new GatedStorage(new MemoryRaftStorage(createMemoryBacking()), { onSaved: () => events.push('saved') });
    storage.holdFrom(() => true);
    const node = await openScriptedNode(storage, core, events);
    await runWithSaveHeld(
      node,
      storage,
      core,
      async () => {
        await waitUntil(() => storage.held.length === 1, { what: 'the Ready to be saved' });
        await sleep(FAST_RAFT.tickMs * 5);
        expect(events).toEqual([]);
        expect(core.advanced).toBe(false);
      },
      () => expect(events).toEqual(['saved', 'send voteResp', 'send appendResp', 'apply 1']),
    );
  });
});

// ---- a node whose storage already holds entry 1 of term 2, with the vote ----

const entry1: Entry = { kind: 'normal', index: 1, term: 2, data: put('k', 'v') };
const entry2: Entry = { kind: 'normal', index: 2, term: 2, data: put('k', 'w') };

/**
 * That storage, gated; `saved` gets every batch as save() is called, and with
 * `logSaves` `events` gets "save N,..." then too (always "saved" once one resolved).
 */
function storageWithEntry1(events: string[], opts: { readonly logSaves?: boolean } = {}): { storage: GatedStorage; saved: SaveBatch[] } {
  const saved: SaveBatch[] = [];
  const backing: MemoryStorageBacking = {
    hardState: { term: 2, vote: 'n2', commitIndex: 0 },
    snapshot: null,
    entries: new Map([[1, entry1]]),
  };
  const storage = new GatedStorage(new MemoryRaftStorage(backing), {
    onSave: (batch) => {
      saved.push(batch);
      if (opts.logSaves === true) events.push(`save ${batch.entries.map((e) => e.index).join(',')}`);
    },
    onSaved: () => events.push('saved'),
  });
  return { storage, saved };
}

describe('a commit-index-only change', () => {
  // The node's storage already holds entry 1 of term 2 with the vote; the first Ready only
  // learns that entry 1 is committed. Nothing needs that on disk (a restarted node relearns
  // the commit index), so the driver writes it with the next synced save, or at stop().
  const commitOnly: Ready = {
    softState: null,
    hardState: { term: 2, vote: 'n2', commitIndex: 1 },
    entries: [],
    snapshot: null,
    messages: [{ type: 'appendResp', from: 'n1', to: 'n2', term: 2, success: true, matchIndex: 1, rejectHint: 0, rejectTerm: 0 }],
    committedEntries: [entry1],
    readStates: [],
    droppedReads: [],
  };
  const nextEntry: Ready = { ...commitOnly, hardState: null, entries: [entry2], committedEntries: [], messages: [] };

  it('is not written on its own: it rides on the next synced save', async () => {
    const events: string[] = [];
    const { storage, saved } = storageWithEntry1(events);
    const core = new ScriptedCore(commitOnly, nextEntry);
    const node = await openScriptedNode(storage, core, events);
    try {
      node.start();
      await waitUntil(() => core.advances === 2, { what: 'both Readys' });
      expect(events).toEqual(['apply 1', 'send appendResp', 'saved']);
      expect(saved).toHaveLength(1);
      expect(saved[0]).toMatchObject({ sync: true, entries: [entry2], hardState: { term: 2, vote: 'n2', commitIndex: 1 } });
    } finally {
      await node.stop();
    }
  });

  it('is written at stop() when no synced save came after it', async () => {
    const events: string[] = [];
    const { storage, saved } = storageWithEntry1(events);
    const core = new ScriptedCore(commitOnly);
    const node = await openScriptedNode(storage, core, events);
    node.start();
    await waitUntil(() => core.advanced, { what: 'the Ready' });
    await sleep(FAST_RAFT.tickMs * 3);
    expect(saved).toEqual([]);
    await node.stop();
    expect(saved).toHaveLength(1);
    expect(saved[0]).toMatchObject({ sync: false, entries: [], hardState: { commitIndex: 1 } });
    expect(events).toEqual(['apply 1', 'send appendResp', 'saved']);
  });
});

describe('durable entries applied while the save runs', () => {
  // A follower's Ready at low load: the append of entry 2 carries the commit of entry 1,
  // which an earlier save made durable. Entry 1 may be applied at any time (it is
  // durable); the driver starts saving entry 2 first, so the fsync on every write's path
  // does not wait for the state machine, and only then applies entry 1.
  it('starts the save of the new entries, applies the durable ones while it runs, and acknowledges after it', async () => {
    const ready: Ready = {
      softState: null,
      hardState: { term: 2, vote: 'n2', commitIndex: 1 },
      entries: [entry2],
      snapshot: null,
      messages: [{ type: 'appendResp', from: 'n1', to: 'n2', term: 2, success: true, matchIndex: 2, rejectHint: 0, rejectTerm: 0 }],
      committedEntries: [entry1],
      readStates: [],
      droppedReads: [],
    };
    const events: string[] = [];
    const { storage } = storageWithEntry1(events, { logSaves: true });
    storage.holdFrom(() => true);
    const core = new ScriptedCore(ready);
    const node = await openScriptedNode(storage, core, events);
    await runWithSaveHeld(
      node,
      storage,
      core,
      async () => {
        await waitUntil(() => storage.held.length === 1, { what: 'the save of entry 2' });
        await waitUntil(() => events.includes('apply 1'), { what: 'entry 1 applied while the save is held' });
        expect(events).toEqual(['save 2', 'apply 1']);
        expect(core.advanced).toBe(false);
      },
      () => expect(events).toEqual(['save 2', 'apply 1', 'saved', 'send appendResp']),
    );
  });
});
