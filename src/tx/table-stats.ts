// What the transaction gauges read from the replicated table at scrape time:
// transactions per state and the creation time of the oldest unfinished one.
import type { TxTable } from './tx-table.js';
import { TX_STATES, type TxState } from './types.js';

export interface TableStats {
  /** Transactions per state. */
  byState(): Readonly<Record<TxState, number>>;
  /** createdAt (ms) of the oldest transaction not yet committed or aborted; null when none is. */
  oldestUnfinishedCreatedAt(): number | null;
}

/**
 * Linear in the table (bounded by maxActiveTransactions + retainFinishedMax): a
 * few milliseconds at 100,000 rows, once per scrape, never per entry.
 */
export function countByState(table: TxTable): Record<TxState, number> {
  const byState = Object.fromEntries(TX_STATES.map((s) => [s, 0])) as Record<TxState, number>;
  for (const row of table.scan()) byState[row.state] += 1;
  return byState;
}

/** Linear in the unfinished transactions (at most maxActiveTransactions). */
export function oldestUnfinishedCreatedAt(table: TxTable): number | null {
  let oldest: number | null = null;
  // `unfinished` is in creation order, but createdAt comes from the clocks of
  // successive leaders, so look at every one rather than trust the first.
  for (const id of table.unfinished) {
    const createdAt = table.get(id)?.createdAt;
    if (createdAt !== undefined && (oldest === null || createdAt < oldest)) oldest = createdAt;
  }
  return oldest;
}
