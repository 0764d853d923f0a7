// Closed-loop load generator: N workers, each issuing its next operation as
// soon as the previous one finishes. Closed loop measures what a client with N
// requests in flight sees; throughput is then bounded by latency (Little's law),
// which is exactly the comparison the benchmark makes at concurrency 1/16/64
// (README, "Performance").
import { readFileSync } from 'node:fs';
import type { DiskStallSource, PhaseDiskStalls } from './disk-stalls.js';
import { Histogram, type LatencySummary } from './histogram.js';
import { busyMsBetween, phaseCpu, readProcessCpu, withCommandLines, type PhaseCpu } from './proc-cpu.js';
import type { Progress } from './progress.js';
import { SlowestSpans } from './slowest-spans.js';

export interface OpContext {
  readonly worker: number;
  /** Per-worker sequence number, starting at 0. */
  readonly seq: number;
  /** process.hrtime.bigint() just before the operation started. */
  readonly startNs: bigint;
  /** Work finishing before this instant is warm-up; sub-measurements should skip it too. */
  readonly measureStartNs: bigint;
}

export type Operation = (ctx: OpContext) => Promise<void>;

export interface LoadSpec {
  readonly label: string;
  readonly concurrency: number;
  /** Length of the measured window; 0 means "until `signal` aborts or `countMax` is reached". */
  readonly durationMs: number;
  /** Operations finishing before this much time has passed are not measured (connections, JIT). */
  readonly warmupMs: number;
  /** Stop once this many operations succeeded in the measured window. */
  readonly countMax?: number;
  readonly signal?: AbortSignal;
  /** Pause after a failed operation so a dead endpoint is not hammered in a tight loop. */
  readonly errorBackoffMs: number;
  readonly op: Operation;
  readonly progress?: Progress;
  /**
   * When given, the CPU of every process on the machine is read around the phase
   * (/proc/<pid>/stat), the benchmark's own processes named by this map.
   */
  readonly processLabels?: () => ReadonlyMap<number, string>;
  /** When given, the result says which disk stalls the measured window saw (disk-stalls.ts). */
  readonly diskStalls?: DiskStallSource | null;
}

export interface LoadResult {
  readonly label: string;
  readonly concurrency: number;
  readonly ok: number;
  /** Successes including warm-up: the denominator for counters read around the whole phase. */
  readonly completed: number;
  readonly errors: number;
  /** Error kind → count, for the first ERROR_KINDS_MAX kinds seen. */
  readonly errorKinds: Readonly<Record<string, number>>;
  readonly elapsedMs: number;
  readonly ratePerSec: number;
  readonly latency: LatencySummary;
  /** CPU the benchmark process itself used, as % of one core: shows whether the load generator was the bottleneck. */
  readonly clientCpuPercent: number;
  /** Busy share of every core of the machine over the phase (0-100, /proc/stat); null off Linux. Near 100 means the box is saturated. */
  readonly machineCpuPercent: number | null;
  /** CPU of every process over the phase (warm-up included); null when not asked for. */
  readonly processCpu: PhaseCpu | null;
  /** Disk stalls in the measured window and the slowest operations they overlapped; null when not sampled. */
  readonly diskStalls: PhaseDiskStalls | null;
  /** The measured window: process.hrtime.bigint() at its start and at the last measured operation's end. */
  readonly measuredFromNs: bigint;
  readonly measuredToNs: bigint;
}

const ERROR_KINDS_MAX = 16;

export async function runClosedLoop(spec: LoadSpec): Promise<LoadResult & { histogram: Histogram }> {
  validate(spec);
  const histogram = new Histogram();
  const slowest = new SlowestSpans();
  const errorKinds: Record<string, number> = {};
  // Read before t0 and after the last operation: the walk over /proc is not on any operation's clock.
  const procs0 = spec.processLabels === undefined ? null : readProcessCpu();
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const machine0 = machineCpuTicks();
  const measureStartNs = t0 + BigInt(Math.round(spec.warmupMs * 1e6));
  const endNs = spec.durationMs > 0 ? measureStartNs + BigInt(Math.round(spec.durationMs * 1e6)) : null;
  let ok = 0;
  let errors = 0;
  /** Successes including warm-up, for the progress line only. */
  let completed = 0;
  let lastDoneNs = measureStartNs;

  const stopped = (now: bigint): boolean =>
    (endNs !== null && now >= endNs) || spec.signal?.aborted === true || (spec.countMax !== undefined && ok >= spec.countMax);

  const worker = async (w: number): Promise<void> => {
    for (let seq = 0; ; seq++) {
      const startNs = process.hrtime.bigint();
      if (stopped(startNs)) return;
      try {
        await spec.op({ worker: w, seq, startNs, measureStartNs });
        const doneNs = process.hrtime.bigint();
        completed += 1;
        if (doneNs >= measureStartNs) {
          histogram.recordSpanNs(startNs, doneNs);
          slowest.offer(startNs, doneNs);
          ok += 1;
          if (doneNs > lastDoneNs) lastDoneNs = doneNs;
        }
      } catch (err) {
        if (process.hrtime.bigint() >= measureStartNs) {
          errors += 1;
          countErrorKind(errorKinds, err);
        }
        await sleep(spec.errorBackoffMs);
      }
    }
  };

  const ticker = spec.progress?.startPhase(spec.label, () => ({
    ok: completed,
    errors,
    measuring: process.hrtime.bigint() >= measureStartNs,
  }));
  try {
    await Promise.all(Array.from({ length: spec.concurrency }, (_, w) => worker(w)));
  } finally {
    ticker?.stop();
  }
  const elapsedMs = Math.max(1e-3, Number(lastDoneNs - measureStartNs) / 1e6);
  const latency = histogram.summary();
  const cpu = process.cpuUsage(cpu0);
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
  const clientCpuPercent = (100 * (cpu.user + cpu.system)) / Math.max(1, wallUs);
  const machine1 = machineCpuTicks();
  const machineCpuPercent = busyPercent(machine0, machine1);
  const processCpu =
    procs0 === null || spec.processLabels === undefined
      ? null
      : withCommandLines(phaseCpu(procs0, readProcessCpu(), wallUs / 1000, spec.processLabels(), busyMsBetween(machine0, machine1)));
  spec.progress?.note(
    `[${spec.label}] ${Math.round(ok / (elapsedMs / 1000))} ops/s, p50 ${latency.p50Ms.toFixed(2)} ms, p99 ${latency.p99Ms.toFixed(2)} ms, ${ok} ok, ${errors} errors, client CPU ${clientCpuPercent.toFixed(0)}%${machineCpuPercent === null ? '' : `, machine CPU ${machineCpuPercent.toFixed(0)}%`}${errors > 0 ? ` ${JSON.stringify(errorKinds)}` : ''}`,
  );
  return {
    label: spec.label,
    concurrency: spec.concurrency,
    ok,
    completed,
    errors,
    errorKinds,
    elapsedMs,
    ratePerSec: ok / (elapsedMs / 1000),
    latency,
    clientCpuPercent,
    machineCpuPercent,
    processCpu,
    diskStalls: spec.diskStalls?.phase(measureStartNs, lastDoneNs, slowest, ok) ?? null,
    measuredFromNs: measureStartNs,
    measuredToNs: lastDoneNs,
    histogram,
  };
}

/** Busy and total jiffies of all cores together (first line of /proc/stat); null where there is none. */
export function machineCpuTicks(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    if (fields.length < 5 || fields.some((f) => !Number.isFinite(f))) return null;
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

export function busyPercent(a: { busy: number; total: number } | null, b: { busy: number; total: number } | null): number | null {
  if (a === null || b === null || b.total <= a.total) return null;
  return (100 * (b.busy - a.busy)) / (b.total - a.total);
}

function validate(spec: LoadSpec): void {
  if (!Number.isInteger(spec.concurrency) || spec.concurrency < 1 || spec.concurrency > 4096) {
    throw new RangeError(`concurrency (${spec.concurrency}) must be an integer between 1 and 4096`);
  }
  if (spec.durationMs === 0 && spec.signal === undefined && spec.countMax === undefined) {
    throw new RangeError('a load with durationMs 0 needs a signal or countMax, or it never stops');
  }
}

/** Groups errors by code (undici and RatifyError-style bodies set one), else by message head. */
export function errorKind(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    return err.message.slice(0, 60);
  }
  return String(err).slice(0, 60);
}

function countErrorKind(kinds: Record<string, number>, err: unknown): void {
  const kind = errorKind(err);
  if (kinds[kind] !== undefined) kinds[kind] += 1;
  else if (Object.keys(kinds).length < ERROR_KINDS_MAX) kinds[kind] = 1;
  else kinds['other'] = (kinds['other'] ?? 0) + 1;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
