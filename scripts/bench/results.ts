// The shape of bench-results/bench-<date>.json. Each section says whether it ran,
// so a run without etcd (or with a cluster that failed to start) still reports
// everything it did measure.
import type { PhaseDiskStalls } from './disk-stalls.js';
import { Histogram, type LatencySummary } from './histogram.js';
import type { LoadResult } from './load.js';
import type { NodePhaseStats } from './node-stats.js';
import type { PairedComparison } from './pairs.js';
import type { PhaseCpu } from './proc-cpu.js';

export interface Series {
  readonly ok: number;
  readonly errors: number;
  readonly errorKinds: Readonly<Record<string, number>>;
  readonly elapsedMs: number;
  readonly ratePerSec: number;
  readonly latency: LatencySummary;
  /** CPU of the benchmark process during the phase, % of one core (absent for derived series). */
  readonly clientCpuPercent?: number;
  /** Busy share of all the machine's cores during the phase (absent for derived series). */
  readonly machineCpuPercent?: number | null;
  /** CPU of every process on the machine over the phase (absent for derived series and older runs). */
  readonly processCpu?: PhaseCpu | null;
  /** Disk stalls in the measured window and the slowest operations they overlapped (absent for derived series and older runs). */
  readonly diskStalls?: PhaseDiskStalls | null;
  /** For a series pooled from several alternating phases: how many (absent: one phase). */
  readonly phases?: number;
}

export type SectionStatus = 'ok' | 'skipped' | 'failed';

export interface Section {
  readonly status: SectionStatus;
  /** Why it was skipped or how it failed; null when it ran. */
  readonly reason: string | null;
}

export interface EtcdRun {
  readonly concurrency: number;
  /** Every single put (two per transaction-shaped operation). */
  readonly puts: Series;
  /** A transaction record put, then its decision put, sequentially. */
  readonly tx: Series;
  /**
   * At a concurrency Ratify's phases did not alternate with: etcd's phase
   * before Ratify's and its phase after them, which `puts` and `tx` pool
   * (etcd-phase.ts says why). Absent in runs written before 2026-12-08.
   */
  readonly bracket?: readonly EtcdPhaseSeries[];
}

/** One measured etcd phase. */
export interface EtcdPhaseSeries {
  readonly puts: Series;
  readonly tx: Series;
}

export interface EtcdSection extends Section {
  readonly version: string | null;
  readonly runs: readonly EtcdRun[];
  /** Members' peak RSS and data bytes after every run, for context next to Ratify's. */
  readonly nodes: readonly NodeResources[];
  /** Transaction-shaped operations written (warm-up included), the denominator of disk per tx. */
  readonly txWritten: number;
  /** `etcdctl check perf` on the same cluster, with --etcd-check-perf. */
  readonly checkPerf?: EtcdCheckPerf;
}

export interface EtcdCheckPerf {
  readonly command: string;
  /** etcdctl's exit status said PASS; null when it could not run. */
  readonly passed: boolean | null;
  /** Its PASS/FAIL lines (throughput, slowest request, standard deviation). */
  readonly lines: readonly string[];
}

export interface WritesRun {
  readonly concurrency: number;
  readonly writes: Series;
  /** What each node spent on the phase (CPU, fsyncs, entries), to say what bounds the rate. */
  readonly nodes: readonly NodePhaseStats[];
}

export interface WritesSection extends Section {
  /** Which API the raw writes went through, e.g. "PUT /v1/kv/:key". */
  readonly path: string | null;
  readonly runs: readonly WritesRun[];
  readonly nodes: readonly NodeResources[];
  /** Concurrency 1, alternating with etcd's single puts (the c=1 run above pools Ratify's phases). */
  readonly pairs?: PairedComparison | null;
}

export interface TxRun {
  readonly concurrency: number;
  /** POST /v1/transactions (commit: true) until its 200: the decision is durable. */
  readonly tx: Series;
  /** POST until the last participant received its commit call. */
  readonly acks: LatencySummary;
  /** Successful transactions whose acknowledgements did not all arrive in time. */
  readonly acksMissing: number;
  readonly participantAborts: number;
  readonly nodes: readonly NodePhaseStats[];
}

export interface NodeResources {
  readonly id: string;
  readonly peakRssBytes: number | null;
  /** RSS when measured: far below the peak means a transient spike (snapshot, GC), not retained state. */
  readonly rssBytes: number | null;
  readonly diskBytes: number;
}

export interface TxSection extends Section {
  readonly runs: readonly TxRun[];
  /** Transactions finished by the cluster when resources were measured. */
  readonly finishedTx: number;
  readonly nodes: readonly NodeResources[];
  /** Mean over nodes of data-folder bytes / finished transactions. */
  readonly diskBytesPerTx: number | null;
  /** Concurrency 1, alternating with etcd's two sequential puts. */
  readonly pairs?: PairedComparison | null;
}

export interface FailoverKill {
  readonly killed: string;
  readonly newLeader: string | null;
  /** SIGKILL until the first transaction started after it succeeded; null if none did in time. */
  readonly recoveryMs: number | null;
  readonly failedRequests: number;
  /**
   * Snapshots the restarted node installed from the leader until it caught up (its
   * ratify_raft_snapshots_installed_total): 0 when it caught up from the log alone,
   * null when its metrics could not be read. Optional: runs before 2026-12-07 lack it.
   */
  readonly restartSnapshotsInstalled?: number | null;
}

export interface FailoverSection extends Section {
  readonly concurrency: number;
  readonly kills: readonly FailoverKill[];
  readonly p50Ms: number | null;
  readonly maxMs: number | null;
  /** Highest peak RSS of any node by the end of the kills (restarts catch up by snapshot). */
  readonly peakRssBytes: number | null;
}

export interface Goal {
  readonly name: string;
  readonly target: string;
  readonly actual: string;
  /** null when the run did not measure it. */
  readonly met: boolean | null;
}

export interface BenchReport {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly command: string;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly memoryBytes: number;
    readonly os: string;
    readonly node: string;
    readonly gitCommit: string | null;
  };
  readonly options: Readonly<Record<string, unknown>>;
  readonly etcd: EtcdSection;
  readonly writes: WritesSection;
  readonly tx: TxSection;
  readonly failover: FailoverSection;
  readonly goals: readonly Goal[];
  /** What each system writes per operation, in bytes. */
  readonly payloads?: Payloads;
  /** Peak RSS (VmHWM) of every process the benchmark ran, over the whole run: kills, restarts and every cluster included. */
  readonly peakRssWholeRun?: ReadonlyArray<{ readonly name: string; readonly peakRssBytes: number }>;
}

export interface Payloads {
  /** Transaction record / decision values, the same bytes in etcd's puts and Ratify's KV writes. */
  readonly recordValueBytes: number;
  readonly decisionValueBytes: number;
  readonly recordKeyBytes: number;
  readonly decisionKeyBytes: number;
  /** JSON body of one etcd put (base64 key and value) and of one Ratify KV PUT ({"value": ...}), record / decision. */
  readonly etcdPutBodyBytes: readonly [number, number];
  readonly ratifyKvBodyBytes: readonly [number, number];
  /** JSON body of Ratify's one-shot 2-participant POST /v1/transactions. */
  readonly ratifyTxBodyBytes: number;
}

export function toSeries(r: LoadResult): Series {
  return {
    ok: r.ok,
    errors: r.errors,
    errorKinds: r.errorKinds,
    elapsedMs: r.elapsedMs,
    ratePerSec: r.ratePerSec,
    latency: r.latency,
    clientCpuPercent: r.clientCpuPercent,
    machineCpuPercent: r.machineCpuPercent,
    processCpu: r.processCpu,
    diskStalls: r.diskStalls,
  };
}

/**
 * One series from several phases of the same kind (the alternating phases at
 * concurrency 1): latencies from the merged histograms, the rate over the summed
 * measured time, the CPU shares averaged.
 */
export function pooledSeries(results: ReadonlyArray<LoadResult & { histogram: Histogram }>): Series | null {
  if (results.length === 0) return null;
  if (results.length === 1 && results[0] !== undefined) return toSeries(results[0]);
  const histogram = new Histogram();
  const errorKinds: Record<string, number> = {};
  let ok = 0;
  let errors = 0;
  let elapsedMs = 0;
  for (const r of results) {
    histogram.merge(r.histogram);
    ok += r.ok;
    errors += r.errors;
    elapsedMs += r.elapsedMs;
    for (const [k, v] of Object.entries(r.errorKinds)) errorKinds[k] = (errorKinds[k] ?? 0) + v;
  }
  const mean = (values: ReadonlyArray<number | null>): number | null => {
    const known = values.filter((v): v is number => v !== null);
    return known.length === 0 ? null : known.reduce((a, b) => a + b, 0) / known.length;
  };
  return {
    ok,
    errors,
    errorKinds,
    elapsedMs,
    ratePerSec: ok / (Math.max(1e-3, elapsedMs) / 1000),
    latency: histogram.summary(),
    clientCpuPercent: mean(results.map((r) => r.clientCpuPercent)) ?? 0,
    machineCpuPercent: mean(results.map((r) => r.machineCpuPercent)),
    phases: results.length,
  };
}
