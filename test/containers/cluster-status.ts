// Reading Raft roles from GET /v1/cluster: who leads, in which term, and whether two nodes
// ever claimed leadership of the same term (split brain, which Raft must never allow).
import { getJson, isObject, pollUntil, sleep } from './http-json.js';

export interface NodeStatus {
  readonly nodeId: string;
  readonly role: 'leader' | 'follower' | 'candidate' | 'learner';
  readonly term: number;
  readonly leaderId: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
}

export interface Leader {
  readonly id: string;
  readonly term: number;
}

/** Anything that maps node ids to their URLs as the test process reaches them. */
export interface NodeDirectory {
  readonly nodeIds: readonly string[];
  nodeUrl(id: string): string;
}

export async function fetchStatus(url: string, timeoutMs = 2000): Promise<NodeStatus | null> {
  const r = await getJson(`${url}/v1/cluster`, timeoutMs);
  if (r.kind !== 'reply' || r.status !== 200 || !isObject(r.body)) return null;
  const b = r.body;
  if (typeof b['nodeId'] !== 'string' || typeof b['role'] !== 'string' || typeof b['term'] !== 'number') return null;
  return {
    nodeId: b['nodeId'],
    role: b['role'] as NodeStatus['role'],
    term: b['term'],
    leaderId: typeof b['leaderId'] === 'string' ? b['leaderId'] : null,
    commitIndex: Number(b['commitIndex']),
    appliedIndex: Number(b['appliedIndex']),
  };
}

export async function fetchAll(dir: NodeDirectory, ids = dir.nodeIds): Promise<Map<string, NodeStatus | null>> {
  const entries = await Promise.all(ids.map(async (id) => [id, await fetchStatus(dir.nodeUrl(id))] as const));
  return new Map(entries);
}

/**
 * Waits until a majority of `among` agree on one leader in one term and that leader says so
 * itself. `among` lets a scenario leave out a node it has killed, paused or cut off.
 */
export async function waitForLeader(
  dir: NodeDirectory,
  options: { readonly among?: readonly string[]; readonly notId?: string; readonly minTerm?: number; readonly timeoutMs?: number } = {},
): Promise<Leader> {
  const among = options.among ?? dir.nodeIds;
  const majority = Math.floor(dir.nodeIds.length / 2) + 1;
  return pollUntil(`a leader among ${among.join(',')}`, options.timeoutMs ?? 60_000, async () => {
    const statuses = [...(await fetchAll(dir, among)).values()].filter((s): s is NodeStatus => s !== null);
    const leader = statuses.find((s) => s.role === 'leader');
    if (leader === undefined || leader.nodeId === options.notId || leader.term < (options.minTerm ?? 0)) return undefined;
    const agreeing = statuses.filter((s) => s.leaderId === leader.nodeId && s.term === leader.term).length;
    return agreeing >= majority ? { id: leader.nodeId, term: leader.term } : undefined;
  });
}

/** Waits until node `id` answers with a status that satisfies `accept`. */
export async function waitForStatus(
  dir: NodeDirectory,
  id: string,
  what: string,
  accept: (s: NodeStatus) => boolean,
  timeoutMs = 60_000,
): Promise<NodeStatus> {
  return pollUntil(`${id} ${what}`, timeoutMs, async () => {
    const s = await fetchStatus(dir.nodeUrl(id));
    return s !== null && accept(s) ? s : undefined;
  });
}

/**
 * Waits until a node that was cut off (killed, paused, partitioned) has caught up with the
 * cluster: it knows a leader, in a term at least `term`. Leadership may move again
 * meanwhile on a loaded machine, so this does not insist on one particular leader.
 */
export function waitForRejoin(dir: NodeDirectory, id: string, term: number, timeoutMs = 60_000): Promise<NodeStatus> {
  return waitForStatus(dir, id, `to rejoin in term >= ${term}`, (s) => s.term >= term && s.leaderId !== null, timeoutMs);
}

/**
 * Samples every node's role in the background. Two nodes that each say "leader" for the
 * same term is split brain. (Two leaders of *different* terms at once is allowed: a deposed
 * leader learns of the new term only when it next hears from the cluster.)
 */
export class LeaderObserver {
  private readonly leadersByTerm = new Map<number, Set<string>>();
  private running = false;
  private loop: Promise<void> | null = null;
  samples = 0;

  constructor(
    private readonly dir: NodeDirectory,
    private readonly intervalMs = 150,
  ) {}

  start(): this {
    this.running = true;
    this.loop = this.run();
    return this;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const statuses = await fetchAll(this.dir);
      for (const s of statuses.values()) {
        if (s?.role !== 'leader') continue;
        const set = this.leadersByTerm.get(s.term) ?? new Set<string>();
        set.add(s.nodeId);
        this.leadersByTerm.set(s.term, set);
      }
      this.samples++;
      await sleep(this.intervalMs);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Terms in which more than one node claimed leadership, with the claimants. */
  splitBrains(): Array<{ term: number; leaders: string[] }> {
    return [...this.leadersByTerm].filter(([, s]) => s.size > 1).map(([term, s]) => ({ term, leaders: [...s].sort() }));
  }

  /** Every (term, leader) seen, in term order: the scenario's leadership history. */
  history(): Array<{ term: number; leaders: string[] }> {
    return [...this.leadersByTerm].sort(([a], [b]) => a - b).map(([term, s]) => ({ term, leaders: [...s].sort() }));
  }
}
