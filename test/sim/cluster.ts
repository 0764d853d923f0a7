// N simulated nodes on one simulated network and one logical clock, plus the
// global invariant checker. Every operation a schedule or a scenario performs
// goes through here so that each input is followed by the same drain policy and
// each step by the same invariant checks.
import type { CoreStatus } from '../../src/raft/api.js';
import type { ConfChange, Member, Message, NodeId, ProposeResult, RaftConfig } from '../../src/raft/types.js';
import type { RemovalNotice } from '../../src/transport/peer-admission.js';
import { InvariantChecker, type LeaderLog } from './invariants.js';
import { SimNetwork, type LinkLimits, type NetworkFaults } from './network.js';
import { Prng } from '../../src/util/random.js';
import { SimNode, type CoreFactory, type CrashPoint, type DriverRules } from './sim-node.js';
import { fingerprint } from './state-machine.js';
import { Trace, describeMessage } from './trace.js';
import type { TransportRules } from './transport-rules.js';
import { violation } from './violation.js';

/** How a node goes down: a process crash now or at an armed point, or a graceful stop (then maybe a power loss). */
export type CrashKind = CrashPoint | 'now' | 'stop' | 'stopPowerLoss';

export type RaftTuning = Omit<RaftConfig, 'id' | 'random'>;

export interface ClusterOptions {
  readonly seed: number;
  readonly voters: number;
  /** Cap on nodes ever created, spares for membership changes included. */
  readonly maxNodes: number;
  readonly raft: RaftTuning;
  readonly faults: NetworkFaults;
  readonly links: LinkLimits;
  readonly maxInFlight: number;
  readonly snapshotEveryEntries: number;
  /** Chance that a node processes its Readys right after an input (1 = always). */
  readonly drainProbability: number;
  readonly coreFactory: CoreFactory;
  /** The transport's membership rules (production, or a faulty variant). */
  readonly rules: TransportRules;
  /** The driver's Ready plan (production, or a faulty variant). */
  readonly driver: DriverRules;
  /** Chance that a node's background snapshot write completes after an input to it (1: at once). */
  readonly snapshotWriteChance: number;
  readonly traceLines: number;
}

export class Cluster {
  readonly nodes = new Map<NodeId, SimNode>();
  readonly network: SimNetwork;
  readonly checker: InvariantChecker;
  readonly trace: Trace;
  readonly initialMembers: readonly Member[];
  /** Logical clock: one unit per step; message delays are counted in it. */
  now = 0;
  private readonly rng: Prng;
  private nextNodeNumber: number;
  private nextRequestId = 1;

  constructor(private readonly options: ClusterOptions) {
    const root = new Prng(options.seed);
    this.rng = root.fork('cluster');
    this.network = new SimNetwork(root.fork('network'), options.faults, options.maxInFlight, options.links);
    this.checker = new InvariantChecker(() => this.leaderLogs());
    this.trace = new Trace(options.traceLines);
    this.initialMembers = Array.from({ length: options.voters }, (_, i) => member(`n${i + 1}`, true));
    this.nextNodeNumber = options.voters + 1;
    for (const m of this.initialMembers) this.createNode(m.id).start();
  }

  private createNode(id: NodeId): SimNode {
    const root = new Prng(this.options.seed);
    const node = new SimNode(id, {
      checker: this.checker,
      network: this.network,
      now: () => this.now,
      coreFactory: this.options.coreFactory,
      configFor: (nodeId, incarnation) => ({
        ...this.options.raft,
        id: nodeId,
        random: root.fork(`core:${nodeId}:${incarnation}`).asFunction(),
      }),
      bootstrapMembers: this.initialMembers,
      snapshotEveryEntries: this.options.snapshotEveryEntries,
      rules: this.options.rules,
      driver: this.options.driver,
      log: (line) => this.log(line),
    });
    this.nodes.set(id, node);
    return node;
  }

  node(id: NodeId): SimNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`harness bug: no node ${id}`);
    return n;
  }

  alive(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.alive);
  }

  log(line: string): void {
    this.trace.add(this.now, line);
  }

  // ---- observation -----------------------------------------------------------

  status(id: NodeId): CoreStatus {
    const n = this.node(id);
    return n.guard('status', () => n.core.status());
  }

  /** The live leader with the highest term, if any. */
  leader(): SimNode | null {
    let best: SimNode | null = null;
    let bestTerm = -1;
    for (const n of this.alive()) {
      const st = this.status(n.id);
      if (st.role === 'leader' && st.term > bestTerm) {
        best = n;
        bestTerm = st.term;
      }
    }
    return best;
  }

  private leaderLogs(): LeaderLog[] {
    const out: LeaderLog[] = [];
    for (const n of this.nodes.values()) {
      if (!n.inSync()) continue;
      const st = n.core.status();
      if (st.role === 'leader') out.push({ id: n.id, term: st.term, disk: n.disk });
    }
    return out;
  }

  /** Highest index known committed anywhere right now (for ReadIndex checks). */
  knownCommitIndex(): number {
    let max = this.checker.maxCommittedIndex;
    for (const n of this.alive()) max = Math.max(max, this.status(n.id).commitIndex);
    return max;
  }

  // ---- inputs ----------------------------------------------------------------

  /**
   * Feed one input to a live node, then maybe process its Readys: all of them,
   * or only take the next one and leave it "being persisted" while later inputs
   * arrive (the async driver), or nothing yet.
   */
  private input<T>(n: SimNode, what: string, fn: () => T): T {
    const result = n.guard(what, fn);
    const p = this.options.drainProbability;
    if (p >= 1) n.drain();
    else {
      const r = this.rng.next();
      if (r < p) n.drain();
      else if (r < p + (1 - p) / 2 && n.alive) n.takeReady();
    }
    const w = this.options.snapshotWriteChance;
    if (n.alive && n.snapshotInFlight && (w >= 1 || this.rng.chance(w))) n.finishSnapshotWrite();
    return result;
  }

  tick(id: NodeId): void {
    const n = this.node(id);
    if (n.alive) this.input(n, 'tick', () => n.tick());
  }

  tickAll(skipProbability = 0): void {
    for (const n of this.alive()) {
      if (skipProbability > 0 && this.rng.chance(skipProbability)) continue;
      this.input(n, 'tick', () => n.tick());
    }
  }

  /** Deliver one due message (random choice among due ones); false if none was due. */
  deliverOne(filter?: (msg: Message) => boolean): boolean {
    const msg = this.network.takeRandom(this.now, filter);
    if (msg === null) return false;
    this.deliver(msg);
    return true;
  }

  /** Scenarios watch traffic through this (for example to count snapshot chunks). */
  onDeliver: ((msg: Message) => void) | null = null;

  /** Nodes that learned of their removal from a peer's refusal. */
  removalNotices = 0;

  /** Delivered messages by type, for coverage statistics. */
  readonly delivered = new Map<Message['type'], number>();

  deliver(msg: Message): void {
    this.onDeliver?.(msg);
    this.delivered.set(msg.type, (this.delivered.get(msg.type) ?? 0) + 1);
    const n = this.nodes.get(msg.to);
    if (n === undefined || !n.alive) {
      this.log(`lost ${describeMessage(msg)}`);
      // The sender's stream to a dead peer fails and backs off.
      this.network.linkFailed(msg.from, msg.to, this.now);
      return;
    }
    // The receiver's HTTP routes (src/transport/peer-admission.ts, or the rules under test).
    const admission = this.options.rules.admit(
      n.guard('peerView', () => n.peerView()),
      msg.from,
    );
    if (admission.kind !== 'admit') {
      this.log(`refused (${admission.kind}) ${describeMessage(msg)}`);
      this.network.linkFailed(msg.from, msg.to, this.now);
      if (admission.kind === 'removed') this.tellRemoved(msg.from, { by: msg.to, appliedIndex: admission.appliedIndex });
      return;
    }
    n.noteSender(msg.from);
    this.log(`deliver ${describeMessage(msg)}`);
    this.input(n, `step(${msg.type})`, () => n.core.step(msg));
  }

  /**
   * The 410 goes back on the sender's own request (a one-way partition towards it
   * eats the answer). A node told it is removed must be outside the latest
   * committed configuration: ids are never reused here, so anything else is a
   * wrong refusal.
   */
  private tellRemoved(to: NodeId, notice: RemovalNotice): void {
    const sender = this.nodes.get(to);
    if (sender === undefined || !sender.alive || !this.network.canReach(notice.by, to)) return;
    if (!sender.onRemovedByPeer(notice)) return;
    this.removalNotices++;
    const committed = this.latestCommittedConfig();
    if (committed.includes(to))
      violation(
        'membership',
        `${notice.by} told ${to} it was removed, but the latest committed configuration (${committed.join(',')}) has it`,
      );
  }

  /** Member ids of the config entry at the highest committed index (or the bootstrap members). */
  private latestCommittedConfig(): string[] {
    let best: { index: number; fp: string } | null = null;
    for (const [index, c] of this.checker.committedEntries()) {
      if (c.fp.startsWith('c:') && (best === null || index > best.index)) best = { index, fp: c.fp };
    }
    // A config fingerprint lists members as `id+` (voter) or `id-` (learner).
    if (best === null) return this.initialMembers.map((m) => m.id);
    return best.fp
      .slice(2)
      .split(',')
      .filter((s) => s !== '')
      .map((s) => s.slice(0, -1));
  }

  /** Deliver until nothing is due; a bound turns a message storm into a finding. */
  deliverAll(maxMessages = 20_000, filter?: (msg: Message) => boolean): number {
    let count = 0;
    while (this.deliverOne(filter)) {
      if (++count > maxMessages) violation('liveness', `more than ${maxMessages} messages without quiescence`);
    }
    return count;
  }

  /** Deliver and process until no message is due and no node has a Ready. */
  quiesce(filter?: (msg: Message) => boolean): void {
    for (let round = 0; round < 1000; round++) {
      this.drainAll();
      const delivered = this.deliverAll(20_000, filter);
      if (delivered === 0 && !this.alive().some((n) => n.busy())) return;
    }
    violation('liveness', 'the cluster never went quiet');
  }

  drain(id: NodeId): void {
    const n = this.node(id);
    if (n.alive) n.drain();
  }

  /** Every live node processes its Readys and finishes its snapshot write. */
  drainAll(): void {
    for (const n of this.alive()) {
      n.drain();
      if (n.alive && n.snapshotInFlight) n.finishSnapshotWrite();
    }
  }

  propose(id: NodeId, data: string): ProposeResult {
    const n = this.node(id);
    const result = this.input(n, 'propose', () => n.core.propose(new TextEncoder().encode(data)));
    this.log(`propose ${data} on ${id}: ${result.ok ? `ok ${result.index}/${result.term}` : result.reason}`);
    return result;
  }

  confChange(id: NodeId, change: ConfChange): ProposeResult {
    const n = this.node(id);
    const result = this.input(n, 'proposeConfChange', () => n.core.proposeConfChange(change));
    this.log(`confChange ${change.type} ${change.id} on ${id}: ${result.ok ? `ok ${result.index}` : result.reason}`);
    return result;
  }

  transfer(from: NodeId, to: NodeId): ProposeResult {
    const n = this.node(from);
    const result = this.input(n, 'transferLeadership', () => n.core.transferLeadership(to));
    this.log(`transfer ${from}->${to}: ${result.ok ? 'ok' : result.reason}`);
    return result;
  }

  readIndex(id: NodeId): number {
    const n = this.node(id);
    const requestId = this.nextRequestId++;
    this.checker.onReadRequested(id, requestId, this.knownCommitIndex());
    this.input(n, 'readIndex', () => n.core.readIndex(requestId));
    this.log(`readIndex ${requestId} on ${id}`);
    return requestId;
  }

  crash(id: NodeId, kind: CrashKind): void {
    const n = this.node(id);
    this.log(`crash ${id} ${kind}`);
    switch (kind) {
      case 'now':
        return n.crash();
      case 'stop':
        return n.stop(false);
      case 'stopPowerLoss':
        return n.stop(true);
      default:
        n.armedCrash = kind;
    }
  }

  restart(id: NodeId): void {
    this.log(`restart ${id}`);
    this.node(id).start();
  }

  partition(groups: readonly (readonly NodeId[])[]): void {
    this.log(`partition ${groups.map((g) => `{${g.join(',')}}`).join(' ')}`);
    this.network.partition(groups);
  }

  /** One-way partition: messages from -> to are lost, to -> from still flow. */
  cutOneWay(links: readonly (readonly [NodeId, NodeId])[]): void {
    this.log(`cut ${links.map(([a, b]) => `${a}->${b}`).join(' ')}`);
    this.network.cutOneWay(links);
  }

  heal(): void {
    this.log('heal');
    this.network.heal();
  }

  /** A fresh node (empty disk, never a member before) for an addLearner. */
  spawnSpare(): SimNode | null {
    if (this.nodes.size >= this.options.maxNodes) return null;
    const node = this.createNode(`n${this.nextNodeNumber++}`);
    node.start();
    this.log(`spawn ${node.id}`);
    return node;
  }

  /** Forget a spare that never made it into any log. */
  discardSpare(id: NodeId): void {
    this.nodes.delete(id);
    this.network.discard((m) => m.to === id);
  }

  // ---- per-step bookkeeping and checks ---------------------------------------

  /** Close a step: shut down nodes that know they were removed (an operator stops them), run per-step checks, advance the clock. */
  endStep(): void {
    for (const n of this.nodes.values()) {
      if (n.alive && n.removed) {
        this.log(`retire ${n.id} (knows it was removed)`);
        n.retire();
      }
    }
    this.checkStep();
    this.now++;
  }

  checkStep(): void {
    for (const n of this.alive()) {
      const st = this.status(n.id);
      if (st.role === 'leader') {
        n.observeLeader(st.term);
        // Leader Completeness needs the leader's whole log on disk to look at.
        if (!this.checker.leaderLogChecked(n.id, st.term) && n.inSync()) this.checker.onLeaderLog(n.id, st.term, n.disk);
      }
      if (!(st.appliedIndex <= st.commitIndex && st.commitIndex <= st.lastIndex)) {
        violation('ready-contract', `${n.id} status has applied ${st.appliedIndex}, commit ${st.commitIndex}, last ${st.lastIndex}`);
      }
      if (st.term < n.disk.hardState.term)
        violation('hard-state', `${n.id} is in term ${st.term} below its disk term ${n.disk.hardState.term}`);
    }
  }

  /** Leader's latest config equals its applied one, i.e. no change is pending. */
  configSettled(leader: SimNode): boolean {
    return sameMembers(this.status(leader.id).members, leader.membership.members);
  }

  static fingerprintOf(data: string): string {
    return fingerprint({ kind: 'normal', index: 0, term: 0, data: new TextEncoder().encode(data) });
  }
}

export function member(id: NodeId, voter: boolean): Member {
  return { id, url: `sim://${id}`, voter };
}

export function sameMembers(a: readonly Member[], b: readonly Member[]): boolean {
  const key = (ms: readonly Member[]) =>
    ms
      .map((m) => `${m.id}${m.voter ? '+' : '-'}`)
      .sort()
      .join(',');
  return key(a) === key(b);
}
