// Gathering the evidence the invariants are checked on, once the faults have stopped:
// the coordinator's view of every transaction (from each node, to catch disagreement)
// and each bank's durable records and balances. Also the two waits around it: resending
// transfers whose outcome never reached the client, and waiting until nothing is in doubt.
import { getJson, isObject, pollUntil, requestJson } from './http-json.js';
import {
  TERMINAL_TX_STATES,
  type BankState,
  type CoordinatorTx,
  type Outcome,
  type TransferRecord,
} from './invariants.js';
import type { NodeDirectory } from './cluster-status.js';
import { transferRequest, type TransferShape } from './transfer-workload.js';

const LIST_PAGE = 500;
const LIST_PAGES_MAX = 200;
const RESEND_TIMEOUT_MS = 60_000;

export function parseTx(body: unknown): CoordinatorTx | null {
  if (!isObject(body) || typeof body['id'] !== 'string' || typeof body['state'] !== 'string') return null;
  const outcome = body['outcome'] === 'committed' || body['outcome'] === 'aborted' ? body['outcome'] : null;
  const participants = Array.isArray(body['participants'])
    ? body['participants'].filter(isObject).map((p) => ({ name: String(p['name']), acknowledged: p['acknowledged'] === true }))
    : [];
  return { id: body['id'], state: body['state'], outcome, participants };
}

/** Every transaction a node lists, following cursors (bounded). Null if the node fails. */
export async function listTransactions(nodeUrl: string): Promise<Map<string, CoordinatorTx> | null> {
  const all = new Map<string, CoordinatorTx>();
  let cursor: string | null = null;
  for (let page = 0; page < LIST_PAGES_MAX; page++) {
    const query: string = `limit=${LIST_PAGE}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
    const r = await getJson(`${nodeUrl}/v1/transactions?${query}`, 10_000);
    if (r.kind !== 'reply' || r.status !== 200 || !isObject(r.body) || !Array.isArray(r.body['transactions'])) return null;
    const txs = r.body['transactions'].map(parseTx).filter((t): t is CoordinatorTx => t !== null);
    for (const t of txs) all.set(t.id, t);
    cursor = typeof r.body['nextCursor'] === 'string' ? r.body['nextCursor'] : null;
    if (cursor === null || txs.length === 0) return all;
  }
  return all;
}

export async function getTransaction(nodeUrl: string, id: string): Promise<CoordinatorTx | 'unknown'> {
  const r = await getJson(`${nodeUrl}/v1/transactions/${encodeURIComponent(id)}`, 10_000);
  if (r.kind !== 'reply' || r.status !== 200) return 'unknown';
  return parseTx(r.body) ?? 'unknown';
}

/**
 * A client whose request got no outcome retries it with the same key once the cluster is
 * back: the API must hand back the one transaction that key names (or run it now, if the
 * first attempt never reached the cluster).
 */
export async function resendUnresolved(
  dir: NodeDirectory,
  transfers: readonly TransferRecord[],
  shape: TransferShape,
  txTimeoutMs: number,
): Promise<void> {
  for (const t of transfers.filter((x) => x.apiOutcome === null && x.rejected === null)) {
    const body = transferRequest(shape, t, txTimeoutMs);
    const resend = async (): Promise<true | undefined> => {
      for (const id of dir.nodeIds) {
        const r = await requestJson('POST', `${dir.nodeUrl(id)}/v1/transactions`, { body, headers: { 'idempotency-key': t.key }, timeoutMs: 15_000 });
        const tx = r.kind === 'reply' && r.status === 200 ? parseTx(r.body) : null;
        if (tx?.outcome != null) {
          t.txId = tx.id;
          t.txIdsSeen.add(tx.id);
          t.apiOutcome = tx.outcome;
          return true;
        }
        if (r.kind === 'reply' && r.status >= 400 && r.status < 500) {
          t.rejected = `on resend: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`;
          return true;
        }
        t.lastError = r.kind === 'reply' ? `on resend: ${r.status}` : r.error;
      }
      return undefined;
    };
    // Still no outcome after the bound: left unresolved, which nothing-in-doubt reports.
    await pollUntil(`an outcome for resent transfer ${t.key}`, RESEND_TIMEOUT_MS, resend, 500).catch(() => undefined);
  }
}

/** Waits until the coordinator lists no unfinished transaction and no bank holds one in doubt. */
export async function waitUntilSettled(
  dir: NodeDirectory,
  readBanks: () => Promise<BankState[]>,
  timeoutMs: number,
): Promise<void> {
  await pollUntil('every transaction to finish at the coordinator and at every bank', timeoutMs, async () => {
    for (const id of dir.nodeIds) {
      const txs = await listTransactions(dir.nodeUrl(id));
      if (txs === null) continue;
      if ([...txs.values()].some((t) => !TERMINAL_TX_STATES.includes(t.state))) return undefined;
      const banks = await readBanks();
      const held = banks.some((b) => [...b.accounts.values()].some((a) => a.held !== 0));
      const inDoubt = banks.some((b) => (b.records ?? []).some((r) => !TERMINAL_TX_STATES.includes(r.state)));
      return held || inDoubt ? undefined : true;
    }
    return undefined;
  }, 1000);
}

export interface CoordinatorEvidence {
  readonly coordinator: Map<string, CoordinatorTx | 'unknown'>;
  readonly outcomesByNode: Map<string, Map<string, Outcome | null>>;
}

/**
 * The coordinator's view from every node: the full listing of each, plus a direct read of
 * any id a transfer or a bank knows that the listing lacks.
 */
export async function collectCoordinator(dir: NodeDirectory, knownIds: Iterable<string>): Promise<CoordinatorEvidence> {
  const outcomesByNode = new Map<string, Map<string, Outcome | null>>();
  const coordinator = new Map<string, CoordinatorTx | 'unknown'>();
  for (const node of dir.nodeIds) {
    const txs = await listTransactions(dir.nodeUrl(node));
    if (txs === null) continue;
    outcomesByNode.set(node, new Map([...txs].map(([id, t]) => [id, t.outcome])));
    for (const [id, t] of txs) if (!coordinator.has(id)) coordinator.set(id, t);
  }
  const anyNode = dir.nodeUrl(dir.nodeIds[0]!);
  for (const id of knownIds) {
    if (!coordinator.has(id)) coordinator.set(id, await getTransaction(anyNode, id));
  }
  return { coordinator, outcomesByNode };
}

/** Every outcome the cluster reports as decided now (read before an outage). */
export async function decidedOutcomes(dir: NodeDirectory): Promise<Map<string, Outcome>> {
  for (const node of dir.nodeIds) {
    const txs = await listTransactions(dir.nodeUrl(node));
    if (txs === null) continue;
    const decided = new Map<string, Outcome>();
    for (const [id, t] of txs) if (t.outcome !== null) decided.set(id, t.outcome);
    return decided;
  }
  throw new Error('no node could list transactions before the outage');
}
