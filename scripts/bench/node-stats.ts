// Per-node counters around one phase, to say what bounds a number rather than
// only report it: CPU used by each node process (from /proc), and from its
// Prometheus metrics the synced storage writes (fsyncs), the entries they
// carried, the time they took, how far the commit index moved, and the Raft
// envelopes (stream frames or requests) the node sent, and its HTTP requests to
// participants (a batch request counts once).
import { readFileSync } from 'node:fs';
import type { BenchContext } from './context.js';
import type { Histogram } from './histogram.js';
import type { HttpClients } from './http.js';
import { runClosedLoop, type LoadResult, type Operation } from './load.js';
import type { RatifyCluster } from './ratify-cluster.js';

export interface NodeCounters {
  readonly cpuMs: number | null;
  readonly fsyncs: number | null;
  readonly fsyncEntries: number | null;
  readonly fsyncSeconds: number | null;
  readonly commitIndex: number | null;
  readonly envelopes: number | null;
  readonly participantRequests: number | null;
  /** Event-loop delay since the node's previous scrape (the gauge resets on every scrape). */
  readonly eventLoopDelay?: EventLoopDelay | null;
  /** Time the node's main thread has spent runnable but waiting for a core (mainThreadRunWaitMs). */
  readonly runWaitMs?: number | null;
  /** Saves that took longer than SLOW_SAVE_SECONDS, queueing included (slowSavesFromMetrics). */
  readonly slowSaves?: number | null;
  /** Milliseconds of garbage-collection pauses so far, every kind (prom-client's nodejs_gc_duration_seconds). */
  readonly gcMs?: number | null;
  /** GC pauses so far longer than LONG_GC_SECONDS. */
  readonly longGcPauses?: number | null;
}

/** Quantiles of one node's event-loop delay over a phase (ratify_event_loop_delay_seconds). */
export interface EventLoopDelay {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

export interface NodePhaseStats {
  readonly id: string;
  readonly leader: boolean;
  /** CPU of the node process over the phase, % of one core. */
  readonly cpuPercent: number | null;
  readonly fsyncsPerSec: number | null;
  readonly entriesPerFsync: number | null;
  readonly meanFsyncMs: number | null;
  /** Raft entries committed per successful client operation. */
  readonly entriesPerOp: number | null;
  /** Synced writes per successful client operation. */
  readonly fsyncsPerOp: number | null;
  /** CPU milliseconds of this node per successful client operation (robust to a shared machine's noise). */
  readonly cpuMsPerOp: number | null;
  /** Raft envelopes this node sent per successful client operation. */
  readonly envelopesPerOp: number | null;
  /** HTTP requests to participants per successful client operation (a batch counts once). */
  readonly participantRequestsPerOp: number | null;
  /** The node's event-loop delay over the phase, warm-up included; null when the node does not export it. */
  readonly eventLoopDelay?: EventLoopDelay | null;
  /**
   * Share of the phase (%) the node's main thread, which runs its event loop,
   * was ready to run but waited for a core: on a machine running every node,
   * the load generator and the participants, the part of the loop's delay that
   * is not the node's own work. Null without /proc/<pid>/schedstat.
   */
  readonly loopWaitPercent?: number | null;
  /**
   * The node's saves over the phase that took longer than SLOW_SAVE_SECONDS,
   * waiting in the storage's queue included: each one held the node's Ready
   * loop, and with it every write in flight through the node, that long (a
   * snapshot's commit ahead in the queue, a slow fsync). Null when unread.
   */
  readonly slowSaves?: number | null;
  /** Milliseconds the node's main thread spent paused in garbage collection over the phase; null when unread. */
  readonly gcMs?: number | null;
  /** Of those pauses, how many lasted longer than LONG_GC_SECONDS. */
  readonly longGcPauses?: number | null;
}

/** What counts as a slow save: a bucket bound of ratify_raft_storage_save_seconds. */
export const SLOW_SAVE_SECONDS = 0.01;
const SAVE_SECONDS_METRIC = 'ratify_raft_storage_save_seconds';

/** What counts as a long GC pause: a bucket bound of prom-client's nodejs_gc_duration_seconds. */
export const LONG_GC_SECONDS = 0.01;
const GC_SECONDS_METRIC = 'nodejs_gc_duration_seconds';

/**
 * Observations of histogram `metric` above bucket bound `bound` so far, summed
 * over every label set (GC pauses come one series per kind): all observations
 * minus those in the bucket. Null when the metric or the bound is missing.
 */
export function countAboveFromMetrics(text: string, metric: string, bound: number): number | null {
  let within = 0;
  let all = 0;
  let found = false;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}\s+(\S+)/.exec(line);
    if (match === null || match[1] !== `${metric}_bucket`) continue;
    const le = /(?:^|,)le="([^"]*)"/.exec(match[2] ?? '')?.[1];
    const value = Number(match[3]);
    if (!Number.isFinite(value)) continue;
    if (le === '+Inf') all += value;
    else if (le !== undefined && Number(le) === bound) {
      within += value;
      found = true;
    }
  }
  return found ? all - within : null;
}

/** Saves slower than SLOW_SAVE_SECONDS so far, from the node's histogram. */
export function slowSavesFromMetrics(text: string): number | null {
  return countAboveFromMetrics(text, SAVE_SECONDS_METRIC, SLOW_SAVE_SECONDS);
}

/** Linux reports utime/stime in clock ticks; 100 per second on every mainstream kernel config. */
const CLOCK_TICKS_PER_SEC = 100;

export function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after ")" are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
    return ((utime + stime) * 1000) / CLOCK_TICKS_PER_SEC;
  } catch {
    return null;
  }
}

/**
 * Milliseconds the main thread of `pid` has spent runnable but not running
 * (waiting in a run queue), from the second field of /proc/<pid>/schedstat;
 * null where that file does not exist (not Linux, or a kernel without
 * schedstats) or the process is gone.
 */
export function mainThreadRunWaitMs(pid: number): number | null {
  try {
    const waitNs = Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ')[1]);
    return Number.isFinite(waitNs) ? waitNs / 1e6 : null;
  } catch {
    return null;
  }
}

/** Sums every sample of each metric name (all label sets) in Prometheus text format. */
export function parsePrometheus(text: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    const value = Number(match[3]);
    if (!Number.isFinite(value)) continue;
    const name = match[1] ?? '';
    sums.set(name, (sums.get(name) ?? 0) + value);
  }
  return sums;
}

/** Values of one metric by the value of one of its labels, e.g. quantile="0.99" → 0.004. */
export function prometheusLabelled(text: string, metric: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  const labelRe = new RegExp(`(?:^|,)${label}="([^"]*)"`);
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}\s+(\S+)/.exec(line);
    if (match === null || match[1] !== metric) continue;
    const value = Number(match[3]);
    const key = labelRe.exec(match[2] ?? '')?.[1];
    if (key !== undefined && Number.isFinite(value)) out.set(key, value);
  }
  return out;
}

export const EVENT_LOOP_DELAY_METRIC = 'ratify_event_loop_delay_seconds';

/** The node's event-loop delay quantiles from its metrics page; null when it has none. */
export function eventLoopDelayFromMetrics(text: string): EventLoopDelay | null {
  const q = prometheusLabelled(text, EVENT_LOOP_DELAY_METRIC, 'quantile');
  const ms = (k: string): number | undefined => {
    const v = q.get(k);
    return v === undefined ? undefined : v * 1000;
  };
  const [p50Ms, p99Ms, p999Ms, maxMs] = [ms('0.5'), ms('0.99'), ms('0.999'), ms('1')];
  if (p50Ms === undefined || p99Ms === undefined || p999Ms === undefined || maxMs === undefined) return null;
  return { p50Ms, p99Ms, p999Ms, maxMs };
}

export async function readCounters(http: HttpClients, url: string, pid: number | null): Promise<NodeCounters> {
  let metrics = new Map<string, number>();
  let scraped = false;
  let eventLoopDelay: EventLoopDelay | null = null;
  let slowSaves: number | null = null;
  let longGcPauses: number | null = null;
  try {
    const res = await http.json(url, 'GET', '/metrics');
    if (res.status === 200 && typeof res.body === 'string') {
      metrics = parsePrometheus(res.body);
      eventLoopDelay = eventLoopDelayFromMetrics(res.body);
      slowSaves = slowSavesFromMetrics(res.body);
      longGcPauses = countAboveFromMetrics(res.body, GC_SECONDS_METRIC, LONG_GC_SECONDS);
      scraped = true;
    }
  } catch {
    // A node without metrics still gets its CPU measured.
  }
  const gcSeconds = metrics.get(`${GC_SECONDS_METRIC}_sum`);
  return {
    cpuMs: pid === null ? null : processCpuMs(pid),
    fsyncs: metrics.get('ratify_raft_storage_batches_total') ?? null,
    fsyncEntries: metrics.get('ratify_raft_storage_batch_entries_sum') ?? null,
    fsyncSeconds: metrics.get('ratify_raft_storage_save_seconds_sum') ?? null,
    commitIndex: metrics.get('ratify_raft_commit_index') ?? null,
    envelopes: metrics.get('ratify_raft_envelopes_total') ?? null,
    // A labelled counter appears with its first increment: on a node that scraped fine, absent is 0.
    participantRequests: metrics.get('ratify_tx_participant_requests_total') ?? (scraped ? 0 : null),
    eventLoopDelay,
    runWaitMs: pid === null ? null : mainThreadRunWaitMs(pid),
    slowSaves,
    gcMs: gcSeconds === undefined ? null : gcSeconds * 1000,
    longGcPauses,
  };
}

/** Turns counters read before and after a phase into rates. */
export function phaseStats(
  id: string,
  leader: boolean,
  before: NodeCounters,
  after: NodeCounters,
  elapsedMs: number,
  ops: number,
): NodePhaseStats {
  const d = (k: Exclude<keyof NodeCounters, 'eventLoopDelay'>): number | null => {
    const a = after[k];
    const b = before[k];
    return a === null || a === undefined || b === null || b === undefined ? null : a - b;
  };
  const runWait = d('runWaitMs');
  const cpu = d('cpuMs');
  const fsyncs = d('fsyncs');
  const entries = d('fsyncEntries');
  const seconds = d('fsyncSeconds');
  const committed = d('commitIndex');
  const ratio = (n: number | null, den: number | null): number | null => (n === null || den === null || den <= 0 ? null : n / den);
  return {
    id,
    leader,
    cpuPercent: cpu === null || elapsedMs <= 0 ? null : (100 * cpu) / elapsedMs,
    fsyncsPerSec: ratio(fsyncs, elapsedMs / 1000),
    entriesPerFsync: ratio(entries, fsyncs),
    meanFsyncMs: seconds === null ? null : ratio(seconds * 1000, fsyncs),
    entriesPerOp: ratio(committed, ops),
    fsyncsPerOp: ratio(fsyncs, ops),
    cpuMsPerOp: ratio(cpu, ops),
    envelopesPerOp: ratio(d('envelopes'), ops),
    participantRequestsPerOp: ratio(d('participantRequests'), ops),
    // The scrape before the phase reset the node's histogram, so the reading after it covers the phase.
    ...(after.eventLoopDelay === undefined ? {} : { eventLoopDelay: after.eventLoopDelay }),
    ...(after.runWaitMs === undefined ? {} : { loopWaitPercent: runWait === null || elapsedMs <= 0 ? null : (100 * runWait) / elapsedMs }),
    ...(after.slowSaves === undefined ? {} : { slowSaves: d('slowSaves') }),
    ...(after.gcMs === undefined ? {} : { gcMs: d('gcMs') }),
    ...(after.longGcPauses === undefined ? {} : { longGcPauses: d('longGcPauses') }),
  };
}

export interface ProbedNode {
  readonly id: string;
  readonly url: string;
  readonly pid: number | null;
}

/**
 * Runs `phase` between two readings of every node's counters. `ops` gives the
 * successful operations of the whole phase, warm-up included, as the counters
 * cover it too.
 */
export async function withNodeStats<T>(
  http: HttpClients,
  nodes: readonly ProbedNode[],
  leaderId: string | null,
  phase: () => Promise<T>,
  ops: (result: T) => number,
): Promise<{ result: T; nodes: NodePhaseStats[] }> {
  const before = await Promise.all(nodes.map((n) => readCounters(http, n.url, n.pid)));
  const t0 = performance.now();
  const result = await phase();
  const elapsedMs = performance.now() - t0;
  const after = await Promise.all(nodes.map((n) => readCounters(http, n.url, n.pid)));
  const count = ops(result);
  const stats = nodes.flatMap((n, i) => {
    const b = before[i];
    const a = after[i];
    return a === undefined || b === undefined ? [] : [phaseStats(n.id, n.id === leaderId, b, a, elapsedMs, count)];
  });
  return { result, nodes: stats };
}

/**
 * One closed-loop phase against the current leader, with per-node CPU and fsync
 * counters around it: the step every concurrency level of every Ratify phase runs.
 */
export async function measureClosedLoop(
  ctx: BenchContext,
  cluster: RatifyCluster,
  label: string,
  concurrency: number,
  op: Operation,
): Promise<{ result: LoadResult & { histogram: Histogram }; nodes: NodePhaseStats[] }> {
  const leader = await cluster.leader();
  return withNodeStats(
    ctx.http,
    cluster.probedNodes(),
    leader?.id ?? null,
    () =>
      runClosedLoop({
        label,
        concurrency,
        durationMs: ctx.opts.durationSec * 1000,
        warmupMs: ctx.opts.warmupSec * 1000,
        errorBackoffMs: 10,
        progress: ctx.progress,
        processLabels: () => ctx.processLabels(),
        diskStalls: ctx.diskStalls,
        op,
      }),
    (r) => r.completed,
  );
}
