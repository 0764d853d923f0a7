import { describe, expect, it } from 'vitest';
import { comparePairs, formatSpread, makePair, spread } from '../../scripts/bench/pairs.js';

describe('spread', () => {
  it('gives the median, min and max; an even count takes the mean of the middle two', () => {
    expect(spread([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3 });
    expect(spread([4, 1, 2, 3])).toEqual({ median: 2.5, min: 1, max: 4 });
    expect(spread([])).toBeNull();
    expect(spread([Number.NaN, 5])).toEqual({ median: 5, min: 5, max: 5 });
  });
});

describe('comparePairs', () => {
  it('quotes the median of the pairwise ratios, not the ratio of pooled figures', () => {
    const side = (ratePerSec: number, p50Ms: number) => ({ ratePerSec, p50Ms, p99Ms: p50Ms * 3 });
    // The etcd phase of the middle pair ran on a busy machine: pooled rates would say 1.5x; the pairs say 1.1x.
    const pairs = [makePair(side(110, 1), side(100, 1.1)), makePair(side(120, 1), side(40, 3)), makePair(side(90, 1.2), side(100, 1))];
    const c = comparePairs(1, 'put', pairs);
    expect(c.pairs.map((p) => p.rateRatio)).toEqual([1.1, 3, 0.9]);
    expect(c.rateRatio).toEqual({ median: 1.1, min: 0.9, max: 3 });
    expect(c.p50Ratio?.median).toBeCloseTo(1 / 1.1);
    expect(formatSpread(c.rateRatio)).toBe('1.10x (0.90-3.00)');
    expect(formatSpread(null)).toBe('-');
  });

  it('marks a ratio against a zero rate as not a number, and leaves it out of the median', () => {
    const pair = makePair({ ratePerSec: 10, p50Ms: 1, p99Ms: 2 }, { ratePerSec: 0, p50Ms: 0, p99Ms: 0 });
    expect(pair.rateRatio).toBeNaN();
    expect(comparePairs(1, 'put', [pair]).rateRatio).toBeNull();
  });
});
