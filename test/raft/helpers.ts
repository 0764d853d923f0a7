// A tiny in-test network for RaftCore: every node has a "disk" that keeps
// exactly what its advanced Readys persisted, and a state machine that is the
// list of applied payloads. `stabilize()` processes Readys and delivers
// messages until nothing moves (etcd's interaction-test "stabilize").
import { expect } from 'vitest';
import { RaftCore } from '../../src/raft/raft.js';
import { Prng } from '../../src/util/random.js';
import type {
  Entry,
  HardState,
  InitialState,
  Member,
  Message,
  NodeId,
  RaftConfig,
  Ready,
  ReadState,
  Snapshot,
} from '../../src/raft/types.js';

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

export function voters(...ids: NodeId[]): Member[] {
  return ids.map((id) => ({ id, url: `http://${id}`, voter: true }));
}

export function testConfig(id: NodeId, overrides: Partial<RaftConfig> = {}): RaftConfig {
  return {
    id,
    electionTicks: 10,
    heartbeatTicks: 1,
    maxInflightAppends: 4,
    maxAppendBytes: 1024 * 1024,
    snapshotChunkBytes: 1024,
    maxUncommittedEntries: 1000,
    snapshotCatchUpEntries: 0,
    preVote: true,
    checkQuorum: true,
    random: new Prng(id.split('').reduce((a, c) => (a * 31 + c.charCodeAt(0)) >>> 0, 7)).asFunction(),
    ...overrides,
  };
}

/** Log entries with the given terms, indexes from `from`. */
export function entriesWithTerms(terms: readonly number[], from = 1): Entry[] {
  return terms.map((term, k) => ({ kind: 'normal', index: from + k, term, data: enc(`${from + k}@${term}`) }));
}

/** What these tests start a core from: the snapshot with its bytes (the core takes any SnapshotBytes). */
export type StoredInitialState = InitialState & { readonly snapshot: Snapshot | null };

export function initialState(members: readonly Member[], opts: Partial<StoredInitialState> = {}): StoredInitialState {
  return {
    hardState: { term: 0, vote: null, commitIndex: 0 },
    snapshot: null,
    entries: [],
    bootstrapMembers: members,
    appliedIndex: 0,
    ...opts,
  };
}

/** What a node synced to disk; a restart sees exactly this. */
export class Disk {
  hardState: HardState = { term: 0, vote: null, commitIndex: 0 };
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];

  save(rd: Ready): void {
    if (rd.snapshot !== null) {
      const { index, term } = rd.snapshot.meta;
      const keep = this.entries.find((e) => e.index === index)?.term === term;
      this.entries = keep ? this.entries.filter((e) => e.index > index) : [];
      this.snapshot = rd.snapshot;
    }
    const first = rd.entries[0];
    if (first !== undefined) {
      this.entries = this.entries.filter((e) => e.index < first.index).concat(rd.entries);
    }
    if (rd.hardState !== null) this.hardState = rd.hardState;
  }

  compact(s: Snapshot): void {
    this.snapshot = s;
    this.entries = this.entries.filter((e) => e.index > s.meta.index);
  }
}

/** The replicated application: the list of applied payloads. */
export interface TestNode {
  readonly id: NodeId;
  core: RaftCore;
  readonly disk: Disk;
  applied: string[];
  appliedIndex: number;
  readStates: ReadState[];
  droppedReads: number[];
  /** Every committed entry in the order the node applied it. */
  appliedEntries: Entry[];
}

/** What became of a message the network handled. */
export type MessageFate = 'stepped' | 'cut' | 'no-node';

/**
 * Listens to what the cluster does, without changing it: the interaction scripts
 * (interaction/) print a trace from these calls.
 */
export interface ClusterObserver {
  /** A node's Ready, before it is persisted, sent, applied and advanced. */
  ready?(id: NodeId, rd: Ready): void;
  /** A message left the in-flight list: stepped into its receiver, or lost. */
  message?(m: Message, fate: MessageFate): void;
}

export interface ClusterOptions {
  readonly config?: Partial<RaftConfig>;
  /** Members every node bootstraps with; defaults to all ids as voters. */
  readonly members?: readonly Member[];
}

export class Cluster {
  readonly nodes = new Map<NodeId, TestNode>();
  /** Messages sent and not yet delivered, in send order. */
  inFlight: Message[] = [];
  /** Directed links that drop everything: "a->b". */
  private readonly cut = new Set<string>();
  private readonly members: readonly Member[];
  observer: ClusterObserver = {};

  constructor(
    ids: readonly NodeId[],
    private readonly opts: ClusterOptions = {},
  ) {
    this.members = opts.members ?? voters(...ids);
    for (const id of ids) this.add(id, initialState(this.members));
  }

  add(id: NodeId, initial: StoredInitialState, config: Partial<RaftConfig> = {}): TestNode {
    const node: TestNode = {
      id,
      core: new RaftCore(testConfig(id, { ...this.opts.config, ...config }), initial),
      disk: new Disk(),
      applied: [],
      appliedIndex: initial.appliedIndex,
      readStates: [],
      droppedReads: [],
      appliedEntries: [],
    };
    node.disk.hardState = initial.hardState;
    node.disk.snapshot = initial.snapshot;
    node.disk.entries = [...initial.entries];
    if (initial.snapshot !== null) node.applied = JSON.parse(dec(initial.snapshot.data)) as string[];
    this.nodes.set(id, node);
    return node;
  }

  node(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  core(id: NodeId): RaftCore {
    return this.node(id).core;
  }

  /** Runs one Ready of `id` through the driver contract: persist, send, apply, advance. */
  processReady(id: NodeId): boolean {
    const n = this.node(id);
    if (!n.core.hasReady()) return false;
    const rd = n.core.ready();
    this.observer.ready?.(id, rd);
    n.disk.save(rd);
    this.inFlight.push(...rd.messages);
    if (rd.snapshot !== null) {
      n.applied = JSON.parse(dec(rd.snapshot.data)) as string[];
      n.appliedIndex = rd.snapshot.meta.index;
    }
    for (const e of rd.committedEntries) {
      expect(e.index).toBe(n.appliedIndex + 1);
      n.appliedIndex = e.index;
      n.appliedEntries.push(e);
      if (e.kind === 'normal') n.applied.push(dec(e.data));
    }
    n.readStates.push(...rd.readStates);
    n.droppedReads.push(...rd.droppedReads);
    n.core.advance(rd);
    return true;
  }

  /** Processes Readys of every node until none has one. */
  processAll(): void {
    let any = true;
    while (any) {
      any = false;
      for (const id of this.nodes.keys()) any = this.processReady(id) || any;
    }
  }

  /** Delivers the messages in flight now (not the answers they cause). Returns how many arrived. */
  deliver(filter: (m: Message) => boolean = () => true): number {
    const batch = this.inFlight;
    this.inFlight = [];
    let n = 0;
    for (const m of batch) {
      if (!filter(m)) {
        this.inFlight.push(m);
        continue;
      }
      if (this.cut.has(`${m.from}->${m.to}`) || !this.nodes.has(m.to)) {
        this.observer.message?.(m, this.nodes.has(m.to) ? 'cut' : 'no-node');
        continue;
      }
      this.observer.message?.(m, 'stepped');
      this.core(m.to).step(m);
      n++;
    }
    return n;
  }

  /** Readys and deliveries until quiet. */
  stabilize(maxRounds = 1000): void {
    for (let i = 0; i < maxRounds; i++) {
      this.processAll();
      if (this.inFlight.length === 0) return;
      this.deliver();
    }
    throw new Error('cluster did not stabilize');
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) this.core(id).tick();
  }

  /** Ticks every node `times` times, stabilizing after each tick. */
  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const id of this.nodes.keys()) this.tick(id);
      this.stabilize();
    }
  }

  /** Ticks every node (stabilizing between ticks) until `f` returns a value. */
  tickUntil<T>(f: () => T | undefined, maxTicks = 500): T {
    for (let i = 0; i < maxTicks; i++) {
      const v = f();
      if (v !== undefined) return v;
      this.tickAll(1);
    }
    throw new Error(`condition not reached within ${maxTicks} ticks`);
  }

  /** Ticks `id` alone until it starts a (pre-)campaign, then stabilizes. */
  campaign(id: NodeId): void {
    const c = this.core(id);
    for (let i = 0; i < 1000 && (c.status().role === 'follower' || c.status().role === 'learner'); i++) c.tick();
    // A single voter wins at once.
    expect(['precandidate', 'candidate', 'leader']).toContain(c.status().role);
    this.stabilize();
  }

  /** Elects `id` (which must be able to win) and commits its no-op everywhere reachable. */
  elect(id: NodeId): void {
    this.campaign(id);
    expect(this.core(id).status().role).toBe('leader');
    this.stabilizeCommits();
  }

  /**
   * stabilize(), then one tick of every leader and stabilize() again: a leader
   * announces a commit that no new entry carried at its next tick (Leader's
   * commitUnannounced), so this is what lets the followers learn and apply it.
   */
  stabilizeCommits(): void {
    this.stabilize();
    for (const id of this.leaderIds()) this.tick(id);
    this.stabilize();
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  cutLink(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}->${b}`);
    this.cut.add(`${b}->${a}`);
  }

  heal(): void {
    this.cut.clear();
  }

  /** Throws away the node's memory; restarts it from its disk only. */
  restart(id: NodeId, config: Partial<RaftConfig> = {}): TestNode {
    const old = this.node(id);
    this.inFlight = this.inFlight.filter((m) => m.to !== id);
    const initial: StoredInitialState = {
      hardState: old.disk.hardState,
      snapshot: old.disk.snapshot,
      entries: old.disk.entries,
      bootstrapMembers: this.members,
      appliedIndex: old.disk.snapshot?.meta.index ?? 0,
    };
    this.nodes.delete(id);
    return this.add(id, initial, config);
  }

  propose(id: NodeId, s: string): void {
    const r = this.core(id).propose(enc(s));
    expect(r.ok, `propose on ${id}: ${JSON.stringify(r)}`).toBe(true);
  }

  leaderIds(): NodeId[] {
    return [...this.nodes.values()].filter((n) => n.core.status().role === 'leader').map((n) => n.id);
  }

  /** Entry list of a node's log as "index@term" for comparisons. */
  logOf(id: NodeId): string[] {
    const d = this.node(id).disk;
    return d.entries.map((e) => `${e.index}@${e.term}`);
  }
}

/** Feeds a core a message and returns what it sends in its next Ready (after advancing it). */
export function stepAndCollect(core: RaftCore, m?: Message): Message[] {
  if (m !== undefined) core.step(m);
  return drain(core).flatMap((rd) => rd.messages);
}

/** Processes every Ready of a lone core (nothing is delivered) and returns them. */
export function drain(core: RaftCore): Ready[] {
  const out: Ready[] = [];
  while (core.hasReady()) {
    const rd = core.ready();
    out.push(rd);
    core.advance(rd);
  }
  return out;
}
