// The shape of bench-results/bench-<date>.json. Each section says whether it ran,
// so a run without etcd (or with a cluster that failed to start) still reports
// everything it did measure.
import type { LatencySummary } from './histogram.js';
import type { LoadResult } from './load.js';
import type { NodePhaseStats } from './node-stats.js';

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
}

export interface EtcdSection extends Section {
  readonly version: string | null;
  readonly runs: readonly EtcdRun[];
  /** Members' peak RSS and data bytes after every run, for context next to Ratify's. */
  readonly nodes: readonly NodeResources[];
  /** Transaction-shaped operations written (warm-up included), the denominator of disk per tx. */
  readonly txWritten: number;
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
}

export interface FailoverKill {
  readonly killed: string;
  readonly newLeader: string | null;
  /** SIGKILL until the first transaction started after it succeeded; null if none did in time. */
  readonly recoveryMs: number | null;
  readonly failedRequests: number;
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
  };
}
