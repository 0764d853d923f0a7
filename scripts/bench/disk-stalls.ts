// Disk stalls: stretches of time in which the block device under the
// benchmark's data had requests in flight and completed none. Every node of
// both clusters writes to that one device, so a stall holds every synced write
// of every replica at once: no quorum can commit through it, whatever the
// protocol does. On the shared machines this benchmark runs on, the device
// stalls for tens to hundreds of milliseconds a few times a minute, with
// nothing but a single fdatasync loop running (scripts/disk-probe.ts;
// scripts/bench/results/README.md, "Disk stalls").
// The report shows them per phase, for etcd's phases and Ratify's alike, and
// how many of each phase's slowest operations overlapped one, so a tail can be
// told apart from what the system under test did.
//
// How: a worker thread (disk-stall-worker.ts) reads the device's
// /sys/dev/block/<major>:<minor>/stat every DISK_STALL_SAMPLE_MS. A stall runs
// from a reading to the last later reading that still shows the same count of
// completions (the counters only grow, so none happened in between), when the
// device was busy (io_ticks: the milliseconds it had requests in flight) for at
// least DISK_STALL_MIN_MS of it. Both ends are readings: a worker held off a
// core for a while, between two readings whose counts differ, proves nothing
// and reports nothing, whether the device was idle or busy completing requests
// meanwhile. Passive: the sampler issues no I/O of its own.
import { existsSync, statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { assertNever } from '../../src/util/assert-never.js';
import type { SlowestSpans, Span } from './slowest-spans.js';

/** The shortest stall reported: a synced write on this machine's disk normally takes 0.2-3 ms. */
export const DISK_STALL_MIN_MS = 20;
export const DISK_STALL_SAMPLE_MS = 2;
/** Stalls kept for the whole run, the oldest dropped first. */
export const DISK_STALLS_MAX = 10_000;

export interface DiskStall {
  /** process.hrtime.bigint() of the reading it starts at, as a number. */
  readonly startNs: number;
  /** The last reading with the same count of completions: the stall may have gone on until the next. */
  readonly endNs: number;
  /** Milliseconds the device was busy in between (io_ticks): the stall's length, at least. */
  readonly busyMs: number;
}

/** The counters of one reading of a block device's stat file. */
export interface BlockStat {
  /** Reads, writes, discards and flushes completed. */
  readonly completed: number;
  /** Milliseconds the device has had requests in flight (io_ticks). */
  readonly busyMs: number;
}

/**
 * Parses a block device's stat file (Documentation/block/stat.rst): fields 1
 * and 5 are reads and writes completed, 10 io_ticks, 12 and 16 discards and
 * flushes completed (kernels from 4.18 and 5.5 on). Null for anything shorter
 * than the 11 fields every kernel since 2.6 writes.
 */
export function parseBlockStat(text: string): BlockStat | null {
  const f = text.trim().split(/\s+/).map(Number);
  if (f.length < 11 || f.slice(0, 11).some((v) => !Number.isFinite(v))) return null;
  const at = (i: number): number => {
    const v = f[i];
    return v === undefined || !Number.isFinite(v) ? 0 : v;
  };
  return { completed: at(0) + at(4) + at(11) + at(15), busyMs: at(9) };
}

/**
 * The stat file of the block device holding `dir`, or null where there is
 * none (not Linux; an overlay or tmpfs with no block device behind it).
 */
export function blockStatPath(dir: string): string | null {
  let dev: number;
  try {
    dev = statSync(dir).dev;
  } catch {
    return null;
  }
  // Linux's new_encode_dev: 12 bits of major above 8 bits of minor, the rest of the minor above.
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | (Math.floor(dev / 4096) & 0xfff00);
  const path = `/sys/dev/block/${major}:${minor}/stat`;
  return existsSync(path) ? path : null;
}

interface Reading {
  readonly atNs: number;
  readonly stat: BlockStat;
}

/** Turns readings into stalls; pure, so the worker and the tests run the same code. */
export class StallDetector {
  /** The first reading with the current count of completions, and the latest. */
  private first: Reading | null = null;
  private latest: Reading | null = null;

  constructor(private readonly minMs = DISK_STALL_MIN_MS) {}

  /** One reading; returns the stall that a new count of completions ends, if any. */
  sample(atNs: number, stat: BlockStat): DiskStall | null {
    const reading = { atNs, stat };
    const first = this.first;
    const latest = this.latest;
    this.latest = reading;
    if (first !== null && stat.completed === first.stat.completed) return null;
    this.first = reading;
    if (first === null || latest === null) return null;
    const busyMs = latest.stat.busyMs - first.stat.busyMs;
    return busyMs >= this.minMs ? { startNs: first.atNs, endNs: latest.atNs, busyMs } : null;
  }
}

/** What the report shows for one phase. */
export interface PhaseDiskStalls {
  /** The device sampled, e.g. "254:0". */
  readonly device: string;
  /** Stalls of at least DISK_STALL_MIN_MS that overlapped the measured window. */
  readonly stalls: number;
  readonly longestMs: number;
  readonly stalledMs: number;
  /** Of the phase's slowest 1 % of operations (at least one), how many overlapped a stall. */
  readonly slowest1: TailOverlap;
  /** The same for the slowest 0.1 %. */
  readonly slowest01: TailOverlap;
}

export interface TailOverlap {
  readonly ops: number;
  readonly duringStall: number;
}

function overlaps(a: Span, b: DiskStall): boolean {
  return a.startNs < b.endNs && b.startNs < a.endNs;
}

/** Of the `share` slowest of `ok` operations, how many ran while a stall did. */
export function tailOverlap(spans: SlowestSpans, stalls: readonly DiskStall[], ok: number, share: number): TailOverlap {
  const slowest = spans.slowest(Math.max(1, Math.ceil(ok * share)));
  return { ops: slowest.length, duringStall: slowest.filter((s) => stalls.some((st) => overlaps(s, st))).length };
}

export function summarizePhase(device: string, stalls: readonly DiskStall[], spans: SlowestSpans, ok: number): PhaseDiskStalls {
  return {
    device,
    stalls: stalls.length,
    longestMs: stalls.reduce((m, s) => Math.max(m, s.busyMs), 0),
    stalledMs: stalls.reduce((a, s) => a + s.busyMs, 0),
    slowest1: tailOverlap(spans, stalls, ok, 0.01),
    slowest01: tailOverlap(spans, stalls, ok, 0.001),
  };
}

/** Messages from the worker. */
export type StallWorkerMessage =
  | { readonly type: 'sampling' }
  | { readonly type: 'stall'; readonly stall: DiskStall }
  | { readonly type: 'unreadable'; readonly reason: string };

/** What a phase asks: the stalls of its measured window and the slowest operations they overlapped. */
export interface DiskStallSource {
  phase(startNs: bigint, endNs: bigint, spans: SlowestSpans, ok: number): PhaseDiskStalls | null;
}

/** The sampler of one device for the whole run; the phases ask it what happened while they ran. */
export class DiskStallMonitor implements DiskStallSource {
  private readonly stalls: DiskStall[] = [];
  private failure: string | null = null;
  private sampling = false;
  private readonly waiting: Array<() => void> = [];

  private constructor(
    readonly device: string,
    private readonly worker: Worker,
  ) {
    worker.on('message', (msg: StallWorkerMessage) => {
      switch (msg.type) {
        case 'sampling':
          this.sampling = true;
          this.settle();
          return;
        case 'stall':
          this.stalls.push(msg.stall);
          if (this.stalls.length > DISK_STALLS_MAX) this.stalls.shift();
          return;
        case 'unreadable':
          this.failure = msg.reason;
          this.settle();
          return;
        default:
          assertNever(msg);
      }
    });
    worker.on('error', (err) => {
      this.failure = err.message;
      this.settle();
    });
    worker.on('exit', () => {
      this.failure ??= 'the sampler stopped';
      this.settle();
    });
    // Never the reason the benchmark stays alive.
    worker.unref();
  }

  /**
   * Starts sampling the device under `dir`; null where it has none. `workerUrl`
   * is the compiled disk-stall-worker.js (tests pass dist's).
   */
  static start(
    dir: string,
    workerUrl: URL = new URL('./disk-stall-worker.js', import.meta.url),
    statPath: string | null = blockStatPath(dir),
  ): DiskStallMonitor | null {
    if (statPath === null) return null;
    const device = /\/(\d+:\d+)\/stat$/.exec(statPath)?.[1] ?? statPath;
    const worker = new Worker(workerUrl, {
      workerData: { statPath, sampleMs: DISK_STALL_SAMPLE_MS, minMs: DISK_STALL_MIN_MS },
    });
    return new DiskStallMonitor(device, worker);
  }

  private settle(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }

  /**
   * Resolves once the worker has read the device once, or has failed (then
   * `failed` says why); for the disk probe and the tests, since the benchmark
   * starts it long before its first phase.
   */
  whenSampling(): Promise<void> {
    if (this.sampling || this.failure !== null) return Promise.resolve();
    // While someone waits for it, the worker is what keeps the process alive.
    this.worker.ref();
    return new Promise((resolve) =>
      this.waiting.push(() => {
        this.worker.unref();
        resolve();
      }),
    );
  }

  /** Why sampling stopped, or null while it runs. */
  get failed(): string | null {
    return this.failure;
  }

  /** Stalls that overlapped [startNs, endNs]; ones still going on are not known yet. */
  between(startNs: bigint, endNs: bigint): DiskStall[] {
    const window: Span = { startNs: Number(startNs), endNs: Number(endNs) };
    return this.stalls.filter((st) => overlaps(window, st));
  }

  /** A phase's summary; null once sampling has failed (a partial count would read as "no stalls"). */
  phase(startNs: bigint, endNs: bigint, spans: SlowestSpans, ok: number): PhaseDiskStalls | null {
    if (this.failure !== null) return null;
    return summarizePhase(this.device, this.between(startNs, endNs), spans, ok);
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}
