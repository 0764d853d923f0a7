// Prometheus metrics of one node. Each node owns its own Registry (several nodes
// run inside one test process), exposed at GET /metrics.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { REJECT_REASON_NAMES, type RejectReason } from './raft/plausibility.js';
import type { Role } from './raft/types.js';

export const ROLES = ['follower', 'candidate', 'precandidate', 'leader', 'learner'] as const satisfies readonly Role[];

/** What the Raft gauges show, read when metrics are scraped. */
export interface RaftGaugeValues {
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly snapshotIndex: number;
  readonly role: Role;
}

export interface RaftMetrics {
  /**
   * The node's status, read at scrape time by the term, index and role gauges
   * (ratify_raft_term, _commit_index, _applied_index, _snapshot_index, _role):
   * setting them on every Ready cost more than every scrape together.
   */
  setStatusSource(read: () => RaftGaugeValues): void;
  readonly leaderChanges: Counter;
  /** result: ok | refused | timeout | lost | shutdown */
  readonly proposals: Counter<'result'>;
  readonly readBarriers: Counter<'result'>;
  /** One synced storage write per Ready (group commit). */
  readonly storageBatches: Counter;
  readonly storageBatchEntries: Histogram;
  readonly storageSaveSeconds: Histogram;
  readonly snapshotsTaken: Counter;
  /** Snapshots received from a leader (InstallSnapshot), not the local restore at start-up. */
  readonly snapshotsInstalled: Counter;
  /** Inbound Raft messages dropped as implausible (src/raft/plausibility.ts), by reason. */
  readonly rejectedMessages: Counter<'reason'>;
  /** Campaigns this node ran as a candidate, by result: won | lost (src/node/election-outcome.ts). */
  readonly elections: Counter<'result'>;
}

export interface Metrics {
  readonly registry: Registry;
  readonly raft: RaftMetrics;
  /** Error replies of the client and admin API, by error code and HTTP status (counted at the one edge, src/http/error-handler.ts). */
  readonly rejectedRequests: Counter<'code' | 'status'>;
}

export interface MetricsOptions {
  /** Process metrics (CPU, heap, event loop lag). Off in unit tests that build many registries. */
  readonly processMetrics: boolean;
  readonly nodeId: string;
}

export function createMetrics(opts: MetricsOptions): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: opts.nodeId });
  if (opts.processMetrics) {
    collectDefaultMetrics({ register: registry });
    registerEventLoopDelay(registry);
  }
  const rejectedRequests = new Counter({
    name: 'ratify_http_requests_rejected_total',
    help: 'Requests answered with an error, by error code and HTTP status (429 TOO_MANY_PENDING, 503 NO_LEADER, 4xx ...).',
    labelNames: ['code', 'status'],
    registers: [registry],
  });
  return { registry, raft: createRaftMetrics(registry), rejectedRequests };
}

/** The quantiles of ratify_event_loop_delay_seconds; "1" is the maximum. */
export const EVENT_LOOP_DELAY_QUANTILES = ['0.5', '0.99', '0.999', '1'] as const;
/** Sampling period of the delay monitor: prom-client's own (nodejs_eventloop_lag_*) uses the same. */
const EVENT_LOOP_DELAY_RESOLUTION_MS = 10;

/**
 * The event loop's delay since the previous scrape, as quantiles up to p99.9 and the maximum.
 * WHY reset on scrape: a per-interval tail (README, "Performance": the benchmark reads it before
 * and after each phase) says which phase stalled; a histogram since start-up would hide it.
 * prom-client's nodejs_eventloop_lag_p99 resets the same way but has no p99.9 or maximum.
 */
function registerEventLoopDelay(registry: Registry): void {
  const monitor = monitorEventLoopDelay({ resolution: EVENT_LOOP_DELAY_RESOLUTION_MS });
  monitor.enable();
  new Gauge({
    name: 'ratify_event_loop_delay_seconds',
    help: 'Event-loop delay beyond the 10 ms sampling period since the previous scrape (reset by every scrape), by quantile; quantile="1" is the maximum.',
    labelNames: ['quantile'],
    registers: [registry],
    collect() {
      // The monitor records the whole interval between its timer's runs, the sampling period
      // included: an idle loop shows 10 ms. The delay is what exceeds the period.
      // An empty histogram has no meaningful percentiles: show 0 throughout.
      const empty = monitor.count === 0;
      for (const q of EVENT_LOOP_DELAY_QUANTILES) {
        const ns = empty ? 0 : q === '1' ? monitor.max : monitor.percentile(Number(q) * 100);
        this.set({ quantile: q }, Math.max(0, ns - EVENT_LOOP_DELAY_RESOLUTION_MS * 1e6) / 1e9);
      }
      monitor.reset();
    },
  });
}

function createRaftMetrics(registry: Registry): RaftMetrics {
  const registers = [registry];
  let source: (() => RaftGaugeValues) | null = null;
  const gauge = (name: string, help: string, pick: (v: RaftGaugeValues) => number): Gauge =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        if (source !== null) this.set(pick(source()));
      },
    });
  const counter = (name: string, help: string): Counter => new Counter({ name, help, registers });
  gauge('ratify_raft_term', 'Current Raft term.', (v) => v.term);
  gauge('ratify_raft_commit_index', 'Raft commit index known to this node.', (v) => v.commitIndex);
  gauge('ratify_raft_applied_index', 'Highest log index applied to the state machine.', (v) => v.appliedIndex);
  gauge('ratify_raft_snapshot_index', 'Last log index covered by the latest snapshot.', (v) => v.snapshotIndex);
  new Gauge({
    name: 'ratify_raft_role',
    help: '1 for the current Raft role.',
    labelNames: ['role'],
    registers,
    collect() {
      if (source === null) return;
      const current = source().role;
      for (const r of ROLES) this.set({ role: r }, r === current ? 1 : 0);
    },
  });
  return {
    setStatusSource(read) {
      source = read;
    },
    leaderChanges: counter('ratify_raft_leader_changes_total', 'Times the known leader changed.'),
    proposals: new Counter({ name: 'ratify_raft_proposals_total', help: 'Proposals by result.', labelNames: ['result'], registers }),
    readBarriers: new Counter({
      name: 'ratify_raft_read_barriers_total',
      help: 'ReadIndex barriers by result.',
      labelNames: ['result'],
      registers,
    }),
    storageBatches: counter('ratify_raft_storage_batches_total', 'Synced storage writes (one per Ready).'),
    storageBatchEntries: new Histogram({
      name: 'ratify_raft_storage_batch_entries',
      help: 'Log entries per synced storage write (group commit size).',
      buckets: [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers,
    }),
    storageSaveSeconds: new Histogram({
      name: 'ratify_raft_storage_save_seconds',
      help: 'Duration of one synced storage write.',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    snapshotsTaken: counter('ratify_raft_snapshots_taken_total', 'Local state-machine snapshots taken (log compactions).'),
    snapshotsInstalled: counter('ratify_raft_snapshots_installed_total', 'Snapshots received from a leader and restored.'),
    rejectedMessages: rejectedCounter(registers),
    elections: electionsCounter(registers),
  };
}

function electionsCounter(registers: Registry[]): Counter<'result'> {
  const c = new Counter({
    name: 'ratify_raft_elections_total',
    help: 'Elections this node ran as a candidate, by result: won (became leader) or lost (stepped down or timed out into a new term).',
    labelNames: ['result'],
    registers,
  });
  for (const result of ['won', 'lost']) c.inc({ result }, 0);
  return c;
}

function rejectedCounter(registers: Registry[]): Counter<'reason'> {
  const c = new Counter({
    name: 'ratify_raft_rejected_messages_total',
    help: 'Inbound Raft messages dropped before the core as implausible (a buggy or hostile peer), by reason.',
    labelNames: ['reason'],
    registers,
  });
  // Every reason shows from the start, at 0, so an alert can watch any of them.
  for (const reason of REJECT_REASON_NAMES) c.inc({ reason } satisfies { reason: RejectReason }, 0);
  return c;
}

/** What the Raft transport has sent, read from its counters at scrape time. */
export function registerTransportMetrics(
  registry: Registry,
  read: () => { sent: number; dropped: number; failed: number; envelopes: number },
): void {
  const registers = [registry];
  new Counter({
    name: 'ratify_raft_messages_total',
    help: 'Outbound Raft messages by outcome: sent, dropped (queue full, peer unknown or backing off), failed (request or stream failed).',
    labelNames: ['outcome'],
    registers,
    collect() {
      const c = read();
      this.reset();
      this.inc({ outcome: 'sent' }, c.sent);
      this.inc({ outcome: 'dropped' }, c.dropped);
      this.inc({ outcome: 'failed' }, c.failed);
    },
  });
  new Counter({
    name: 'ratify_raft_envelopes_total',
    help: 'Outbound Raft envelopes (stream frames and requests); messages per envelope shows the batching.',
    registers,
    collect() {
      this.reset();
      this.inc(read().envelopes);
    },
  });
}
