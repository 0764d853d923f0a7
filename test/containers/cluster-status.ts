// Reading Raft roles from GET /v1/cluster: who leads, in which term, among which nodes (a
// scenario leaves out the node it faulted), and when a faulted node has rejoined. Split
// brain is watched by the chaos library's LeaderTracker (scripts/chaos/cluster-view.ts).
import { fetchStatus, type NodeStatus } from '../../scripts/chaos/cluster-view.js';
import { pollUntil } from '../../scripts/chaos/http.js';

/** A status read may wait this long: on a loaded 2-core box a node can be slow to answer. */
const STATUS_TIMEOUT_MS = 2_000;

export interface Leader {
  readonly id: string;
  readonly term: number;
}

/** Anything that maps node ids to their URLs as the test process reaches them. */
export interface NodeDirectory {
  readonly nodeIds: readonly string[];
  nodeUrl(id: string): string;
}

async function fetchAll(dir: NodeDirectory, ids = dir.nodeIds): Promise<Map<string, NodeStatus | null>> {
  const entries = await Promise.all(ids.map(async (id) => [id, await fetchStatus(dir.nodeUrl(id), STATUS_TIMEOUT_MS)] as const));
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
  return waitFor(`a leader among ${among.join(',')}`, options.timeoutMs ?? 60_000, async () => {
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
  return waitFor(`${id} ${what}`, timeoutMs, async () => {
    const s = await fetchStatus(dir.nodeUrl(id), STATUS_TIMEOUT_MS);
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

/** Polls `probe` (the chaos library's pollUntil) until it yields a value; throws naming `what` at the bound. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, intervalMs = 250): Promise<T> {
  const v = await pollUntil(timeoutMs, probe, intervalMs);
  if (v === null) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  return v;
}
