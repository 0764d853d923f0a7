// backoffDelayMs: full jitter in [0, min(cap, base * 2^attempt)), with a 1 ms floor.
import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/util/random.js';
import { BACKOFF_FLOOR_MS, backoffDelayMs } from '../../src/tx/backoff.js';

const BASE_MS = 50;
const CAP_MS = 10_000;
const DRAWS = 2_000;

function draws(attempt: number, seed: number): number[] {
  const random = new Prng(seed).asFunction();
  return Array.from({ length: DRAWS }, () => backoffDelayMs(attempt, BASE_MS, CAP_MS, random));
}

describe('backoffDelayMs', () => {
  it('uses the whole range from the floor up: full jitter, not base plus jitter', () => {
    // random() = 0 gives the floor, not the base
    expect(backoffDelayMs(0, BASE_MS, CAP_MS, () => 0)).toBe(BACKOFF_FLOOR_MS);
    expect(backoffDelayMs(5, BASE_MS, CAP_MS, () => 0)).toBe(BACKOFF_FLOOR_MS);
    const first = draws(0, 1);
    // attempt 0 draws from [0, base): a sizeable share lands below base / 2
    expect(first.filter((d) => d < BASE_MS / 2).length).toBeGreaterThan(DRAWS / 4);
  });

  it.each([1, 2, 3, 42])('stays within [floor, min(cap, base * 2^attempt)) for every attempt (seed %i)', (seed) => {
    const random = new Prng(seed).asFunction();
    for (let attempt = 0; attempt < 40; attempt++) {
      const ceiling = Math.min(CAP_MS, BASE_MS * 2 ** attempt);
      for (let i = 0; i < 200; i++) {
        const d = backoffDelayMs(attempt, BASE_MS, CAP_MS, random);
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(BACKOFF_FLOOR_MS);
        expect(d).toBeLessThan(ceiling);
      }
    }
  });

  it('grows with the attempt until the cap, then stays capped', () => {
    const max = (attempt: number): number => Math.max(...draws(attempt, 7));
    const mean = (attempt: number): number => draws(attempt, 7).reduce((s, d) => s + d, 0) / DRAWS;
    // the upper end of the range doubles per attempt: 50, 100, 200, 400, ...
    for (let attempt = 0; attempt < 7; attempt++) {
      const ceiling = BASE_MS * 2 ** attempt;
      expect(max(attempt)).toBeGreaterThan(ceiling * 0.95);
      expect(max(attempt)).toBeLessThan(ceiling);
      expect(mean(attempt + 1)).toBeGreaterThan(mean(attempt) * 1.5);
    }
    // 50 * 2^8 = 12800 > cap: from attempt 8 on the range is [0, cap)
    for (const attempt of [8, 20, 1_000]) {
      expect(max(attempt)).toBeGreaterThan(CAP_MS * 0.95);
      expect(max(attempt)).toBeLessThan(CAP_MS);
    }
  });

  it('a cap below the base bounds even the first attempt', () => {
    expect(backoffDelayMs(0, 100, 10, () => 0.999)).toBe(9);
  });
});
