// An in-memory stand-in for the Raft log, for transaction-layer tests.
//
// A FakeCluster holds one log and several nodes, each with its own state
// machine. The leader's propose() appends, applies the entry on every live
// node in order, and resolves with the leader's apply() result, so a
// proposal is "committed and applied" the moment it resolves. Tests move
// leadership (elect / noLeader), crash and recover nodes, and intercept
// proposals to delay or fail them.
import { RatifyError } from '../../src/errors.js';
import type { LeadershipEvent, NodeStatus, ReplicatedLog } from '../../src/node/replicated-log.js';
import type { AppliedEntry, StateMachine } from '../../src/raft/state-machine.js';
import type { NodeId } from '../../src/raft/types.js';

/** Runs before a proposal is appended; may delay (await) or throw to refuse it. */
export type ProposeInterceptor = (data: Uint8Array, node: FakeReplicatedLog) => void | Promise<void>;

export class FakeCluster {
  readonly entries: AppliedEntry[] = [];
  readonly nodes = new Map<NodeId, FakeReplicatedLog>();
  term = 0;
  leaderId: NodeId | null = null;
  interceptor: ProposeInterceptor | null = null;
  /** When set, readBarrier() on every node rejects with it (e.g. NO_LEADER). */
  readError: RatifyError | null = null;

  addNode(id: NodeId, sm: StateMachine, url = `http://${id}.invalid`): FakeReplicatedLog {
    const node = new FakeReplicatedLog(this, id, sm, url);
    this.nodes.set(id, node);
    node.catchUp();
    return node;
  }

  node(id: NodeId): FakeReplicatedLog {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no fake node ${id}`);
    return node;
  }

  /** New term with `id` as leader; every live node hears about it (the leader after catching up). */
  elect(id: NodeId): number {
    this.term += 1;
    this.leaderId = id;
    const leader = this.node(id);
    leader.crashed = false;
    leader.catchUp();
    this.announce();
    return this.term;
  }

  /** New term, nobody leads (election in progress). */
  noLeader(): number {
    this.term += 1;
    this.leaderId = null;
    this.announce();
    return this.term;
  }

  private announce(): void {
    const event = (n: FakeReplicatedLog): LeadershipEvent => ({ isLeader: n.nodeId === this.leaderId, term: this.term });
    for (const n of this.nodes.values()) if (!n.crashed) n.emit(event(n));
  }

  append(data: Uint8Array, proposer: FakeReplicatedLog): unknown {
    const entry: AppliedEntry = { index: this.entries.length + 1, term: this.term, data };
    this.entries.push(entry);
    let result: unknown;
    for (const n of this.nodes.values()) {
      if (n.crashed) continue;
      const r = n.catchUp();
      if (n === proposer) result = r;
    }
    return result;
  }
}

export class FakeReplicatedLog implements ReplicatedLog {
  appliedIndex = 0;
  /**
   * A crashed (or partitioned) node applies nothing, cannot propose and hears no
   * leadership events until recover(); whatever runs on top of it keeps running,
   * like a deposed leader that has not noticed yet.
   */
  crashed = false;
  proposals = 0;
  private readonly listeners = new Set<(e: LeadershipEvent) => void>();

  constructor(
    readonly cluster: FakeCluster,
    readonly nodeId: NodeId,
    readonly sm: StateMachine,
    public url: string,
  ) {}

  status(): NodeStatus {
    const c = this.cluster;
    const leader = c.leaderId === null ? undefined : c.nodes.get(c.leaderId);
    return {
      nodeId: this.nodeId,
      role: c.leaderId === this.nodeId && !this.crashed ? 'leader' : 'follower',
      term: c.term,
      leaderId: c.leaderId,
      leaderUrl: leader?.url ?? null,
      commitIndex: c.entries.length,
      appliedIndex: this.appliedIndex,
      members: [...c.nodes.values()].map((n) => ({ id: n.nodeId, url: n.url, voter: true })),
      removed: false,
    };
  }

  async propose(data: Uint8Array): Promise<unknown> {
    this.proposals += 1;
    await Promise.resolve(); // like the real log, never resolve synchronously
    const term = this.cluster.term;
    this.assertLeader();
    if (this.cluster.interceptor !== null) {
      await this.cluster.interceptor(data, this);
      if (this.cluster.term !== term) throw new RatifyError('LEADERSHIP_LOST', `term changed from ${term} while proposing`);
      this.assertLeader();
    }
    return this.cluster.append(data, this);
  }

  async readBarrier(): Promise<void> {
    await Promise.resolve();
    if (this.cluster.readError !== null) throw this.cluster.readError;
    if (this.cluster.leaderId === null) throw new RatifyError('NO_LEADER', 'no leader');
    this.catchUp();
  }

  onLeadership(listener: (event: LeadershipEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: LeadershipEvent): void {
    for (const l of this.listeners) l(event);
  }

  crash(): void {
    this.crashed = true;
    if (this.cluster.leaderId === this.nodeId) this.cluster.noLeader();
  }

  /** Back in touch: catches up and hears the current leadership. */
  recover(): void {
    this.crashed = false;
    this.catchUp();
    this.emit({ isLeader: this.cluster.leaderId === this.nodeId, term: this.cluster.term });
  }

  /** Applies every entry this node has not applied yet; returns the last apply() result. */
  catchUp(): unknown {
    let result: unknown;
    if (this.crashed) return result;
    for (const entry of this.cluster.entries.slice(this.appliedIndex)) {
      result = this.sm.apply(entry);
      this.appliedIndex = entry.index;
    }
    return result;
  }

  private assertLeader(): void {
    if (this.crashed || this.cluster.leaderId !== this.nodeId) {
      throw new RatifyError('NOT_LEADER', `node ${this.nodeId} is not the leader`, { details: { leaderId: this.cluster.leaderId } });
    }
  }
}

/** One node that leads term 1: the common case. */
export function createFakeLog(sm: StateMachine, nodeId = 'n1'): FakeReplicatedLog {
  const cluster = new FakeCluster();
  const node = cluster.addNode(nodeId, sm);
  cluster.elect(nodeId);
  return node;
}
