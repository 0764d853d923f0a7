// The dashboard's bounded time series: latency bins and fixed windows.
import { describe, expect, it } from 'vitest';
import { ActivitySeries } from '../../src/http/activity-series.js';
import { LATENCY_BIN_COUNT, LatencyBins, binOf } from '../../src/http/latency-bins.js';
import { Prng } from '../../src/util/random.js';

describe('LatencyBins', () => {
  it('has no summary without a sample', () => {
    expect(new LatencyBins().summary()).toBeNull();
  });

  it('reads percentiles at most 25 % above the exact nearest-rank value, and the exact maximum', () => {
    const random = new Prng(7).asFunction();
    const bins = new LatencyBins();
    const values: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const v = Math.exp(random() * 9); // 1 ms .. 8 s, spread over many bins
      values.push(v);
      bins.add(v);
    }
    values.sort((a, b) => a - b);
    const exact = (q: number): number => values[Math.ceil(q * values.length) - 1]!;
    const s = bins.summary()!;
    for (const [q, read] of [
      [0.5, s.p50],
      [0.9, s.p90],
      [0.99, s.p99],
    ] as const) {
      expect(read).toBeGreaterThanOrEqual(exact(q) - 0.05);
      expect(read).toBeLessThanOrEqual(exact(q) * 1.25 + 0.05);
    }
    expect(s.max).toBeCloseTo(values[values.length - 1]!, 1);
    expect(bins.count).toBe(5000);
  });

  it('never reads a percentile above the maximum, and counts 0 and garbage as 0 ms', () => {
    const bins = new LatencyBins();
    bins.add(3);
    expect(bins.summary()).toEqual({ p50: 3, p90: 3, p99: 3, max: 3 });
    bins.add(-5);
    bins.add(Number.NaN);
    expect(bins.summary()?.p50).toBe(0.5); // two of three in the first bin
  });

  it('bins are monotonic and the last one takes everything beyond', () => {
    let prev = 0;
    for (let ms = 0; ms < 10_000_000; ms = ms * 1.1 + 0.01) {
      const b = binOf(ms);
      expect(b).toBeGreaterThanOrEqual(prev);
      prev = b;
    }
    expect(binOf(1e12)).toBe(LATENCY_BIN_COUNT - 1);
  });
});

describe('ActivitySeries', () => {
  const series = (): ActivitySeries => new ActivitySeries({ intervalMs: 1000, windowsMax: 5 });
  const committed = (decidedAtMs: number, latencyMs = 10) => ({ outcome: 'committed' as const, decidedAtMs, latencyMs });

  it('puts a decision in the window of its decidedAt, also when it is applied later', () => {
    const s = series();
    s.recordDecision(committed(10_100), 10_200);
    s.recordDecision(committed(10_900), 12_050); // a follower applying late, or a catching-up node
    s.recordDecision({ outcome: 'aborted', decidedAtMs: 11_000, latencyMs: 30 }, 12_050);
    expect(s.samples(12_500).map((w) => [w.atMs, w.committed, w.aborted])).toEqual([
      [10_000, 2, 0],
      [11_000, 0, 1],
    ]);
  });

  it('counts a decision stamped in the future of this clock in the current window, and drops one older than the oldest window', () => {
    const s = series();
    s.recordDecision(committed(99_999_000), 20_100);
    s.recordDecision(committed(15_999), 20_100); // window 15: older than 16..20
    s.recordDecision(committed(16_000), 20_100);
    expect(s.samples(20_100).map((w) => [w.atMs, w.committed])).toEqual([
      [16_000, 1],
      [20_000, 1],
    ]);
  });

  it('keeps windowsMax windows: older ones are overwritten as time moves on', () => {
    const s = series();
    for (let t = 0; t < 12_000; t += 1000) s.recordRaft({ term: 1, leaderId: 'n1', commitIndex: t / 1000, appliedIndex: t / 1000 }, t);
    const windows = s.samples(11_500);
    expect(windows.map((w) => w.atMs)).toEqual([7000, 8000, 9000, 10_000, 11_000]);
    expect(windows.map((w) => w.raft?.appliedIndex)).toEqual([7, 8, 9, 10, 11]);
  });

  it('the last Raft sample in a window wins, and a window reused after a wrap starts empty', () => {
    const s = series();
    s.recordDecision(committed(1000), 1000);
    s.recordRaft({ term: 1, leaderId: null, commitIndex: 1, appliedIndex: 1 }, 1100);
    s.recordRaft({ term: 2, leaderId: 'n2', commitIndex: 5, appliedIndex: 4 }, 1900);
    expect(s.samples(1900)).toEqual([
      {
        atMs: 1000,
        committed: 1,
        aborted: 0,
        decisionLatencyMs: { p50: 10, p90: 10, p99: 10, max: 10 },
        raft: { term: 2, leaderId: 'n2', commitIndex: 5, appliedIndex: 4 },
      },
    ]);
    s.recordRaft({ term: 3, leaderId: 'n3', commitIndex: 9, appliedIndex: 9 }, 6000); // same slot as window 1
    expect(s.samples(6000)).toEqual([
      { atMs: 6000, committed: 0, aborted: 0, decisionLatencyMs: null, raft: { term: 3, leaderId: 'n3', commitIndex: 9, appliedIndex: 9 } },
    ]);
  });

  it('refuses a shape out of its bounds, naming the value and the bound', () => {
    expect(() => new ActivitySeries({ intervalMs: 10, windowsMax: 5 })).toThrow('intervalMs (10) must be an integer in [100, 60000]');
    expect(() => new ActivitySeries({ intervalMs: 1000, windowsMax: 1 })).toThrow('windowsMax (1) must be an integer in [2, 10000]');
  });
});
