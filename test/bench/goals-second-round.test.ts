import { describe, expect, it } from 'vitest';
import { RSS_SECOND_GOAL_BYTES, secondRoundGoals } from '../../scripts/bench/goals-second-round.js';
import { comparePairs, makePair } from '../../scripts/bench/pairs.js';
import type { BenchReport, Goal } from '../../scripts/bench/results.js';
import { phaseDiskStalls, sampleReport, series } from './fixtures.js';

const MIB = 1024 * 1024;

function byName(goals: readonly Goal[]): Record<string, Goal> {
  return Object.fromEntries(goals.map((g) => [g.name, g]));
}

/** The sample with Ratify's tails, rates and memory inside every second-round goal. */
function passing(): BenchReport {
  const r = sampleReport();
  const side = (p50Ms: number) => ({ ratePerSec: 600, p50Ms, p99Ms: 4 });
  return {
    ...r,
    // The sample's etcd: puts p99 5 ms (p99.9 7.5), tx p99 9 ms (p99.9 13.5); rates 1000/500 x sqrt(c).
    writes: {
      ...r.writes,
      runs: [1, 16, 64].map((c) => ({ concurrency: c, writes: series(1300 * Math.sqrt(c), 0.8, 4), nodes: [] })),
      pairs: comparePairs(1, 'put', [makePair(side(0.8), { ...side(1), ratePerSec: 450 })]),
    },
    tx: {
      ...r.tx,
      runs: [1, 16, 64].map((c) => ({
        concurrency: c,
        tx: series(650 * Math.sqrt(c), 1.5, 8),
        acks: r.tx.runs[0]!.acks,
        acksMissing: 0,
        participantAborts: 0,
        nodes: [],
      })),
      pairs: comparePairs(1, 'two-put tx', [makePair(side(1.9), side(2)), makePair(side(1.5), side(2)), makePair(side(1.8), side(2))]),
    },
    peakRssWholeRun: [
      { name: 'ratify tx n1', peakRssBytes: 140 * MIB },
      { name: 'ratify tx n2', peakRssBytes: 120 * MIB },
      { name: 'etcd e1', peakRssBytes: 400 * MIB },
      { name: 'ratify writes n1', peakRssBytes: 300 * MIB },
    ],
  };
}

describe('secondRoundGoals', () => {
  it('passes every goal when each measured figure is inside it (etcd and the raw-writes cluster do not count for memory)', () => {
    const goals = secondRoundGoals(passing());
    expect(goals.map((g) => [g.name, g.met])).toEqual([
      ['tx p50 at c=1 vs etcd two-put p50', true],
      ['tx p50 at c=1', true],
      ['p99 and p99.9 vs etcd (writes vs puts, tx vs two-put)', true],
      ["every tx node's peak RSS, whole run, 100,000 finished tx", true],
      ['writes/s vs etcd puts/s', true],
      ['tx/s vs etcd two-put/s', true],
    ]);
    const g = byName(goals);
    // Median of the pairwise p50 ratios 0.95, 0.75, 0.9, and of Ratify's own p50s 1.9, 1.5, 1.8.
    expect(g['tx p50 at c=1 vs etcd two-put p50']?.actual).toBe('0.90x (0.75-0.95)');
    expect(g['tx p50 at c=1']?.actual).toBe('1.80 ms');
  });

  it('judges c=1 throughput by the median of the pairs, not the pooled phases', () => {
    const r = passing();
    const slowPair = comparePairs(1, 'put', [makePair({ ratePerSec: 500, p50Ms: 1, p99Ms: 2 }, { ratePerSec: 1000, p50Ms: 1, p99Ms: 2 })]);
    const goal = byName(secondRoundGoals({ ...r, writes: { ...r.writes, pairs: slowPair } }))['writes/s vs etcd puts/s'];
    expect(goal).toMatchObject({ met: false });
    expect(goal?.actual).toMatch(/^worst 0\.50x at c=1/);
  });

  it('names the worst tail and counts every percentile above etcd', () => {
    const r = passing();
    const tx = { ...r.tx, runs: r.tx.runs.map((run) => (run.concurrency === 64 ? { ...run, tx: series(4000, 3, 30) } : run)) };
    const goal = byName(secondRoundGoals({ ...r, tx }))['p99 and p99.9 vs etcd (writes vs puts, tx vs two-put)'];
    // tx c=64: p99 30 vs 9 (3.33x), p99.9 45 vs 13.5 (3.33x).
    expect(goal).toMatchObject({ met: false, actual: 'worst 3.33x (tx c=64 p99); 2 of 12 above etcd' });
  });

  it('says which tails above etcd had all of their slowest operations in a disk stall, and still counts them as missed', () => {
    const r = passing();
    const stalls = (slowest1: [number, number], slowest01: [number, number]) =>
      phaseDiskStalls({
        stalls: 1,
        longestMs: 90,
        stalledMs: 90,
        slowest1: { ops: slowest1[0], duringStall: slowest1[1] },
        slowest01: { ops: slowest01[0], duringStall: slowest01[1] },
      });
    const tx = {
      ...r.tx,
      runs: r.tx.runs.map((run) =>
        // p99.9 above etcd's with every one of its 40 slowest in the stall; p99 above with only some of its 400.
        run.concurrency === 64 ? { ...run, tx: { ...series(4000, 3, 30), diskStalls: stalls([400, 120], [40, 40]) } } : run,
      ),
    };
    const goal = byName(secondRoundGoals({ ...r, tx }))['p99 and p99.9 vs etcd (writes vs puts, tx vs two-put)'];
    expect(goal).toMatchObject({
      met: false,
      actual: "worst 3.33x (tx c=64 p99); 2 of 12 above etcd, 1 of them with all of that phase's slowest in a disk stall (tx c=64 p99.9)",
    });
  });

  it('fails the memory goal on any node at or over 150 MiB, and passes nothing below 100,000 tx', () => {
    const r = passing();
    const over = [...(r.peakRssWholeRun ?? []), { name: 'ratify tx n3', peakRssBytes: RSS_SECOND_GOAL_BYTES }];
    const name = "every tx node's peak RSS, whole run, 100,000 finished tx";
    expect(byName(secondRoundGoals({ ...r, peakRssWholeRun: over }))[name]).toMatchObject({ met: false });
    const few = { ...r.tx, finishedTx: 5_000 };
    expect(byName(secondRoundGoals({ ...r, tx: few }))[name]?.met).toBeNull();
    expect(byName(secondRoundGoals({ ...r, tx: few, peakRssWholeRun: over }))[name]?.met).toBe(false);
  });

  it('fails the p50 goals when Ratify is slower than etcd or above 2 ms', () => {
    const r = passing();
    const pairs = comparePairs(1, 'two-put tx', [
      makePair({ ratePerSec: 200, p50Ms: 3.6, p99Ms: 9 }, { ratePerSec: 300, p50Ms: 2.4, p99Ms: 8 }),
    ]);
    const g = byName(secondRoundGoals({ ...r, tx: { ...r.tx, pairs } }));
    expect(g['tx p50 at c=1 vs etcd two-put p50']).toMatchObject({ met: false, actual: '1.50x (1.50-1.50)' });
    expect(g['tx p50 at c=1']).toMatchObject({ met: false, actual: '3.60 ms' });
  });

  it('says "not measured" for what the run skipped', () => {
    const r = sampleReport();
    const goals = secondRoundGoals({
      ...r,
      etcd: { ...r.etcd, status: 'skipped', runs: [] },
      writes: { ...r.writes, runs: [] },
      tx: { ...r.tx, runs: [] },
    });
    expect(goals.map((g) => g.met)).toEqual([null, null, null, null, null, null]);
  });
});
