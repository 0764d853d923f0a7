// Stall probe: a module preloaded into node processes (NODE_OPTIONS=--import)
// that records what blocks their event loop, to find what makes a tail. Every
// process that inherits the environment (the benchmark's nodes do) writes one
// JSON line per second to $RATIFY_STALL_PROBE_DIR/stall-<pid>.jsonl:
//
//   {t, delay: {p50, p99, p999, max} ms (monitorEventLoopDelay, 1 ms resolution),
//    gc: [{kind, startMs, ms}] for each collection of GC_MS_MIN ms or more,
//    gcMs: {minor, major, incremental, weakcb} summed, stalls: [{atMs, ms}],
//    mem: process.memoryUsage() in MiB (rss, heapUsed, heapTotal, external, arrayBuffers)}
//
// A stall is a 5 ms timer that fired STALL_MS late: the loop was busy (or the
// process not scheduled) that long. Each comes with its wall-clock time, so a
// stall can be matched to a GC pause of the same instant, or to a node log line
// (snapshot taken, election) of the same millisecond.
//
//   npm run build
//   RATIFY_STALL_PROBE_DIR=/tmp/stalls NODE_OPTIONS="--import $PWD/dist/scripts/stall-probe.js" \
//     node dist/scripts/bench.js --skip-etcd --skip-tx --concurrency 64 --writes-path kv
//   node dist/scripts/stall-report.js /tmp/stalls
//
// Does nothing unless RATIFY_STALL_PROBE_DIR is set (NODE_OPTIONS reaches every
// child, the benchmark's own process included).
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

const dir = process.env['RATIFY_STALL_PROBE_DIR'];
const FLUSH_MS = 1000;
const TIMER_MS = 5;
const STALL_MS = 20;
const GC_MS_MIN = 5;
const EVENTS_PER_LINE_MAX = 200;

interface GcEvent {
  readonly kind: string;
  readonly startMs: number;
  readonly ms: number;
}

function gcKind(kind: number | undefined): string {
  switch (kind) {
    case constants.NODE_PERFORMANCE_GC_MINOR:
      return 'minor';
    case constants.NODE_PERFORMANCE_GC_MAJOR:
      return 'major';
    case constants.NODE_PERFORMANCE_GC_INCREMENTAL:
      return 'incremental';
    case constants.NODE_PERFORMANCE_GC_WEAKCB:
      return 'weakcb';
    default:
      return 'other';
  }
}

function start(out: string): void {
  mkdirSync(out, { recursive: true });
  const file = join(out, `stall-${process.pid}.jsonl`);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  let gc: GcEvent[] = [];
  let gcMs: Record<string, number> = {};
  let stalls: Array<{ atMs: number; ms: number }> = [];
  const origin = performance.timeOrigin;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = gcKind(((e as { detail?: unknown }).detail as { kind?: number } | undefined)?.kind);
      gcMs[kind] = (gcMs[kind] ?? 0) + e.duration;
      if (e.duration >= GC_MS_MIN && gc.length < EVENTS_PER_LINE_MAX) {
        gc.push({ kind, startMs: Math.round(origin + e.startTime), ms: Math.round(e.duration * 10) / 10 });
      }
    }
  }).observe({ entryTypes: ['gc'] });
  let expected = performance.now() + TIMER_MS;
  setInterval(() => {
    const now = performance.now();
    const late = now - expected;
    if (late >= STALL_MS && stalls.length < EVENTS_PER_LINE_MAX)
      stalls.push({ atMs: Math.round(origin + now - late), ms: Math.round(late) });
    expected = now + TIMER_MS;
  }, TIMER_MS).unref();
  setInterval(() => {
    const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
    const mib = (b: number): number => Math.round(b / 10485.76) / 100;
    const m = process.memoryUsage();
    const line = {
      t: Date.now(),
      pid: process.pid,
      argv: process.argv.slice(2, 6).join(' '),
      delay: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), p999: ms(delay.percentile(99.9)), max: ms(delay.max) },
      gc,
      gcMs,
      stalls,
      mem: {
        rss: mib(m.rss),
        heapUsed: mib(m.heapUsed),
        heapTotal: mib(m.heapTotal),
        external: mib(m.external),
        arrayBuffers: mib(m.arrayBuffers),
      },
    };
    delay.reset();
    gc = [];
    gcMs = {};
    stalls = [];
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  }, FLUSH_MS).unref();
}

if (dir !== undefined && dir !== '') start(dir);
