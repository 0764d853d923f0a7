// Two gauges read from the replicated table at scrape time (issue 14): how
// long the oldest unfinished transaction has been around, and how many
// transactions each state holds. Every node reports its own table, so any
// node answers (the leader's is the freshest).
//
//   ratify_tx_oldest_unfinished_age_seconds   0 when nothing is unfinished
//   ratify_tx_state{state="aborting"}         committed/aborted: those retained
import { Gauge, type Registry } from 'prom-client';
import { TX_STATES, type TxStateMachine } from './types.js';

export function registerTxStateMetrics(registry: Registry, sm: Pick<TxStateMachine, 'stateSummary'>, now: () => number): void {
  // Re-registered so the gauges read this instance's table (tests build several services on one registry).
  for (const name of ['ratify_tx_oldest_unfinished_age_seconds', 'ratify_tx_state']) registry.removeSingleMetric(name);
  // One summary per scrape serves both gauges (prom-client collects them one after the other).
  let last: { atMs: number; summary: ReturnType<TxStateMachine['stateSummary']> } | null = null;
  const summary = (): ReturnType<TxStateMachine['stateSummary']> => {
    const atMs = now();
    if (last === null || last.atMs !== atMs) last = { atMs, summary: sm.stateSummary() };
    return last.summary;
  };
  new Gauge({
    name: 'ratify_tx_oldest_unfinished_age_seconds',
    help: 'Age (since creation) of the oldest transaction not yet committed or aborted; 0 when there is none',
    registers: [registry],
    collect() {
      const oldest = summary().oldestUnfinishedCreatedAt;
      this.set(oldest === null ? 0 : Math.max(0, now() - oldest) / 1000);
    },
  });
  new Gauge({
    name: 'ratify_tx_state',
    help: 'Transactions in the table by state (committed and aborted: those still retained)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const { byState } = summary();
      for (const state of TX_STATES) this.set({ state }, byState[state]);
    },
  });
}
