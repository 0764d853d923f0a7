import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketIndex, Histogram } from '../../scripts/bench/histogram.js';

/** The naive model: nearest-rank percentile over the sorted samples. */
function nearestRank(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

describe('Histogram', () => {
  it('agrees with a sorted-array model within bucket precision', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 5e7, noNaN: true }), { minLength: 1, maxLength: 400 }),
        fc.constantFrom(0, 1, 25, 50, 90, 99, 99.9, 100),
        (values, p) => {
          const h = new Histogram();
          for (const v of values) h.recordUs(v);
          const expected = nearestRank(
            [...values].sort((a, b) => a - b),
            p,
          );
          const actual = h.percentileUs(p);
          // Below 128 µs buckets are 1 µs wide; above, 1/128 of the octave start.
          const tolerance = Math.max(1, expected / 128);
          expect(Math.abs(actual - expected)).toBeLessThanOrEqual(tolerance);
        },
      ),
    );
  });

  it('reports the exact min and max as p0 and p100', () => {
    const h = new Histogram();
    for (const v of [1234.5, 99_999.25, 7]) h.recordUs(v);
    expect(h.percentileUs(0)).toBe(7);
    expect(h.percentileUs(100)).toBe(99_999.25);
    const s = h.summary();
    expect(s.count).toBe(3);
    expect(s.minMs).toBeCloseTo(0.007);
    expect(s.maxMs).toBeCloseTo(99.99925);
    expect(s.meanMs).toBeCloseTo((1234.5 + 99_999.25 + 7) / 3 / 1000);
  });

  it('merging equals recording everything in one histogram', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { maxLength: 100 }),
        fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 100 }),
        (a, b) => {
          const merged = new Histogram();
          const left = new Histogram();
          const right = new Histogram();
          const all = new Histogram();
          for (const v of a) left.recordUs(v), all.recordUs(v);
          for (const v of b) right.recordUs(v), all.recordUs(v);
          merged.merge(left);
          merged.merge(right);
          // The mean is a float sum, whose rounding depends on the order of addition.
          const { meanMs: mergedMean, ...mergedRest } = merged.summary();
          const { meanMs: allMean, ...allRest } = all.summary();
          expect(mergedRest).toEqual(allRest);
          expect(mergedMean).toBeCloseTo(allMean, 9);
        },
      ),
    );
  });

  it('summarises an empty histogram as NaN, not zero', () => {
    const s = new Histogram().summary();
    expect(s.count).toBe(0);
    expect(Number.isNaN(s.p50Ms)).toBe(true);
    expect(Number.isNaN(s.maxMs)).toBe(true);
  });

  it('rejects negative and non-finite latencies and out-of-range percentiles', () => {
    const h = new Histogram();
    expect(() => h.recordUs(-1)).toThrow(/latency \(-1 µs\)/);
    expect(() => h.recordUs(Number.NaN)).toThrow(RangeError);
    expect(() => h.percentileUs(101)).toThrow(/percentile \(101\) must be between 0 and 100/);
  });

  it('records spans between hrtime readings in microseconds', () => {
    const h = new Histogram();
    h.recordSpanNs(1_000_000n, 3_500_000n);
    expect(h.percentileUs(50)).toBe(2500);
  });

  it('maps values to non-decreasing buckets', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e9, noNaN: true }), fc.double({ min: 0, max: 1e9, noNaN: true }), (x, y) => {
        const [lo, hi] = x <= y ? [x, y] : [y, x];
        expect(bucketIndex(lo)).toBeLessThanOrEqual(bucketIndex(hi));
      }),
    );
  });
});
