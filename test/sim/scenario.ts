// Scripted driving of a cluster for the targeted scenarios: a reliable network,
// every Ready processed at once, and helpers that run the clock until something
// holds (bounded, failing as a liveness violation otherwise).
import type { Message, NodeId } from '../../src/raft/types.js';
import { Cluster, type RaftTuning } from './cluster.js';
import { RELIABLE, UNBOUNDED_LINKS } from './network.js';
import { PRODUCTION_DRIVER, type CoreFactory, type DriverRules } from './sim-node.js';
import { PRODUCTION_RULES, type TransportRules } from './transport-rules.js';
import { violation } from './violation.js';

export const SCENARIO_TUNING: RaftTuning = {
  electionTicks: 10,
  heartbeatTicks: 2,
  maxInflightAppends: 4,
  maxAppendBytes: 64 * 1024,
  snapshotChunkBytes: 1024,
  maxUncommittedEntries: 256,
  snapshotCatchUpEntries: 0,
  preVote: false,
  checkQuorum: false,
};

export interface ScenarioOptions {
  readonly voters: number;
  readonly raft?: Partial<RaftTuning>;
  readonly snapshotEveryEntries?: number;
  readonly seed?: number;
  readonly rules?: TransportRules;
  readonly driver?: DriverRules;
}

export function scenarioCluster(coreFactory: CoreFactory, opts: ScenarioOptions): Cluster {
  return new Cluster({
    seed: opts.seed ?? 1,
    voters: opts.voters,
    maxNodes: opts.voters + 4,
    raft: { ...SCENARIO_TUNING, ...opts.raft },
    faults: RELIABLE,
    links: UNBOUNDED_LINKS,
    maxInFlight: 10_000,
    snapshotEveryEntries: opts.snapshotEveryEntries ?? 1_000_000,
    drainProbability: 1,
    coreFactory,
    rules: opts.rules ?? PRODUCTION_RULES,
    driver: opts.driver ?? PRODUCTION_DRIVER,
    snapshotWriteChance: 1,
    traceLines: 200,
  });
}

/**
 * Tick only the nodes in `tickers` (default: all live ones) and let every message
 * passing `filter` flow, until `done` holds. Fails as a liveness violation after
 * `maxTicks`.
 */
export function runUntil(
  cluster: Cluster,
  what: string,
  done: () => boolean,
  opts: { maxTicks?: number; tickers?: readonly NodeId[]; filter?: (m: Message) => boolean } = {},
): void {
  const maxTicks = opts.maxTicks ?? 500;
  for (let t = 0; t <= maxTicks; t++) {
    cluster.quiesce(opts.filter);
    cluster.endStep();
    if (done()) return;
    if (opts.tickers === undefined) cluster.tickAll();
    else for (const id of opts.tickers) cluster.tick(id);
  }
  violation('liveness', `scenario: "${what}" did not happen within ${maxTicks} ticks\n${cluster.trace.dump().slice(-40).join('\n')}`);
}

export function isLeader(cluster: Cluster, id: NodeId): boolean {
  const n = cluster.nodes.get(id);
  return n?.alive === true && cluster.status(id).role === 'leader';
}

/** Make `id` leader by letting only its election timer run. */
export function elect(cluster: Cluster, id: NodeId, filter?: (m: Message) => boolean): void {
  runUntil(cluster, `${id} becomes leader`, () => isLeader(cluster, id), { tickers: [id], ...(filter ? { filter } : {}) });
}

/** Propose on `leaderId` and run until every live node in `on` applied it. Returns its index. */
export function commit(cluster: Cluster, leaderId: NodeId, data: string, on: readonly NodeId[]): number {
  const r = cluster.propose(leaderId, data);
  if (!r.ok) violation('liveness', `scenario: propose ${data} on ${leaderId} refused: ${r.reason}`);
  runUntil(cluster, `${data} applied on ${on.join(',')}`, () => on.every((id) => appliedData(cluster, id, r.index) === data));
  return r.index;
}

/** The data of the normal entry `id` applied at `index`, if any. */
export function appliedData(cluster: Cluster, id: NodeId, index: number): string | undefined {
  const n = cluster.node(id);
  if (n.sm.appliedIndex < index) return undefined;
  const fp = cluster.checker.appliedAt(index)?.fp;
  return fp?.startsWith('d:') === true ? fp.slice(2) : undefined;
}

/** Data of the stored normal entry at `index` on `id`'s disk, or its kind. */
export function storedAt(cluster: Cluster, id: NodeId, index: number): string | undefined {
  const e = cluster.node(id).disk.entryAt(index);
  if (e === undefined) return undefined;
  return e.kind === 'normal' ? new TextDecoder().decode(e.data) : `${e.kind}@t${e.term}`;
}
