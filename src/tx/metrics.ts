// Prometheus metrics of the transaction coordinator. Labels are drawn from
// small fixed sets (never participant names or urls, which users control).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Phase2Kind } from './participant-client.js';

export type CallKind = 'prepare' | Phase2Kind;

export interface TxMetrics {
  decision(decision: 'commit' | 'abort'): void;
  callFailed(kind: CallKind): void;
  /** Participants (per transaction) at or past the failing threshold on this leader. */
  setFailingParticipants(count: number): void;
}

export function createTxMetrics(registry: Registry, activeCount: () => number): TxMetrics {
  const decisions = getOrCreate(registry, 'ratify_tx_decisions_total', () =>
    new Counter({ name: 'ratify_tx_decisions_total', help: 'Transaction decisions made by this node as leader', labelNames: ['decision'], registers: [registry] }),
  );
  const failures = getOrCreate(registry, 'ratify_tx_participant_call_failures_total', () =>
    new Counter({ name: 'ratify_tx_participant_call_failures_total', help: 'Failed participant calls (non-2xx, timeout, refused)', labelNames: ['call'], registers: [registry] }),
  );
  const failing = getOrCreate(registry, 'ratify_tx_participants_failing', () =>
    new Gauge({ name: 'ratify_tx_participants_failing', help: 'Participants of in-flight transactions that failed participantFailingThreshold calls in a row', registers: [registry] }),
  );
  // Re-registered so the gauge reads this instance's table, not an earlier one's.
  registry.removeSingleMetric('ratify_tx_in_flight');
  new Gauge({
    name: 'ratify_tx_in_flight',
    help: 'Transactions not yet committed or aborted',
    registers: [registry],
    collect() {
      this.set(activeCount());
    },
  });
  return {
    decision: (d) => decisions.inc({ decision: d }),
    callFailed: (kind) => failures.inc({ call: kind }),
    setFailingParticipants: (count) => failing.set(count),
  };
}

// A registry can outlive one service instance (tests build several apps on one).
function getOrCreate<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}
