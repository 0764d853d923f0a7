// Reading the coordinator's side of the evidence through the API: every transaction of
// this run as each node lists it, the wait for quiescence, and the decided outcomes read
// before and after the full-cluster outage.
import type { BankBook } from './bank.js';
import { FINISHED_TX_STATES, type CoordinatorTx, type Outcome, type RereadOutcome } from './evidence.js';
import { httpJson, isObject, pollUntil } from './http.js';
import type { NodeEndpoint } from './target.js';

const LIST_PAGE = 1_000;
const LIST_PAGES_MAX = 1_000;
const LIST_TIMEOUT_MS = 15_000;
/** How long a node may fail its listing at the end of a run before it counts as unlisted. */
const LIST_PATIENCE_MS = 10_000;
const LIST_RETRY_MS = 500;

export function parseTx(body: unknown): CoordinatorTx | null {
  if (!isObject(body) || typeof body['id'] !== 'string' || typeof body['state'] !== 'string') return null;
  const outcome = body['outcome'] === 'committed' || body['outcome'] === 'aborted' ? body['outcome'] : null;
  const participants = Array.isArray(body['participants']) ? body['participants'].filter(isObject).map((p) => String(p['name'])) : [];
  const createdAtMs = typeof body['createdAt'] === 'string' ? Date.parse(body['createdAt']) : NaN;
  return { id: body['id'], state: body['state'], outcome, createdAtMs, participants };
}

/**
 * Every transaction a node lists that was created at or after `sinceMs` (this run's; a
 * reused compose project holds older ones), following cursors. Null if the node fails.
 */
export async function listTransactions(nodeUrl: string, sinceMs: number): Promise<Map<string, CoordinatorTx> | null> {
  const all = new Map<string, CoordinatorTx>();
  let cursor: string | null = null;
  for (let page = 0; page < LIST_PAGES_MAX; page++) {
    const query = `limit=${LIST_PAGE}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
    const r = await httpJson('GET', `${nodeUrl}/v1/transactions?${query}`, { timeoutMs: LIST_TIMEOUT_MS });
    if (r.kind !== 'reply' || r.status !== 200 || !isObject(r.body) || !Array.isArray(r.body['transactions'])) return null;
    const txs = r.body['transactions'].map(parseTx);
    if (txs.some((t) => t === null)) return null;
    for (const t of txs as CoordinatorTx[]) if (!(t.createdAtMs < sinceMs)) all.set(t.id, t);
    cursor = typeof r.body['nextCursor'] === 'string' ? r.body['nextCursor'] : null;
    if (cursor === null || txs.length === 0) return all;
  }
  return null;
}

/** The transaction, 'missing' on 404 (the cluster does not know it), null when the node gave no usable answer. */
export async function getTransaction(nodeUrl: string, id: string): Promise<CoordinatorTx | 'missing' | null> {
  const r = await httpJson('GET', `${nodeUrl}/v1/transactions/${encodeURIComponent(id)}`, { timeoutMs: LIST_TIMEOUT_MS });
  if (r.kind === 'reply' && r.status === 404) return 'missing';
  return r.kind === 'reply' && r.status === 200 ? parseTx(r.body) : null;
}

/** The listing of each node; nodes that fail it are returned apart. */
export async function listEveryNode(
  nodes: readonly NodeEndpoint[],
  sinceMs: number,
): Promise<{ byNode: Map<string, Map<string, CoordinatorTx>>; unlisted: string[] }> {
  const byNode = new Map<string, Map<string, CoordinatorTx>>();
  const unlisted: string[] = [];
  for (const n of nodes) {
    // Retried for a while: a list passes a read barrier, which a follower forwards to the
    // leader, and right after a restart or a healed partition its outbound Raft stream may
    // still be down (torn down after peerRequestTimeoutMs without acknowledgement, reopened
    // after a backoff of up to 1 s, and a connection attempt made during the partition can
    // itself wait that long again); meanwhile its barriers fail with NOT_LEADER. A node that
    // cannot answer for LIST_PATIENCE_MS is reported (nodes-agree then fails).
    const listing = await pollUntil(LIST_PATIENCE_MS, async () => (await listTransactions(n.url, sinceMs)) ?? undefined, LIST_RETRY_MS);
    if (listing === null) unlisted.push(n.id);
    else byNode.set(n.id, listing);
  }
  return { byNode, unlisted };
}

/** Any one node's listing (the first that answers). */
export async function listAnyNode(nodes: readonly NodeEndpoint[], sinceMs: number): Promise<Map<string, CoordinatorTx> | null> {
  for (const n of nodes) {
    const listing = await listTransactions(n.url, sinceMs);
    if (listing !== null) return listing;
  }
  return null;
}

/**
 * Waits until a node lists every transaction of the run as finished and no bank holds
 * funds for an undecided one. Resolves true when quiescent, false at the bound (the
 * checks then say what is still in doubt).
 */
export async function waitQuiescent(
  nodes: readonly NodeEndpoint[],
  book: BankBook,
  sinceMs: number,
  timeoutMs: number,
  signal?: AbortSignal,
  /**
   * Whether no participant record is in doubt, where the caller can read them while the
   * banks run. A one-shot transaction whose leader died before its decided entry is in no
   * listing: only its participants know it, and they settle it on their own resolve timer
   * (cooperative termination), so the listing alone can look quiescent too early.
   */
  participantsSettled?: () => Promise<boolean>,
): Promise<boolean> {
  const done = await pollUntil(
    timeoutMs,
    async () => {
      const listing = await listAnyNode(nodes, sinceMs);
      if (listing === null || [...listing.values()].some((t) => !FINISHED_TX_STATES.includes(t.state))) return undefined;
      const banks = await book.snapshot();
      if (banks.some((b) => [...b.accounts.values()].some((a) => a.held !== 0))) return undefined;
      return participantsSettled === undefined || (await participantsSettled()) ? true : undefined;
    },
    1_000,
    signal,
  );
  return done === true;
}

/** Every decided outcome of the run, as one node lists it (read before the outage). */
export async function decidedOutcomes(nodes: readonly NodeEndpoint[], sinceMs: number): Promise<Map<string, Outcome> | null> {
  const listing = await listAnyNode(nodes, sinceMs);
  if (listing === null) return null;
  const out = new Map<string, Outcome>();
  for (const [id, t] of listing) if (t.outcome !== null) out.set(id, t.outcome);
  return out;
}

/** Reads `ids` again through the API after the outage: a listing, then a GET for any it lacks. */
export async function rereadOutcomes(
  nodes: readonly NodeEndpoint[],
  ids: Iterable<string>,
  sinceMs: number,
): Promise<Map<string, RereadOutcome>> {
  const listing = (await listAnyNode(nodes, sinceMs)) ?? new Map<string, CoordinatorTx>();
  const out = new Map<string, RereadOutcome>();
  for (const id of ids) {
    const listed = listing.get(id);
    if (listed !== undefined) {
      out.set(id, listed.outcome);
      continue;
    }
    let got: CoordinatorTx | 'missing' | null = null;
    for (const n of nodes) {
      got = await getTransaction(n.url, id);
      if (got !== null) break;
    }
    out.set(id, got === null ? 'unreadable' : got === 'missing' ? 'missing' : got.outcome);
  }
  return out;
}
