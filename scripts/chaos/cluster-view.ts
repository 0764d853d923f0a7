// Who leads: each node's own GET /v1/cluster, sampled in the background. Also records
// every (term, leader) claim seen, since two nodes claiming the same term is split brain
// (two leaders of *different* terms at once is allowed: a deposed leader learns of the
// new term only when it next hears from the cluster).
import { httpJson, isObject, pollUntil, sleep } from './http.js';
import type { NodeEndpoint } from './target.js';

export interface NodeStatus {
  readonly nodeId: string;
  readonly role: string;
  readonly term: number;
  readonly leaderId: string | null;
}

const STATUS_TIMEOUT_MS = 800;

export async function fetchStatus(url: string, timeoutMs = STATUS_TIMEOUT_MS): Promise<NodeStatus | null> {
  const r = await httpJson('GET', `${url}/v1/cluster`, { timeoutMs });
  if (r.kind !== 'reply' || r.status !== 200 || !isObject(r.body)) return null;
  const b = r.body;
  if (typeof b['nodeId'] !== 'string' || typeof b['role'] !== 'string' || typeof b['term'] !== 'number') return null;
  return { nodeId: b['nodeId'], role: b['role'], term: b['term'], leaderId: typeof b['leaderId'] === 'string' ? b['leaderId'] : null };
}

/** Waits until a majority of all nodes names one leader in one term and the leader agrees; null on timeout. */
export async function waitForLeader(
  nodes: readonly NodeEndpoint[],
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ id: string; term: number } | null> {
  const majority = Math.floor(nodes.length / 2) + 1;
  return pollUntil(
    timeoutMs,
    async () => {
      const statuses = (await Promise.all(nodes.map((n) => fetchStatus(n.url)))).filter((s): s is NodeStatus => s !== null);
      const leader = statuses.filter((s) => s.role === 'leader').sort((a, b) => b.term - a.term)[0];
      if (leader === undefined) return undefined;
      const agree = statuses.filter((s) => s.term === leader.term && s.leaderId === leader.nodeId).length;
      return agree >= majority ? { id: leader.nodeId, term: leader.term } : undefined;
    },
    200,
    signal,
  );
}

export class LeaderTracker {
  private readonly claims = new Map<number, Set<string>>();
  private leader: { id: string; term: number } | null = null;
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  samples = 0;

  constructor(
    private readonly nodes: readonly NodeEndpoint[],
    private readonly intervalMs = 250,
  ) {}

  start(): this {
    this.running = true;
    this.loop = this.run();
    return this;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** The leader of the highest term seen in the latest sample, or null if none claimed it. */
  current(): string | null {
    return this.leader?.id ?? null;
  }

  leadersByTerm(): Map<number, string[]> {
    return new Map([...this.claims].map(([t, s]) => [t, [...s].sort()]));
  }

  private async run(): Promise<void> {
    while (this.running) {
      const statuses = await Promise.all(this.nodes.map((n) => fetchStatus(n.url)));
      let best: { id: string; term: number } | null = null;
      for (const s of statuses) {
        if (s?.role !== 'leader') continue;
        this.claims.set(s.term, (this.claims.get(s.term) ?? new Set()).add(s.nodeId));
        if (best === null || s.term > best.term) best = { id: s.nodeId, term: s.term };
      }
      this.leader = best;
      this.samples++;
      await sleep(this.intervalMs);
    }
  }
}
