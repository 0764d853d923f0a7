import { describe, expect, it } from 'vitest';
import { checkPerfLines, etcdPhasesWanted, FAKE_PARTICIPANTS } from '../../scripts/bench/etcd-phase.js';
import { Histogram } from '../../scripts/bench/histogram.js';
import type { LoadResult } from '../../scripts/bench/load.js';
import { comparePairs, makePair } from '../../scripts/bench/pairs.js';
import { payloads } from '../../scripts/bench/payloads.js';
import { computeGoals, renderReport } from '../../scripts/bench/report.js';
import { benchTxId, txRecords } from '../../scripts/bench/records.js';
import { pooledSeries } from '../../scripts/bench/results.js';
import { phaseDiskStalls, sampleReport, series } from './fixtures.js';

const cpu = {
  elapsedMs: 1000,
  top: [{ pid: 77, name: 'vitest', label: null, cpuMs: 800, percent: 80 }],
  benchPercent: 100,
  othersPercent: 80,
  unattributedPercent: 5,
};

const stalls = phaseDiskStalls({
  stalls: 2,
  longestMs: 184,
  stalledMs: 210,
  slowest1: { ops: 40, duringStall: 12 },
  slowest01: { ops: 4, duringStall: 4 },
});

function reportWithPairs() {
  const side = (ratePerSec: number, p50Ms: number) => ({ ratePerSec, p50Ms, p99Ms: 9, processCpu: cpu, diskStalls: stalls });
  const nodes = [
    {
      id: 'n1',
      leader: true,
      cpuPercent: 40,
      fsyncsPerSec: 1,
      entriesPerFsync: 1,
      meanFsyncMs: 1,
      entriesPerOp: 1,
      fsyncsPerOp: 1,
      cpuMsPerOp: 1,
      envelopesPerOp: 1,
      participantRequestsPerOp: 0,
      eventLoopDelay: { p50Ms: 0.2, p99Ms: 4.5, p999Ms: 61, maxMs: 230 },
      loopWaitPercent: 21,
      gcMs: 812.4,
      longGcPauses: 6,
    },
  ];
  const r = sampleReport();
  const pairs = comparePairs(1, 'two-put tx', [
    makePair({ ...side(300, 3), nodes }, side(250, 4)),
    makePair({ ...side(310, 3), nodes }, side(100, 9)),
  ]);
  return {
    ...r,
    tx: { ...r.tx, pairs },
    payloads: payloads(0),
    peakRssWholeRun: [{ name: 'ratify tx n2', peakRssBytes: 222 * 1024 * 1024 }],
    etcd: { ...r.etcd, checkPerf: { command: 'etcdctl check perf --load=s', passed: true, lines: ['PASS: Throughput is 150 writes/s'] } },
  };
}

describe('the fairness part of the report', () => {
  const text = (() => {
    const r = reportWithPairs();
    return renderReport({ ...r, goals: computeGoals(r) });
  })();

  it('shows each pair and the median of the pairwise ratios with its spread', () => {
    expect(text).toContain('Ratify 2-participant tx vs etcd two-put tx at concurrency 1, alternating phases');
    expect(text).toMatch(/\| 2 .*\|\s+3\.10x \|/);
    expect(text).toContain('2.15x (1.20-3.10)');
  });

  it('shows each node’s event-loop delay per phase, the whole-run peak RSS, the payloads, the CPU of every process and etcd’s own check', () => {
    expect(text).toMatch(/\| tx c=1 #1\s+\|\s+n1 \(leader\) \|\s+0\.200 \|\s+4\.50 \|\s+61\.0 \|\s+230 \|\s+21 \|\s+812 \|\s+6 \|/);
    expect(text).toMatch(/\| ratify tx n2 \|\s+222\.0 MiB \|/);
    expect(text).toMatch(/record \d+ B \(key \d+ B\) and decision \d+ B/);
    expect(text).toContain('etcd (two-put tx) c=1 #2: bench 100%, others 80%, unattributed 5%');
    expect(text).toContain('vitest[77] 80%');
    expect(text).toContain("etcd's own check, `etcdctl check perf --load=s`: PASS\n  PASS: Throughput is 150 writes/s");
  });

  it('shows the disk stalls of every phase, etcd’s beside Ratify’s, and the slowest operations that overlapped one', () => {
    expect(text).toContain('### Disk stalls per phase');
    expect(text).toContain("under every cluster's data (254:0)");
    expect(text).toMatch(/\| ratify tx c=1 #2\s+\|\s+2 \|\s+184 \|\s+210 \|\s+12 of 40 \|\s+4 of 4 \|/);
    expect(text).toMatch(/\| etcd \(two-put tx\) c=1 #1\s+\|\s+2 \|/);
  });
});

describe("etcd's phases before and after Ratify's", () => {
  // At 16: a slow phase at the start and a fast one at the end, pooled as the tables show them.
  const r = sampleReport();
  const slow = {
    puts: { ...series(2000, 7, 17), processCpu: cpu, diskStalls: stalls },
    tx: { ...series(1000, 14, 30), processCpu: cpu, diskStalls: stalls },
  };
  const fast = {
    puts: { ...series(3400, 4, 12), processCpu: cpu, diskStalls: null },
    tx: { ...series(1700, 9, 21), processCpu: cpu, diskStalls: null },
  };
  const runs = r.etcd.runs.map((run) =>
    run.concurrency === 16
      ? { concurrency: 16, puts: { ...series(2700, 5, 15), phases: 2 }, tx: { ...series(1350, 11, 25), phases: 2 }, bracket: [slow, fast] }
      : run,
  );
  const report = { ...r, etcd: { ...r.etcd, runs } };
  const text = renderReport({ ...report, goals: computeGoals(report) });

  it('shows both phases and the pooled figures that the tables and goals use', () => {
    expect(text).toContain("a phase before Ratify's phases (#1) and one after them (#2)");
    expect(text).toMatch(/\| 16\s+\|\s+#1\s+\|\s+2,000 \|/);
    expect(text).toMatch(/\| 16\s+\|\s+#2\s+\|\s+3,400 \|/);
    expect(text).toMatch(/\| 16\s+\|\s+pooled \|\s+2,700 \|/);
  });

  it('lists each phase in the CPU lines and the disk stalls, not the pooled one', () => {
    expect(text).toContain('etcd c=16 #1: bench 100%');
    expect(text).toContain('etcd c=16 #2: bench 100%');
    expect(text).not.toMatch(/etcd c=16: bench/);
    expect(text).toMatch(/\| etcd two-put c=16 #1\s+\|\s+2 \|/);
  });
});

describe('etcdPhasesWanted', () => {
  it('brackets every unpaired concurrency when Ratify runs, keeps the pairs, and measures once without Ratify', () => {
    // Paired: the pairs' phases, or one if none ran.
    expect(etcdPhasesWanted(1, 3, true, true)).toBe(3);
    expect(etcdPhasesWanted(1, 0, true, true)).toBe(1);
    // Unpaired with Ratify between: one at the start, one at the end.
    expect(etcdPhasesWanted(16, 1, true, true)).toBe(2);
    expect(etcdPhasesWanted(64, 1, true, true)).toBe(2);
    expect(etcdPhasesWanted(1, 1, false, true)).toBe(2);
    // etcd alone (--skip-ratify): one each.
    expect(etcdPhasesWanted(16, 1, false, false)).toBe(1);
    expect(etcdPhasesWanted(1, 0, false, false)).toBe(1);
  });
});

describe('payloads', () => {
  it('gives etcd and Ratify the same value bytes and states the request bodies', () => {
    const p = payloads(1_700_000_000_000);
    const r = txRecords(benchTxId('c1-0', 0, 1000), FAKE_PARTICIPANTS, 1_700_000_000_000);
    expect(p.recordValueBytes).toBe(Buffer.byteLength(r.record));
    expect(p.decisionValueBytes).toBe(Buffer.byteLength(r.decision));
    expect(p.ratifyKvBodyBytes).toEqual([JSON.stringify({ value: r.record }).length, JSON.stringify({ value: r.decision }).length]);
    // etcd's gateway wants base64: 4/3 of the bytes, plus the key.
    expect(p.etcdPutBodyBytes[0]).toBeGreaterThan((p.recordValueBytes * 4) / 3 + p.recordKeyBytes);
  });
});

describe('pooledSeries', () => {
  const result = (values: number[], elapsedMs: number, machine: number | null): LoadResult & { histogram: Histogram } => {
    const histogram = new Histogram();
    for (const v of values) histogram.recordUs(v * 1000);
    return {
      label: 'x',
      concurrency: 1,
      ok: values.length,
      completed: values.length,
      errors: 1,
      errorKinds: { E: 1 },
      elapsedMs,
      ratePerSec: values.length / (elapsedMs / 1000),
      latency: histogram.summary(),
      clientCpuPercent: 10,
      machineCpuPercent: machine,
      processCpu: null,
      diskStalls: null,
      measuredFromNs: 0n,
      measuredToNs: 0n,
      histogram,
    };
  };

  it('merges the latencies, sums counts and time, and averages the CPU shares it knows', () => {
    const s = pooledSeries([result([1, 1, 1], 1000, 50), result([9], 1000, null)]);
    expect(s?.ok).toBe(4);
    expect(s?.ratePerSec).toBe(2);
    expect(s?.errors).toBe(2);
    expect(s?.errorKinds).toEqual({ E: 2 });
    expect(s?.latency.maxMs).toBeCloseTo(9, 0);
    expect(s?.latency.p50Ms).toBeCloseTo(1, 0);
    expect(s?.machineCpuPercent).toBe(50);
    expect(s?.phases).toBe(2);
    expect(pooledSeries([])).toBeNull();
  });
});

describe('checkPerfLines', () => {
  it('keeps the verdict lines and drops the progress bar it redraws with carriage returns', () => {
    const out =
      ' 0 / 60 B                                 !   0.00%\r 60 / 60 Booooooooooo! 100.00% 1m0s\nPASS: Throughput is 150 writes/s\nPASS: Slowest request took 0.05s\nPASS: Stddev is 0.002s\nPASS\n';
    expect(checkPerfLines(out)).toEqual([
      'PASS: Throughput is 150 writes/s',
      'PASS: Slowest request took 0.05s',
      'PASS: Stddev is 0.002s',
      'PASS',
    ]);
  });
});
