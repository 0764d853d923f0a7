// Prometheus metrics of the transaction coordinator. Labels are drawn from
// small fixed sets, and participant names only through ParticipantLabels
// (participant-label.ts: the first PARTICIPANT_LABELS_MAX names, then `other`),
// never urls, ids or payloads, which users control.
//
// Latencies are observed by the leader that applies the entry (each
// transaction once, not once per replica): decision latency from createdAt to
// the decision entry applied on the leader (durable), completion latency from
// createdAt to the completion entry applied (every participant acknowledged).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Phase2Kind } from './participant-client.js';
import { ParticipantLabels } from './participant-label.js';
import type { TableStats } from './table-stats.js';
import { TX_STATES, type Protocol, type TxRecord, type TxState } from './types.js';
import { counterCell, histogramCell } from '../util/metric-cells.js';

export type CallKind = 'prepare' | Phase2Kind;

/** The calls a protocol violation can be counted on (each starts at 0, so a dashboard sees the series). */
const PHASE2_KINDS: readonly Phase2Kind[] = ['precommit', 'commit', 'abort'];

export interface TxMetrics {
  decision(decision: 'commit' | 'abort'): void;
  callFailed(kind: CallKind): void;
  /** A participant answered a call with the other outcome (it decided on its own against the protocol). */
  protocolViolation(kind: Phase2Kind): void;
  /** Participants given up under presumed abort (abandon.ts). */
  abandoned(count: number): void;
  /** A request to a participant: one call, or a batch of `calls`. */
  participantRequest(shape: 'single' | 'batch', calls: number): void;
  /** One call to a participant and how long it took, answered or not. */
  participantCall(participant: string, kind: CallKind, seconds: number): void;
  /** A state change applied on the leader, at `nowMs`: decisions and completions are timed from createdAt. */
  transition(tx: Readonly<TxRecord>, nowMs: number): void;
}

/** Gauges read at scrape time, from the replicated table. */
export interface TxGaugeSources {
  /** Transactions not yet committed or aborted. */
  readonly inFlight: () => number;
  /** Participants reported failing (0 on a node that does not lead). */
  readonly failingParticipants: () => number;
  /** Per state, and the oldest unfinished; absent in tests that need only the counters. */
  readonly stats?: () => TableStats;
  readonly now?: () => number;
}

/** Seconds; decisions include prepare (participant round trips, up to the deadline), completions phase 2 retries. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const CALL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createTxMetrics(registry: Registry, sources: TxGaugeSources): TxMetrics {
  const registers = [registry];
  const decisions = getOrCreate(
    registry,
    'ratify_tx_decisions_total',
    () =>
      new Counter({
        name: 'ratify_tx_decisions_total',
        help: 'Transaction decisions made by this node as leader',
        labelNames: ['decision'],
        registers,
      }),
  );
  const failures = getOrCreate(
    registry,
    'ratify_tx_participant_call_failures_total',
    () =>
      new Counter({
        name: 'ratify_tx_participant_call_failures_total',
        help: 'Failed participant calls (non-2xx, timeout, refused)',
        labelNames: ['call'],
        registers,
      }),
  );
  const requests = getOrCreate(
    registry,
    'ratify_tx_participant_requests_total',
    () =>
      new Counter({
        name: 'ratify_tx_participant_requests_total',
        help: 'HTTP requests to participants, by shape (single call or batch)',
        labelNames: ['shape'],
        registers,
      }),
  );
  const batchedCalls = getOrCreate(
    registry,
    'ratify_tx_participant_batched_calls_total',
    () =>
      new Counter({ name: 'ratify_tx_participant_batched_calls_total', help: 'Participant calls sent inside batch requests', registers }),
  );
  const decisionSeconds = getOrCreate(
    registry,
    'ratify_tx_decision_seconds',
    () =>
      new Histogram({
        name: 'ratify_tx_decision_seconds',
        help: 'From a transaction created to its decision durable (applied on the leader), by protocol',
        labelNames: ['protocol'],
        buckets: LATENCY_BUCKETS,
        registers,
      }),
  );
  const completionSeconds = getOrCreate(
    registry,
    'ratify_tx_completion_seconds',
    () =>
      new Histogram({
        name: 'ratify_tx_completion_seconds',
        help: 'From a transaction created to every participant having acknowledged the decision (completion applied on the leader), by protocol',
        labelNames: ['protocol'],
        buckets: LATENCY_BUCKETS,
        registers,
      }),
  );
  const callSeconds = getOrCreate(
    registry,
    'ratify_tx_participant_call_seconds',
    () =>
      new Histogram({
        name: 'ratify_tx_participant_call_seconds',
        help: 'Duration of one call to a participant (answered, failed or timed out), by participant name (the first 32 names, then "other") and call',
        labelNames: ['participant', 'call'],
        buckets: CALL_BUCKETS,
        registers,
      }),
  );
  const violations = getOrCreate(registry, 'ratify_tx_protocol_violations_total', () => {
    const c = new Counter({
      name: 'ratify_tx_protocol_violations_total',
      help: 'Participants that answered precommit/commit with TX_ALREADY_ABORTED or abort with TX_ALREADY_COMMITTED (they decided on their own against the protocol), by call; counted once per participant, call and leader, and logged with "PROTOCOL VIOLATION"',
      labelNames: ['call'],
      registers,
    });
    for (const call of PHASE2_KINDS) c.inc({ call }, 0);
    return c;
  });
  const abandoned = getOrCreate(
    registry,
    'ratify_tx_participants_abandoned_total',
    () =>
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
  if (sources.stats !== undefined) registerTableGauges(registry, sources.stats, sources.now ?? Date.now);
  const labels = new ParticipantLabels();
  // The per-transaction series as cells (metric-cells.ts): participant labels are bounded, so are these maps.
  const decisionCells = { commit: counterCell(decisions, { decision: 'commit' }), abort: counterCell(decisions, { decision: 'abort' }) };
  const callCells = new Map<string, Map<CallKind, (seconds: number) => void>>();
  const callCell = (participant: string, kind: CallKind): ((seconds: number) => void) => {
    const label = labels.label(participant);
    let byKind = callCells.get(label);
    if (byKind === undefined) callCells.set(label, (byKind = new Map()));
    let cell = byKind.get(kind);
    if (cell === undefined) byKind.set(kind, (cell = histogramCell(callSeconds, { participant: label, call: kind })));
    return cell;
  };
  const latencyCells = (h: Histogram<'protocol'>): Record<Protocol, (seconds: number) => void> => ({
    '2pc': histogramCell(h, { protocol: '2pc' }),
    '3pc': histogramCell(h, { protocol: '3pc' }),
  });
  const decisionLatency = latencyCells(decisionSeconds);
  const completionLatency = latencyCells(completionSeconds);
  return {
    decision: (d) => decisionCells[d](),
    callFailed: (kind) => failures.inc({ call: kind }),
    protocolViolation: (kind) => violations.inc({ call: kind }),
    abandoned: (count) => abandoned.inc(count),
    participantRequest: (shape, calls) => {
      requests.inc({ shape });
      if (shape === 'batch') batchedCalls.inc(calls);
    },
    participantCall: (participant, kind, seconds) => callCell(participant, kind)(seconds),
    transition: (tx, nowMs) => {
      const seconds = Math.max(0, nowMs - tx.createdAt) / 1000;
      if (tx.state === 'committing' || tx.state === 'aborting') decisionLatency[tx.protocol](seconds);
      else if (tx.state === 'committed' || tx.state === 'aborted') completionLatency[tx.protocol](seconds);
    },
  };
}

function registerTableGauges(registry: Registry, stats: () => TableStats, now: () => number): void {
  registry.removeSingleMetric('ratify_tx_transactions');
  new Gauge({
    name: 'ratify_tx_transactions',
    help: 'Transactions in the replicated table, by state (finished ones until retention removes them)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const byState = stats().byState();
      for (const state of TX_STATES) this.set({ state } satisfies { state: TxState }, byState[state]);
    },
  });
  collectedGauge(
    registry,
    'ratify_tx_oldest_unfinished_age_seconds',
    'Age of the oldest transaction not yet committed or aborted (0 when there is none)',
    () => {
      const oldest = stats().oldestUnfinishedCreatedAt();
      return oldest === null ? 0 : Math.max(0, now() - oldest) / 1000;
    },
  );
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
