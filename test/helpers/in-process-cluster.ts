// Several real RaftNodes in one process: MemoryNetwork + MemoryRaftStorage.
// A node "crash" stops its RaftNode and detaches its transport; its storage backing
// (the data directory equivalent) survives for a restart.
//
//   const c = new InProcessCluster({ ids: ['n1', 'n2', 'n3'], createStateMachine: () => createKvStateMachine() });
//   await c.startAll();
//   const leader = await c.waitForLeader();
//   afterEach(() => c.stopAll());
import type { Logger } from '../../src/logger.js';
import { silentLogger } from '../../src/logger.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { RaftNode, type RaftNodeConfig } from '../../src/node/raft-node.js';
import type { StateDigests } from '../../src/node/state-digests.js';
import type { StateMachine } from '../../src/raft/state-machine.js';
import type { NodeId } from '../../src/raft/types.js';
import { MemoryRaftStorage, createMemoryBacking, type MemoryStorageBacking } from '../../src/storage/memory-storage.js';
import type { RaftStorage } from '../../src/storage/raft-storage.js';
import { MemoryNetwork, type MemoryTransport } from '../../src/transport/memory-transport.js';
import type { PeerAdmission } from '../../src/transport/peer-admission.js';
import type { Transport } from '../../src/transport/transport.js';
import { waitUntil } from './wait.js';

/** Fast timing for in-process tests: 100-200 ms election timeouts. */
export const FAST_RAFT: Omit<RaftNodeConfig, 'id' | 'peers'> = {
  tickMs: 10,
  electionTicks: 10,
  heartbeatTicks: 2,
  maxInflightAppends: 16,
  maxAppendBytes: 64 * 1024,
  snapshotThresholdEntries: 1000,
  snapshotChunkBytes: 4096,
  snapshotBytesMax: 64 * 1024 * 1024,
  maxUncommittedEntries: 4096,
  // None, so that the tests of snapshot installs get one; the trail has its own tests.
  snapshotCatchUpEntries: 0,
  maxPendingProposals: 1024,
  maxPendingReads: 1024,
  proposalTimeoutMs: 5000,
  readTimeoutMs: 5000,
  promoteLagEntriesMax: 8,
  join: false,
  preVote: true,
  checkQuorum: true,
  seed: null,
};

export interface InProcessClusterOptions<S extends StateMachine> {
  readonly ids?: readonly NodeId[];
  readonly createStateMachine: (id: NodeId) => S;
  readonly config?: Partial<Omit<RaftNodeConfig, 'id' | 'peers'>>;
  readonly logger?: Logger;
  /** Member URLs (what NOT_LEADER hints and forwarding use). Default http://<id>.invalid. */
  readonly urlOf?: (id: NodeId) => string;
  /**
   * The bootstrap voters (default: every id). A node outside them starts as a
   * learner-to-be: it knows the voters and waits for the leader to add it.
   */
  readonly voters?: readonly NodeId[];
  /** Wrap a node's storage or transport (spies, held writes). Called on every start. */
  readonly wrapStorage?: (id: NodeId, storage: RaftStorage, backing: MemoryStorageBacking) => RaftStorage;
  readonly wrapTransport?: (id: NodeId, transport: Transport) => Transport;
  /**
   * Which senders a node refuses (what its HTTP routes would answer). Default: the
   * node's own rule, RaftNode.admitPeer. Tests swap in a faulty one to show what it breaks.
   */
  readonly admission?: (node: RaftNode, from: NodeId) => PeerAdmission;
  /** State digests of a node (state-digests.ts), made anew on every start; none by default. */
  readonly digests?: (id: NodeId) => StateDigests;
}

export interface InProcessMember<S extends StateMachine> {
  readonly id: NodeId;
  readonly backing: MemoryStorageBacking;
  node: RaftNode | null;
  transport: MemoryTransport | null;
  stateMachine: S;
  metrics: Metrics;
}

export class InProcessCluster<S extends StateMachine> {
  readonly network = new MemoryNetwork();
  readonly members: Map<NodeId, InProcessMember<S>>;
  /** Fatal errors reported by any node (a test asserts this stays empty). */
  readonly fatalErrors: unknown[] = [];
  private readonly ids: readonly NodeId[];
  private readonly voters: readonly NodeId[];

  constructor(private readonly opts: InProcessClusterOptions<S>) {
    this.ids = opts.ids ?? ['n1', 'n2', 'n3'];
    this.voters = opts.voters ?? this.ids;
    this.members = new Map(
      this.ids.map((id) => [
        id,
        {
          id,
          backing: createMemoryBacking(),
          node: null,
          transport: null,
          stateMachine: opts.createStateMachine(id),
          metrics: createMetrics({ processMetrics: false, nodeId: id }),
        },
      ]),
    );
  }

  member(id: NodeId): InProcessMember<S> {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`no member ${id}`);
    return m;
  }

  node(id: NodeId): RaftNode {
    const n = this.member(id).node;
    if (n === null) throw new Error(`${id} is not running`);
    return n;
  }

  running(): RaftNode[] {
    return [...this.members.values()].flatMap((m) => (m.node === null ? [] : [m.node]));
  }

  async startAll(): Promise<void> {
    for (const id of this.ids) await this.start(id);
  }

  /** Start (or restart) a node from its storage backing with a fresh state machine. */
  async start(id: NodeId): Promise<RaftNode> {
    const m = this.member(id);
    if (m.node !== null) throw new Error(`${id} is already running`);
    m.stateMachine = this.opts.createStateMachine(id);
    m.metrics = createMetrics({ processMetrics: false, nodeId: id });
    let node: RaftNode | null = null;
    const admission = this.opts.admission ?? ((n: RaftNode, from: NodeId) => n.admitPeer(from));
    const transport = this.network.transport(id, (msgs) => node?.receive(msgs), {
      admit: (from) => (node === null ? { kind: 'admit' } : admission(node, from)),
      onRemoved: (notice) => node?.onRemovedByPeer(notice),
      selfUrl: this.urlOf(id),
      onSenderUrl: (from, url) => node?.noteSenderUrl(from, url),
    });
    const storage = new MemoryRaftStorage(m.backing);
    node = await RaftNode.open({
      config: { ...FAST_RAFT, ...this.opts.config, id, peers: this.voters.map((p) => ({ id: p, url: this.urlOf(p), voter: true })) },
      storage: this.opts.wrapStorage?.(id, storage, m.backing) ?? storage,
      transport: this.opts.wrapTransport?.(id, transport) ?? transport,
      stateMachine: m.stateMachine,
      logger: (this.opts.logger ?? silentLogger()).child({ nodeId: id }),
      metrics: m.metrics.raft,
      onFatal: (err) => this.fatalErrors.push(err),
      ...(this.opts.digests !== undefined && { digests: this.opts.digests(id) }),
    });
    m.node = node;
    m.transport = transport;
    node.start();
    return node;
  }

  urlOf(id: NodeId): string {
    return this.opts.urlOf?.(id) ?? `http://${id}.invalid`;
  }

  /** Crash-stop: no more ticks or messages; storage survives. */
  async stop(id: NodeId): Promise<void> {
    const m = this.member(id);
    const node = m.node;
    if (node === null) return;
    m.node = null;
    await node.stop();
    // Detached from the network, like a dead process.
    await m.transport?.close();
    m.transport = null;
  }

  async stopAll(): Promise<void> {
    for (const id of this.ids) await this.stop(id);
  }

  /** A running node that says it leads, acknowledged by a quorum of running nodes in the same term. */
  async waitForLeader(timeoutMs = 20_000): Promise<RaftNode> {
    const quorum = Math.floor(this.voters.length / 2) + 1;
    return waitUntil(
      () => {
        const running = this.running();
        const leader = running.find((n) => n.status().role === 'leader');
        if (leader === undefined) return undefined;
        const term = leader.status().term;
        const agree = running.filter((n) => n.status().leaderId === leader.nodeId && n.status().term === term).length;
        return agree >= quorum ? leader : undefined;
      },
      { timeoutMs, what: 'an acknowledged leader' },
    );
  }
}
