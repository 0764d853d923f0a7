// What the transaction table of this node says right now, for the dashboard
// (GET /v1/activity): transactions in flight by state, the oldest of them, the
// stuck ones (in flight for longer than stuckAfterMs), participants reported
// failing, and the most recent outcomes.
//
// Read from the local table without a ReadIndex round: the dashboard must keep
// working while there is no leader, which is exactly when an operator looks.
// It is as fresh as this node's applied index (GET /v1/transactions/{id} is the
// linearizable read). Ages are this node's clock minus the leader's timestamps.
import { TX_STATES, type TxRecord, type TxState, type TxView } from '../tx/types.js';
import { toView } from '../tx/views.js';
import type { TxTableReader } from './decision-feed.js';

export interface AgedTx {
  readonly ageMs: number;
  readonly tx: TxView;
}

export interface DecidedTx {
  /** From creation to the durable decision. */
  readonly decisionLatencyMs: number;
  readonly tx: TxView;
}

export interface FailingParticipant {
  readonly txId: string;
  readonly txState: TxState;
  readonly participant: string;
  readonly url: string;
  readonly lastError: string | null;
  /** ISO 8601, as in the transaction view. */
  readonly failingSince: string;
  readonly failingForMs: number;
}

export interface TxActivity {
  readonly atMs: number;
  readonly stuckAfterMs: number;
  readonly inFlight: { readonly count: number; readonly byState: Record<TxState, number>; readonly oldest: AgedTx[] };
  readonly stuck: { readonly count: number; readonly oldest: AgedTx[] };
  readonly failing: { readonly count: number; readonly participants: FailingParticipant[] };
  readonly recent: DecidedTx[];
}

export interface ActivityQuery {
  readonly nowMs: number;
  readonly stuckAfterMs: number;
  /** Bound on each list in the answer (the counts are exact). */
  readonly limit: number;
}

/** Linear in the transactions in flight (at most maxActiveTransactions) plus `recentIds`. */
export function txActivity(table: TxTableReader, recentIds: readonly string[], q: ActivityQuery): TxActivity {
  const inFlight = table.inFlight(); // oldest first
  const byState = Object.fromEntries(TX_STATES.map((s) => [s, 0])) as Record<TxState, number>;
  const oldest: AgedTx[] = [];
  const stuck: AgedTx[] = [];
  let stuckCount = 0;
  const failing: FailingParticipant[] = [];
  let failingCount = 0;
  for (const tx of inFlight) {
    byState[tx.state] += 1;
    const ageMs = Math.max(0, q.nowMs - tx.createdAt);
    if (oldest.length < q.limit) oldest.push({ ageMs, tx: toView(tx) });
    if (ageMs >= q.stuckAfterMs) {
      stuckCount += 1;
      if (stuck.length < q.limit) stuck.push({ ageMs, tx: toView(tx) });
    }
    for (const p of tx.participants) {
      if (p.failingSince === null || p.acknowledged) continue;
      failingCount += 1;
      if (failing.length < q.limit) failing.push(failingOf(tx, p, q.nowMs));
    }
  }
  return {
    atMs: q.nowMs,
    stuckAfterMs: q.stuckAfterMs,
    inFlight: { count: inFlight.length, byState, oldest },
    stuck: { count: stuckCount, oldest: stuck },
    // Longest failing first: that is the one to look at.
    failing: { count: failingCount, participants: failing.sort((a, b) => b.failingForMs - a.failingForMs) },
    recent: recentDecided(table, recentIds, q.limit),
  };
}

function failingOf(tx: TxRecord, p: TxRecord['participants'][number], nowMs: number): FailingParticipant {
  const since = p.failingSince ?? nowMs;
  return {
    txId: tx.id,
    txState: tx.state,
    participant: p.name,
    url: p.url,
    lastError: p.lastError,
    failingSince: new Date(since).toISOString(),
    failingForMs: Math.max(0, nowMs - since),
  };
}

/** Newest first; a transaction removed since (retention) is skipped. */
function recentDecided(table: TxTableReader, ids: readonly string[], limit: number): DecidedTx[] {
  const out: DecidedTx[] = [];
  for (const id of ids) {
    if (out.length >= limit) break;
    const tx = table.get(id);
    if (tx === null || tx.decidedAt === null) continue;
    out.push({ decisionLatencyMs: Math.max(0, tx.decidedAt - tx.createdAt), tx: toView(tx) });
  }
  return out;
}
