// One seeded schedule: parameters drawn from the seed, a chaos phase of random
// steps with invariants checked after each, then the liveness phase.
//
// The cluster starts with 1 to 5 voters (votersForSeed) and membership changes
// move it anywhere between MIN_VOTERS and MAX_VOTERS, plus learners, removing
// the leader itself now and then. Even sizes and one- or two-voter clusters are
// where single-server changes fail to make progress (thesis §4.2.2), so every
// size gets an equal share of the seeds.
//
// A failure becomes a SimFailure whose message is the line the test prints:
//   SIM FAILED seed=<n> step=<k> invariant=<name>: detail
// followed by the replay command, the parameters and the last actions (the seed
// is re-run with tracing on to collect them; bulk runs trace nothing).
import type { Member, NodeId } from '../../src/raft/types.js';
import { Cluster, member, type CrashKind, type RaftTuning } from './cluster.js';
import { settle } from './liveness.js';
import type { LinkLimits, NetworkFaults } from './network.js';
import { Prng } from '../../src/util/random.js';
import { PRODUCTION_DRIVER, type CoreFactory, type DriverRules } from './sim-node.js';
import { PRODUCTION_RULES, type TransportRules } from './transport-rules.js';
import { SimViolation, violation, type InvariantName } from './violation.js';

/** What runs between the core and the wire: production's rules unless a test swaps in a faulty variant. */
export interface Layers {
  readonly rules: TransportRules;
  readonly driver: DriverRules;
}

export const PRODUCTION_LAYERS: Layers = { rules: PRODUCTION_RULES, driver: PRODUCTION_DRIVER };

/** Bounds of the voter count, at the start and after any membership change. */
export const MIN_VOTERS = 1;
export const MAX_VOTERS = 5;
/** Learners at most, on top of the voters. */
export const MAX_LEARNERS = 2;
/** Nodes a schedule may create beyond its initial voters (ids are never reused, so removals use them up). */
const SPARE_NODES = 8;
/**
 * Chance that a membership step grows the cluster rather than shrinking it.
 * Above one half because growing a voter takes two changes (addLearner,
 * promote) and shrinking one, so the voter count still wanders both ways.
 */
const GROW_ODDS = 0.6;

export interface ScheduleParams {
  readonly seed: number;
  /** Voters at the start (see votersForSeed). */
  readonly voters: number;
  readonly steps: number;
  readonly raft: RaftTuning;
  readonly faults: NetworkFaults;
  readonly links: LinkLimits;
  readonly snapshotEveryEntries: number;
  readonly drainProbability: number;
  /** Chance that a background snapshot write completes after an input to its node. */
  readonly snapshotWriteChance: number;
  readonly maxInFlight: number;
  /** Multiplier on the weights of crash, partition, membership and transfer steps. */
  readonly chaosIntensity: number;
}

export interface RunStats {
  readonly seed: number;
  /** Voters at the start. */
  readonly voters: number;
  /** Fewest and most voters in any committed configuration (the initial one included). */
  readonly minVoters: number;
  readonly maxVoters: number;
  readonly steps: number;
  readonly livenessTicks: number;
  /** Highest committed index. */
  readonly committed: number;
  readonly configsCommitted: number;
  readonly terms: number;
  readonly readsConfirmed: number;
  readonly snapshotsTaken: number;
  readonly snapshotsInstalled: number;
  readonly crashes: number;
  readonly messages: number;
  readonly transfers: number;
  /** Accepted proposals of a leader to remove itself. */
  readonly leaderSelfRemovals: number;
  /** Readys a leader sent before its write (thesis §10.2.1). */
  readonly earlySends: number;
  /** Commit-index-only Readys not written on their own (MustSync). */
  readonly deferredCommits: number;
  /** Removed nodes that learned it from a peer's MEMBER_REMOVED. */
  readonly removalNotices: number;
  readonly gracefulStops: number;
  readonly oneWayPartitions: number;
  /** Messages lost to a full link queue, a link's backoff, or a link failing under them. */
  readonly linkDrops: number;
}

export const REPLAY_COMMAND = 'npx vitest run test/raft/simulation.test.ts';
/** Steps per schedule unless SIM_STEPS says otherwise. */
export const DEFAULT_STEPS = 2000;

export function replayCommand(seed: number, steps: number): string {
  return `SIM_SEED=${seed}${steps === DEFAULT_STEPS ? '' : ` SIM_STEPS=${steps}`} ${REPLAY_COMMAND}`;
}

export class SimFailure extends Error {
  constructor(
    readonly seed: number,
    readonly step: number,
    readonly invariant: InvariantName,
    readonly detail: string,
    readonly context: string,
    steps: number,
  ) {
    super(`SIM FAILED seed=${seed} step=${step} invariant=${invariant}: ${detail}\n  replay: ${replayCommand(seed, steps)}\n${context}`);
    this.name = 'SimFailure';
  }
}

/**
 * The initial voter count cycles with the seed rather than being drawn, so any
 * range of MAX_VOTERS consecutive seeds covers every size once: a short run
 * still tests them all, and a replayed seed gets its size back.
 */
export function votersForSeed(seed: number): number {
  const sizes = MAX_VOTERS - MIN_VOTERS + 1;
  return MIN_VOTERS + (((seed % sizes) + sizes) % sizes);
}

export function paramsForSeed(seed: number, steps: number): ScheduleParams {
  const rng = new Prng(seed).fork('params');
  // Not 2: randomized timeouts would take only the values 2 and 3, and split votes
  // among three candidates can then outlast any fair liveness bound.
  const electionTicks = rng.int(3, 10);
  const params = {
    seed,
    voters: votersForSeed(seed),
    steps,
    raft: {
      electionTicks,
      heartbeatTicks: rng.int(1, Math.min(3, electionTicks - 1)),
      maxInflightAppends: rng.pick([1, 2, 4, 8]),
      maxAppendBytes: rng.pick([1, 64, 1024]),
      snapshotChunkBytes: rng.pick([16, 64, 512]),
      maxUncommittedEntries: rng.pick([4, 16, 256]),
      snapshotCatchUpEntries: 0,
      preVote: rng.chance(0.5),
      checkQuorum: rng.chance(0.5),
    },
    faults: {
      dropRate: rng.pick([0, 0.02, 0.1, 0.2]),
      duplicateRate: rng.pick([0, 0.02, 0.1]),
      delayMaxSteps: rng.pick([0, 2, 8, 30]),
    },
    snapshotEveryEntries: rng.int(2, 20),
    drainProbability: rng.pick([0.5, 0.8, 1]),
    maxInFlight: rng.pick([50, 400]),
    chaosIntensity: rng.pick([0.3, 1, 2.5]),
    // Drawn last, so the parameters above stay what they were for every seed.
    links: { queueMax: rng.pick([4, 16, 10_000]), streamFailures: true, backoffMinSteps: 1, backoffMaxSteps: rng.pick([2, 8, 32]) },
    snapshotWriteChance: rng.pick([0.05, 0.3, 1]),
  };
  // Drawn after the rest, as above. A trail of 0 (no entry behind a snapshot), shorter than,
  // or longer than the snapshot interval (2-20 entries).
  return { ...params, raft: { ...params.raft, snapshotCatchUpEntries: rng.pick([0, 3, 30]) } };
}

/** Run one seed; on failure, re-run it traced and throw a SimFailure. */
export function runSeed(
  seed: number,
  coreFactory: CoreFactory,
  steps: number,
  traceLines = 60,
  layers: Layers = PRODUCTION_LAYERS,
): RunStats {
  try {
    return runSchedule(seed, coreFactory, steps, 0, layers);
  } catch (e) {
    const first = asTraced(e);
    let context = '  (the traced re-run passed: the core or the harness is not deterministic)';
    try {
      runSchedule(seed, coreFactory, steps, traceLines, layers);
    } catch (again) {
      const traced = asTraced(again);
      context = traced.context;
      if (traced.step !== first.step) context += `\n  (the traced re-run failed at step ${traced.step} instead: not deterministic)`;
    }
    const v = first.cause;
    if (v instanceof SimViolation) throw new SimFailure(seed, first.step, v.invariant, v.detail, context, steps);
    const text = v instanceof Error ? (v.stack ?? v.message) : String(v);
    throw new SimFailure(seed, first.step, 'core-threw', `harness error: ${text}`, context, steps);
  }
}

class TracedError extends Error {
  constructor(
    override readonly cause: unknown,
    readonly step: number,
    readonly context: string,
  ) {
    super(String(cause));
  }
}

function asTraced(e: unknown): TracedError {
  return e instanceof TracedError ? e : new TracedError(e, -1, '');
}

export function runSchedule(
  seed: number,
  coreFactory: CoreFactory,
  steps: number,
  traceLines: number,
  layers: Layers = PRODUCTION_LAYERS,
): RunStats {
  const params = paramsForSeed(seed, steps);
  const cluster = new Cluster({
    seed,
    voters: params.voters,
    maxNodes: params.voters + SPARE_NODES,
    raft: params.raft,
    faults: params.faults,
    links: params.links,
    maxInFlight: params.maxInFlight,
    snapshotEveryEntries: params.snapshotEveryEntries,
    drainProbability: params.drainProbability,
    snapshotWriteChance: params.snapshotWriteChance,
    coreFactory,
    rules: layers.rules,
    driver: layers.driver,
    traceLines,
  });
  const chaos = new Chaos(cluster, new Prng(seed).fork('schedule'), seed, params.chaosIntensity);
  let step = 0;
  try {
    for (; step < params.steps; step++) {
      chaos.step();
      cluster.endStep();
    }
    const live = settle(cluster, 50 * params.raft.electionTicks);
    step += live.ticks;
    return statsOf(params, step, live.ticks, cluster, chaos);
  } catch (e) {
    const context = traceLines === 0 ? '' : contextOf(params, cluster);
    throw new TracedError(e, step, context);
  }
}

function statsOf(params: ScheduleParams, steps: number, livenessTicks: number, cluster: Cluster, chaos: Chaos): RunStats {
  let snapshotsTaken = 0;
  let snapshotsInstalled = 0;
  let earlySends = 0;
  let deferredCommits = 0;
  for (const n of cluster.nodes.values()) {
    snapshotsTaken += n.snapshotsTaken;
    snapshotsInstalled += n.snapshotsInstalled;
    earlySends += n.earlySends;
    deferredCommits += n.deferredCommits;
  }
  const net = cluster.network.stats;
  let configsCommitted = 0;
  let minVoters = params.voters;
  let maxVoters = params.voters;
  for (const c of cluster.checker.committedEntries().values()) {
    if (!c.fp.startsWith('c:')) continue;
    configsCommitted++;
    // A config fingerprint lists members as `id+` (voter) or `id-` (learner).
    const voters = c.fp.split('+').length - 1;
    minVoters = Math.min(minVoters, voters);
    maxVoters = Math.max(maxVoters, voters);
  }
  return {
    seed: params.seed,
    voters: params.voters,
    minVoters,
    maxVoters,
    steps,
    livenessTicks,
    committed: cluster.checker.maxCommittedIndex,
    configsCommitted,
    terms: cluster.checker.leaderCount(),
    readsConfirmed: cluster.checker.readsConfirmed,
    snapshotsTaken,
    snapshotsInstalled,
    crashes: chaos.crashes,
    messages: cluster.network.stats.sent,
    transfers: cluster.delivered.get('timeoutNow') ?? 0,
    leaderSelfRemovals: chaos.leaderSelfRemovals,
    earlySends,
    deferredCommits,
    removalNotices: cluster.removalNotices,
    gracefulStops: chaos.gracefulStops,
    oneWayPartitions: chaos.oneWayPartitions,
    linkDrops: net.queueFull + net.backoffDropped + net.lostOnFailure,
  };
}

function contextOf(params: ScheduleParams, cluster: Cluster): string {
  const lines = cluster.trace.dump().map((l) => `    ${l}`);
  return `  params: ${JSON.stringify(params)}\n  last actions (oldest first):\n${lines.join('\n')}`;
}

/** The random step chooser. Weights are relative; message delivery dominates so traffic keeps up with ticks. */
class Chaos {
  crashes = 0;
  gracefulStops = 0;
  oneWayPartitions = 0;
  leaderSelfRemovals = 0;
  private proposalCount = 0;
  private readonly actions: ReadonlyArray<readonly [number, () => void]>;
  private readonly totalWeight: number;

  constructor(
    private readonly cluster: Cluster,
    private readonly rng: Prng,
    private readonly seed: number,
    intensity: number,
  ) {
    const k = intensity;
    this.actions = [
      [65, () => this.deliver()],
      [14, () => this.cluster.tickAll(0.1)],
      [2, () => this.tickOne()],
      [8, () => this.propose()],
      [2, () => this.drainOne()],
      [2, () => this.read()],
      [1 * k, () => this.crash()],
      [2 * k, () => this.restart()],
      [0.6 * k, () => this.partition()],
      [0.4 * k, () => this.partitionOneWay()],
      [1.2 * k, () => this.cluster.heal()],
      [3 * k, () => this.membership()],
      [1 * k, () => this.transfer()],
    ];
    this.totalWeight = this.actions.reduce((sum, [w]) => sum + w, 0);
  }

  step(): void {
    let r = this.rng.next() * this.totalWeight;
    for (const [weight, action] of this.actions) {
      r -= weight;
      if (r < 0) return action();
    }
  }

  private deliver(): void {
    const count = this.rng.int(1, 3);
    for (let i = 0; i < count; i++) this.cluster.deliverOne();
  }

  private someAlive(): NodeId | null {
    const alive = this.cluster.alive();
    return alive.length === 0 ? null : this.rng.pick(alive).id;
  }

  private tickOne(): void {
    const id = this.someAlive();
    if (id !== null) this.cluster.tick(id);
  }

  private drainOne(): void {
    const id = this.someAlive();
    if (id !== null) this.cluster.drain(id);
  }

  /**
   * Any node that believes it leads, not just the newest: a deposed leader cut
   * off by a partition accepting proposals is what makes logs diverge.
   */
  private someLeader(): NodeId | null {
    const leaders = this.cluster.alive().filter((n) => this.cluster.status(n.id).role === 'leader');
    return leaders.length === 0 ? null : this.rng.pick(leaders).id;
  }

  private propose(): void {
    const leader = this.someLeader();
    // Now and then propose on a random node, to exercise NOT_LEADER refusals.
    const target = leader !== null && this.rng.chance(0.9) ? leader : this.someAlive();
    if (target === null) return;
    const count = this.rng.int(1, 3);
    for (let i = 0; i < count && this.cluster.node(target).alive; i++) {
      this.cluster.propose(target, `s${this.seed}-p${this.proposalCount++}`);
    }
  }

  private read(): void {
    const id = this.someAlive();
    if (id !== null) this.cluster.readIndex(id);
  }

  private crash(): void {
    const id = this.someAlive();
    if (id === null) return;
    const kind: CrashKind = this.rng.pick(['now', 'now', 'afterPersist', 'afterSend', 'stop', 'stopPowerLoss'] as const);
    this.cluster.crash(id, kind);
    this.crashes++;
    if (kind === 'stop' || kind === 'stopPowerLoss') this.gracefulStops++;
  }

  private restart(): void {
    const down = [...this.cluster.nodes.values()].filter((n) => !n.alive && !n.retired);
    if (down.length > 0) this.cluster.restart(this.rng.pick(down).id);
  }

  private partition(): void {
    const ids = [...this.cluster.nodes.values()].filter((n) => !n.retired).map((n) => n.id);
    const leader = this.cluster.leader();
    if (leader !== null && this.rng.chance(0.3)) {
      this.cluster.partition([[leader.id], ids.filter((id) => id !== leader.id)]);
      return;
    }
    const groupCount = this.rng.int(2, 3);
    const groups: NodeId[][] = Array.from({ length: groupCount }, () => []);
    for (const id of ids) groups[this.rng.below(groupCount)]?.push(id);
    this.cluster.partition(groups);
  }

  /**
   * Cut links in one direction only: a node that cannot send (its heartbeats
   * or votes lost, while it still hears everyone), one that cannot hear, or a
   * random set of directed links.
   */
  private partitionOneWay(): void {
    const ids = [...this.cluster.nodes.values()].filter((n) => !n.retired).map((n) => n.id);
    if (ids.length < 2) return;
    const leader = this.cluster.leader();
    const victim = leader !== null && this.rng.chance(0.4) ? leader.id : this.rng.pick(ids);
    const others = ids.filter((id) => id !== victim);
    const mode = this.rng.pick(['out', 'in', 'links'] as const);
    const links: (readonly [NodeId, NodeId])[] =
      mode === 'out'
        ? others.map((id) => [victim, id] as const)
        : mode === 'in'
          ? others.map((id) => [id, victim] as const)
          : ids.flatMap((a) => ids.filter((b) => b !== a && this.rng.chance(0.3)).map((b) => [a, b] as const));
    if (links.length === 0) return;
    this.cluster.cutOneWay(links);
    this.oneWayPartitions++;
  }

  /**
   * One single-server change proposed on a leader, growing or shrinking the
   * cluster (GROW_ODDS) so the voter count wanders over the whole range.
   */
  private membership(): void {
    const leaderId = this.someLeader();
    if (leaderId === null) return;
    const members = this.cluster.status(leaderId).members;
    const voters = members.filter((m) => m.voter);
    const learners = members.filter((m) => !m.voter);
    if (this.rng.chance(GROW_ODDS)) this.grow(leaderId, voters.length, learners);
    else this.shrink(leaderId, voters, learners);
  }

  private grow(leaderId: NodeId, voterCount: number, learners: readonly Member[]): void {
    if (learners.length > 0 && voterCount < MAX_VOTERS && this.rng.chance(0.8)) {
      this.cluster.confChange(leaderId, { type: 'promote', id: this.rng.pick(learners).id });
    } else if (learners.length < MAX_LEARNERS) {
      this.addLearner(leaderId);
    }
  }

  /**
   * The leader removes itself in a good share of voter removals: with one or
   * two voters left, a removed leader losing leadership before its removal
   * replicates is a deadlock unless it may still stand for election (§4.2.2).
   */
  private shrink(leaderId: NodeId, voters: readonly Member[], learners: readonly Member[]): void {
    if (learners.length > 0 && this.rng.chance(0.3)) {
      this.cluster.confChange(leaderId, { type: 'remove', id: this.rng.pick(learners).id });
      return;
    }
    const self = voters.some((m) => m.id === leaderId) && this.rng.chance(0.4);
    const target = self ? leaderId : voters.length > 0 ? this.rng.pick(voters).id : null;
    // At the floor, try anyway now and then: removing the last voter must be refused.
    if (target === null || (voters.length <= MIN_VOTERS && !this.rng.chance(0.1))) return;
    const r = this.cluster.confChange(leaderId, { type: 'remove', id: target });
    if (!r.ok) return;
    if (target === leaderId) this.leaderSelfRemovals++;
    // The last voter may never go: nothing could be elected again.
    if (voters.length === 1) violation('membership', `${leaderId} accepted removing ${target}, its last voter`);
  }

  private addLearner(leaderId: NodeId): void {
    const spare = this.cluster.spawnSpare();
    if (spare === null) return;
    const r = this.cluster.confChange(leaderId, { type: 'addLearner', id: spare.id, url: member(spare.id, false).url });
    if (!r.ok) this.cluster.discardSpare(spare.id);
  }

  private transfer(): void {
    const leaderId = this.someLeader();
    if (leaderId === null) return;
    const leader = this.cluster.node(leaderId);
    const others = this.cluster.status(leader.id).members.filter((m) => m.voter && m.id !== leader.id);
    if (others.length > 0) this.cluster.transfer(leader.id, this.rng.pick(others).id);
  }
}
