import { existsSync } from 'node:fs';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  eventLoopDelayFromMetrics,
  mainThreadRunWaitMs,
  parsePrometheus,
  phaseStats,
  processCpuMs,
  prometheusLabelled,
  countAboveFromMetrics,
  LONG_GC_SECONDS,
  SLOW_SAVE_SECONDS,
  slowSavesFromMetrics,
  type NodeCounters,
} from '../../scripts/bench/node-stats.js';

/** A node's counters, all zero, for tests that vary one field. */
const base: NodeCounters = {
  cpuMs: 0,
  fsyncs: 0,
  fsyncEntries: 0,
  fsyncSeconds: 0,
  commitIndex: 0,
  envelopes: 0,
  participantRequests: 0,
};

describe('parsePrometheus', () => {
  it('sums samples of a metric over its label sets and skips comments', () => {
    const text = [
      '# HELP ratify_raft_storage_batches_total Synced storage writes.',
      '# TYPE ratify_raft_storage_batches_total counter',
      'ratify_raft_storage_batches_total{node="n1"} 40',
      'ratify_raft_proposals_total{result="ok",node="n1"} 7',
      'ratify_raft_proposals_total{result="refused",node="n1"} 3',
      'ratify_raft_commit_index 12',
      'garbage line',
      '',
    ].join('\n');
    const m = parsePrometheus(text);
    expect(m.get('ratify_raft_storage_batches_total')).toBe(40);
    expect(m.get('ratify_raft_proposals_total')).toBe(10);
    expect(m.get('ratify_raft_commit_index')).toBe(12);
    expect(m.has('garbage')).toBe(false);
  });
});

describe('phaseStats', () => {
  const before: NodeCounters = {
    cpuMs: 1000,
    fsyncs: 100,
    fsyncEntries: 150,
    fsyncSeconds: 0.2,
    commitIndex: 50,
    envelopes: 10,
    participantRequests: 20,
  };
  it('turns counter deltas into rates per second, per fsync and per operation', () => {
    const after: NodeCounters = {
      cpuMs: 1500,
      fsyncs: 300,
      fsyncEntries: 550,
      fsyncSeconds: 0.6,
      commitIndex: 450,
      envelopes: 160,
      participantRequests: 60,
    };
    const { meanFsyncMs, ...rest } = phaseStats('n1', true, before, after, 1000, 100);
    expect(rest).toEqual({
      id: 'n1',
      leader: true,
      cpuPercent: 50,
      fsyncsPerSec: 200,
      entriesPerFsync: 2,
      entriesPerOp: 4,
      fsyncsPerOp: 2,
      cpuMsPerOp: 5,
      envelopesPerOp: 1.5,
      participantRequestsPerOp: 0.4,
    });
    expect(meanFsyncMs).toBeCloseTo(2, 9);
  });
  it('leaves out what a node did not report, and avoids dividing by zero', () => {
    const after: NodeCounters = {
      cpuMs: null,
      fsyncs: 100,
      fsyncEntries: 150,
      fsyncSeconds: 0.2,
      commitIndex: null,
      envelopes: null,
      participantRequests: null,
    };
    const s = phaseStats('n2', false, before, after, 1000, 0);
    expect(s.cpuPercent).toBeNull();
    expect(s.entriesPerFsync).toBeNull();
    expect(s.meanFsyncMs).toBeNull();
    expect(s.entriesPerOp).toBeNull();
    expect(s.fsyncsPerSec).toBe(0);
    expect('loopWaitPercent' in s).toBe(false);
  });
  it("gives the share of the phase the node's main thread waited for a core", () => {
    const s = phaseStats('n1', true, { ...before, runWaitMs: 200 }, { ...before, runWaitMs: 450 }, 1000, 10);
    expect(s.loopWaitPercent).toBe(25);
    const unread = phaseStats('n1', true, { ...before, runWaitMs: null }, { ...before, runWaitMs: 450 }, 1000, 10);
    expect(unread.loopWaitPercent).toBeNull();
  });
});

describe('slow saves', () => {
  it("counts the saves above SLOW_SAVE_SECONDS from a node's histogram, as prom-client writes it", async () => {
    const registry = new Registry();
    const h = new Histogram({
      name: 'ratify_raft_storage_save_seconds',
      help: 'h',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05],
      registers: [registry],
    });
    for (const s of [0.0004, 0.003, 0.01, 0.011, 0.03, 2]) h.observe(s);
    expect(SLOW_SAVE_SECONDS).toBe(0.01);
    expect(slowSavesFromMetrics(await registry.metrics())).toBe(3);
    expect(slowSavesFromMetrics('ratify_raft_storage_batches_total 5\n')).toBeNull();
  });
  it('gives the slow saves of the phase, when the node was read', () => {
    expect(phaseStats('n1', true, { ...base, slowSaves: 4 }, { ...base, slowSaves: 9 }, 1000, 10).slowSaves).toBe(5);
    expect(phaseStats('n1', true, { ...base, slowSaves: null }, { ...base, slowSaves: 9 }, 1000, 10).slowSaves).toBeNull();
    expect(phaseStats('n1', true, base, base, 1000, 10)).not.toHaveProperty('slowSaves');
  });
});

describe('garbage-collection pauses', () => {
  it('counts the pauses over LONG_GC_SECONDS summed over every kind, as prom-client writes them', async () => {
    const registry = new Registry();
    const h = new Histogram({
      name: 'nodejs_gc_duration_seconds',
      help: 'h',
      labelNames: ['kind'],
      // prom-client's default GC buckets.
      buckets: [0.001, 0.01, 0.1, 1, 2, 5],
      registers: [registry],
    });
    for (const s of [0.0005, 0.004, 0.012]) h.observe({ kind: 'minor' }, s);
    for (const s of [0.009, 0.02, 0.15]) h.observe({ kind: 'major' }, s);
    h.observe({ kind: 'incremental' }, 0.002);
    expect(LONG_GC_SECONDS).toBe(0.01);
    const text = await registry.metrics();
    expect(countAboveFromMetrics(text, 'nodejs_gc_duration_seconds', LONG_GC_SECONDS)).toBe(3);
    expect(countAboveFromMetrics(text, 'nodejs_gc_duration_seconds', 0.001)).toBe(6);
    // A bound that is not a bucket of the histogram cannot be answered.
    expect(countAboveFromMetrics(text, 'nodejs_gc_duration_seconds', 0.05)).toBeNull();
    expect(countAboveFromMetrics(text, 'ratify_missing_seconds', LONG_GC_SECONDS)).toBeNull();
    expect(parsePrometheus(text).get('nodejs_gc_duration_seconds_sum')).toBeCloseTo(0.1975, 6);
  });

  it('gives the GC time and long pauses of the phase, when the node was read', () => {
    const s = phaseStats('n1', true, { ...base, gcMs: 100, longGcPauses: 2 }, { ...base, gcMs: 340, longGcPauses: 7 }, 1000, 10);
    expect(s.gcMs).toBe(240);
    expect(s.longGcPauses).toBe(5);
    expect(phaseStats('n1', true, { ...base, gcMs: null }, { ...base, gcMs: 3 }, 1000, 10).gcMs).toBeNull();
    expect(phaseStats('n1', true, base, base, 1000, 10)).not.toHaveProperty('gcMs');
  });
});

describe('mainThreadRunWaitMs', () => {
  it('reads this process where the kernel keeps schedstats, and returns null for a PID that does not exist', () => {
    const ms = mainThreadRunWaitMs(process.pid);
    if (existsSync('/proc/self/schedstat')) expect(ms).toBeGreaterThanOrEqual(0);
    expect(mainThreadRunWaitMs(2 ** 30)).toBeNull();
  });
});

describe('processCpuMs', () => {
  it('reads this process and returns null for a PID that does not exist', () => {
    const ms = processCpuMs(process.pid);
    if (process.platform === 'linux') expect(ms).not.toBeNull();
    expect(processCpuMs(2 ** 30)).toBeNull();
  });
});

describe('machine CPU', () => {
  it('reads /proc/stat and turns two readings into a busy share of all cores', async () => {
    const { busyPercent, machineCpuTicks } = await import('../../scripts/bench/load.js');
    expect(busyPercent({ busy: 100, total: 400 }, { busy: 250, total: 600 })).toBe(75);
    expect(busyPercent({ busy: 100, total: 400 }, { busy: 100, total: 400 })).toBeNull();
    expect(busyPercent(null, { busy: 1, total: 2 })).toBeNull();
    const t = machineCpuTicks();
    expect(t).not.toBeNull();
    expect(t!.busy).toBeGreaterThan(0);
    expect(t!.total).toBeGreaterThanOrEqual(t!.busy);
  });
});

describe('event-loop delay from the metrics page', () => {
  const page = [
    '# HELP ratify_event_loop_delay_seconds Event-loop delay.',
    '# TYPE ratify_event_loop_delay_seconds gauge',
    'ratify_event_loop_delay_seconds{quantile="0.5",node="n1"} 0.0001',
    'ratify_event_loop_delay_seconds{node="n1",quantile="0.99"} 0.004',
    'ratify_event_loop_delay_seconds{quantile="0.999",node="n1"} 0.03',
    'ratify_event_loop_delay_seconds{quantile="1",node="n1"} 0.25',
    'ratify_event_loop_delay_seconds_other{quantile="1",node="n1"} 9',
    'nodejs_eventloop_lag_p99_seconds{node="n1"} 0.011',
  ].join('\n');

  it('reads one metric by one label, wherever the label sits in the set', () => {
    const q = prometheusLabelled(page, 'ratify_event_loop_delay_seconds', 'quantile');
    expect([...q]).toEqual([
      ['0.5', 0.0001],
      ['0.99', 0.004],
      ['0.999', 0.03],
      ['1', 0.25],
    ]);
  });

  it('gives p50, p99, p99.9 and max in ms, and null for a node without the metric', () => {
    const d = eventLoopDelayFromMetrics(page);
    expect(d?.p50Ms).toBeCloseTo(0.1);
    expect(d?.p99Ms).toBeCloseTo(4);
    expect(d?.p999Ms).toBeCloseTo(30);
    expect(d?.maxMs).toBeCloseTo(250);
    expect(eventLoopDelayFromMetrics('nodejs_eventloop_lag_p99_seconds 0.01')).toBeNull();
  });

  it('reports the reading after the phase (the one before reset the histogram)', () => {
    const before = { ...base, eventLoopDelay: { p50Ms: 9, p99Ms: 9, p999Ms: 9, maxMs: 9 } };
    const after = { ...base, eventLoopDelay: { p50Ms: 1, p99Ms: 2, p999Ms: 3, maxMs: 4 } };
    expect(phaseStats('n1', true, before, after, 1000, 10).eventLoopDelay).toEqual({ p50Ms: 1, p99Ms: 2, p999Ms: 3, maxMs: 4 });
    expect(phaseStats('n1', true, before, { ...base, eventLoopDelay: null }, 1000, 10).eventLoopDelay).toBeNull();
    expect(phaseStats('n1', true, before, base, 1000, 10)).not.toHaveProperty('eventLoopDelay');
  });
});
