// The one seeded PRNG: replay from a seed, forks independent of draws and of each other,
// every helper within its bounds, and outputs that look uniform.
import { describe, expect, it } from 'vitest';
import { Prng, randomSeed } from '../../src/util/random.js';

const draws = (p: Prng, n: number): number[] => Array.from({ length: n }, () => p.next());

/** Pearson's chi-squared statistic of `counts` against a uniform expectation. */
function chiSquared(counts: readonly number[]): number {
  const total = counts.reduce((s, c) => s + c, 0);
  const expected = total / counts.length;
  return counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
}

/** Sample correlation of two equally long sequences. */
function correlation(xs: readonly number[], ys: readonly number[]): number {
  const mean = (v: readonly number[]): number => v.reduce((s, x) => s + x, 0) / v.length;
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < xs.length; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
    syy += (ys[i]! - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

describe('Prng', () => {
  it('replays the same sequence from the same seed, and a different one from another seed', () => {
    const xs = draws(new Prng(42), 1000);
    expect(draws(new Prng(42), 1000)).toEqual(xs);
    expect(new Set(xs).size).toBeGreaterThan(990);
    expect(draws(new Prng(43), 1000)).not.toEqual(xs);
    // Seeds that agree in their low 32 bits, or in their two's complement, are still apart.
    expect(draws(new Prng(-1), 10)).not.toEqual(draws(new Prng(0xffff_ffff), 10));
    expect(draws(new Prng(0x1_0000_0000), 10)).not.toEqual(draws(new Prng(0), 10));
    expect(draws(new Prng(Number.MAX_SAFE_INTEGER), 10)).not.toEqual(draws(new Prng(Number.MIN_SAFE_INTEGER), 10));
  });

  it('keeps the generator it was written with: changing it re-draws every simulation seed', () => {
    // Known answers for seed 1 (sfc32 seeded through splitmix32), checked against a
    // separate Python implementation of reference sfc32 and fmix32. If this fails, the
    // generator changed: every recorded seed, in issues or in CI logs, now replays a
    // different run. Change the pins only together with a note in the commit.
    const p = new Prng(1);
    expect(Array.from({ length: 4 }, () => p.next() * 2 ** 32)).toEqual(KNOWN_SEED_1);
    expect(new Prng(1).fork('network').seed).toBe(KNOWN_FORK_SEED);
  });

  it('refuses seeds that are not safe integers', () => {
    for (const seed of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      expect(() => new Prng(seed)).toThrow(RangeError);
    }
    expect(() => new Prng(0.5)).toThrow(/seed \(0\.5\) must be a safe integer/);
  });

  it('draws next() in [0, 1), as RaftConfig.random requires, and asFunction() from the same stream', () => {
    const xs = draws(new Prng(7), 10_000);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const f = new Prng(7).asFunction();
    expect(Array.from({ length: 100 }, () => f())).toEqual(xs.slice(0, 100));
  });

  it('forks a stream that depends on the seed and the label only', () => {
    const a = new Prng(7);
    const b = new Prng(7);
    a.next();
    a.fork('workload').next();
    // Draws on the parent or on a sibling do not move this fork.
    expect(draws(a.fork('faults'), 20)).toEqual(draws(b.fork('faults'), 20));
    // A fork's seed replays it.
    const f = new Prng(7).fork('faults');
    expect(draws(new Prng(f.seed), 20)).toEqual(draws(new Prng(7).fork('faults'), 20));
    expect(f.seed).toBeGreaterThanOrEqual(0);
    expect(Number.isSafeInteger(f.seed)).toBe(true);
  });

  it('forks streams that differ from each other and from the parent', () => {
    const root = new Prng(42);
    const streams = [root, root.fork('x'), root.fork('y'), root.fork('x').fork('y'), root.fork('y').fork('x'), new Prng(43).fork('x')];
    const firsts = streams.map((s) => draws(new Prng(s.seed), 8).join());
    expect(new Set(firsts).size).toBe(streams.length);
    // Uncorrelated: with 20,000 pairs the sample correlation of independent streams is
    // within about 0.007 of zero; 0.03 is over four standard deviations.
    const x = draws(new Prng(42).fork('x'), 20_000);
    const y = draws(new Prng(42).fork('y'), 20_000);
    const parent = draws(new Prng(42), 20_000);
    expect(Math.abs(correlation(x, y))).toBeLessThan(0.03);
    expect(Math.abs(correlation(x, parent))).toBeLessThan(0.03);
    // Labels that differ in one character, and seeds that differ in one bit, too.
    const n1 = draws(new Prng(1).fork('core:n1:0'), 20_000);
    const n2 = draws(new Prng(1).fork('core:n2:0'), 20_000);
    const seed0 = draws(new Prng(0).fork('core:n1:0'), 20_000);
    expect(Math.abs(correlation(n1, n2))).toBeLessThan(0.03);
    expect(Math.abs(correlation(n1, seed0))).toBeLessThan(0.03);
  });

  it('keeps int() and below() within their bounds and reaches every value', () => {
    const p = new Prng(1);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const v = p.int(3, 5);
      expect(v >= 3 && v <= 5 && Number.isInteger(v)).toBe(true);
      seen.add(v);
    }
    expect([...seen].sort()).toEqual([3, 4, 5]);
    for (let i = 0; i < 1000; i++) {
      const v = p.int(-2, 1);
      expect(v >= -2 && v <= 1 && Number.isInteger(v)).toBe(true);
      const w = p.below(4);
      expect(w >= 0 && w < 4 && Number.isInteger(w)).toBe(true);
    }
    expect(p.int(9, 9)).toBe(9);
    expect(p.below(1)).toBe(0);
    const wide = p.int(0, 2 ** 32 - 1);
    expect(wide >= 0 && wide < 2 ** 32).toBe(true);
  });

  it('refuses ranges it cannot draw from', () => {
    const p = new Prng(1);
    expect(() => p.int(5, 4)).toThrow(/int\(5, 4\)/);
    expect(() => p.int(0, 1.5)).toThrow(RangeError);
    expect(() => p.int(0, 2 ** 32)).toThrow(RangeError);
    expect(() => p.below(0)).toThrow(/below\(0\)/);
    expect(() => p.below(2.5)).toThrow(RangeError);
    expect(() => p.pick([])).toThrow(/empty list/);
    expect(() => p.chance(Number.NaN)).toThrow(RangeError);
  });

  it('picks every item, and chance() keeps to its probability', () => {
    const p = new Prng(3);
    const items = ['a', 'b', 'c', 'd'] as const;
    const counts = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const v = p.pick(items);
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual([...items]);
    expect(chiSquared([...counts.values()])).toBeLessThan(16.27); // 3 degrees of freedom, p = 0.001
    expect(Array.from({ length: 1000 }, () => p.chance(0)).some(Boolean)).toBe(false);
    expect(Array.from({ length: 1000 }, () => p.chance(1)).every(Boolean)).toBe(true);
    const hits = Array.from({ length: 10_000 }, () => p.chance(0.3)).filter(Boolean).length;
    expect(Math.abs(hits - 3000)).toBeLessThan(200); // about 4.4 standard deviations (sd 45.8)
  });

  it.each([1, 2, 99, -5, 2 ** 40])('spreads next() uniformly (seed %d)', (seed) => {
    const p = new Prng(seed);
    const bins = new Array<number>(20).fill(0);
    let sum = 0;
    const n = 50_000;
    for (let i = 0; i < n; i++) {
      const x = p.next();
      bins[Math.floor(x * 20)]!++;
      sum += x;
    }
    expect(chiSquared(bins)).toBeLessThan(43.82); // 19 degrees of freedom, p = 0.001
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.006); // sd of the mean is 0.0013
    // Successive draws are not correlated.
    const xs = draws(p, 20_001);
    expect(Math.abs(correlation(xs.slice(0, -1), xs.slice(1)))).toBeLessThan(0.03);
  });

  it('spreads below() uniformly over a range that is not a power of two', () => {
    const p = new Prng(11);
    const counts = new Array<number>(7).fill(0);
    for (let i = 0; i < 35_000; i++) counts[p.below(7)]!++;
    expect(chiSquared(counts)).toBeLessThan(22.46); // 6 degrees of freedom, p = 0.001
  });
});

describe('randomSeed', () => {
  it('is a non-negative safe integer that a Prng takes', () => {
    for (let i = 0; i < 100; i++) {
      const s = randomSeed();
      expect(Number.isSafeInteger(s) && s >= 0 && s < 2 ** 31).toBe(true);
      expect(() => new Prng(s)).not.toThrow();
    }
  });
});

const KNOWN_SEED_1: readonly number[] = [1828152527, 3394835397, 2967886022, 2251045104];
const KNOWN_FORK_SEED = 7283015079070764;
