// Prometheus metrics of the transaction coordinator. Labels are drawn from
// small fixed sets (never participant names or urls, which users control).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Phase2Kind } from './participant-client.js';

export type CallKind = 'prepare' | Phase2Kind;

export interface TxMetrics {
  decision(decision: 'commit' | 'abort'): void;
  callFailed(kind: CallKind): void;
  /** A participant answered a call with the other outcome (it decided on its own against the protocol). */
  protocolViolation(kind: Phase2Kind): void;
  /** Participants given up under presumed abort (abandon.ts). */
  abandoned(count: number): void;
  /** A request to a participant: one call, or a batch of `calls`. */
  participantRequest(shape: 'single' | 'batch', calls: number): void;
}

/** Gauges read at scrape time, from the replicated table. */
export interface TxGaugeSources {
  /** Transactions not yet committed or aborted. */
  readonly inFlight: () => number;
  /** Participants reported failing (0 on a node that does not lead). */
  readonly failingParticipants: () => number;
}

export function createTxMetrics(registry: Registry, sources: TxGaugeSources): TxMetrics {
  const decisions = getOrCreate(registry, 'ratify_tx_decisions_total', () =>
    new Counter({ name: 'ratify_tx_decisions_total', help: 'Transaction decisions made by this node as leader', labelNames: ['decision'], registers: [registry] }),
  );
  const failures = getOrCreate(registry, 'ratify_tx_participant_call_failures_total', () =>
    new Counter({ name: 'ratify_tx_participant_call_failures_total', help: 'Failed participant calls (non-2xx, timeout, refused)', labelNames: ['call'], registers: [registry] }),
  );
  const requests = getOrCreate(registry, 'ratify_tx_participant_requests_total', () =>
    new Counter({ name: 'ratify_tx_participant_requests_total', help: 'HTTP requests to participants, by shape (single call or batch)', labelNames: ['shape'], registers: [registry] }),
  );
  const batchedCalls = getOrCreate(registry, 'ratify_tx_participant_batched_calls_total', () =>
    new Counter({ name: 'ratify_tx_participant_batched_calls_total', help: 'Participant calls sent inside batch requests', registers: [registry] }),
  );
  const violations = getOrCreate(registry, 'ratify_tx_protocol_violations_total', () =>
    new Counter({
      name: 'ratify_tx_protocol_violations_total',
      help: 'Participants that answered precommit/commit with TX_ALREADY_ABORTED or abort with TX_ALREADY_COMMITTED (they decided on their own against the protocol); counted once per participant, call and leader',
      labelNames: ['call'],
      registers: [registry],
    }),
  );
  const abandoned = getOrCreate(registry, 'ratify_tx_participants_abandoned_total', () =>
    new Counter({
      name: 'ratify_tx_participants_abandoned_total',
      help: 'Participants that never voted commit and did not acknowledge an abort within abandonAfterMs: given up (presumed abort)',
      registers: [registry],
    }),
  );
  collectedGauge(registry, 'ratify_tx_in_flight', 'Transactions not yet committed or aborted', sources.inFlight);
  // From the table, not from this leader's own failure counts: a new leader reports
  // the participants its predecessor found failing from its first scrape on.
  collectedGauge(
    registry,
    'ratify_tx_participants_failing',
    'Participants of in-flight transactions reported failing (participantFailingThreshold calls in a row) and not yet acknowledged; 0 on non-leaders',
    sources.failingParticipants,
  );
  return {
    decision: (d) => decisions.inc({ decision: d }),
    callFailed: (kind) => failures.inc({ call: kind }),
    protocolViolation: (kind) => violations.inc({ call: kind }),
    abandoned: (count) => abandoned.inc(count),
    participantRequest: (shape, calls) => {
      requests.inc({ shape });
      if (shape === 'batch') batchedCalls.inc(calls);
    },
  };
}

/** Re-registered on every call so the gauge reads this instance's table, not an earlier one's. */
function collectedGauge(registry: Registry, name: string, help: string, read: () => number): void {
  registry.removeSingleMetric(name);
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

// A registry can outlive one service instance (tests build several apps on one).
function getOrCreate<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}
