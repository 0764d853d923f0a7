// The knobs that size a proof refuse to shrink it: zero anywhere, below the floor under
// CI=true, and anything that is not an integer.
import { describe, expect, it } from 'vitest';
import { countKnob, seedKnob, seedListKnob, underCi } from './env-knob.js';

describe('countKnob', () => {
  it('uses the designed size when unset or empty', () => {
    expect(countKnob('SIM_SEEDS', { fallback: 4000 }, {})).toBe(4000);
    expect(countKnob('SIM_SEEDS', { fallback: 4000 }, { SIM_SEEDS: '' })).toBe(4000);
  });

  it('lets a local run shrink or grow, but never to zero', () => {
    expect(countKnob('SIM_SEEDS', { fallback: 4000 }, { SIM_SEEDS: '10' })).toBe(10);
    expect(countKnob('SIM_SEEDS', { fallback: 4000 }, { SIM_SEEDS: '20000' })).toBe(20000);
    expect(() => countKnob('SIM_SEEDS', { fallback: 4000 }, { SIM_SEEDS: '0' })).toThrow('SIM_SEEDS (0) must be at least 1');
    expect(countKnob('SIM_TRACE_LINES', { fallback: 60, min: 0, ciMin: 0 }, { SIM_TRACE_LINES: '0', CI: 'true' })).toBe(0);
  });

  it('under CI=true refuses a value below the floor, naming the knob, the value and the floor', () => {
    const ci = { CI: 'true' };
    expect(() => countKnob('SIM_SEEDS', { fallback: 4000 }, { ...ci, SIM_SEEDS: '3999' })).toThrow(
      'SIM_SEEDS (3999) is below its floor of 4000 under CI=true',
    );
    expect(() => countKnob('SIM_SEEDS', { fallback: 4000 }, { ...ci, SIM_SEEDS: '0' })).toThrow('SIM_SEEDS (0) must be at least 1');
    expect(() => countKnob('FUZZ_RUNS', { fallback: 400, ciMin: 100 }, { ...ci, FUZZ_RUNS: '99' })).toThrow('below its floor of 100');
    expect(countKnob('SIM_SEEDS', { fallback: 4000 }, { ...ci, SIM_SEEDS: '4000' })).toBe(4000);
    expect(countKnob('SIM_SEEDS', { fallback: 4000 }, { ...ci, SIM_SEEDS: '8000' })).toBe(8000);
    // Only CI=true is CI: anything else is a local run.
    expect(underCi({ CI: '1' })).toBe(false);
    expect(countKnob('SIM_SEEDS', { fallback: 4000 }, { CI: 'false', SIM_SEEDS: '5' })).toBe(5);
  });

  it('refuses what is not an integer', () => {
    for (const bad of ['abc', '1.5', '1e3', '-', '12x', '9007199254740993']) {
      expect(() => countKnob('FUZZ_RUNS', { fallback: 400 }, { FUZZ_RUNS: bad }), bad).toThrow('FUZZ_RUNS');
    }
    expect(() => countKnob('FUZZ_RUNS', { fallback: 400 }, { FUZZ_RUNS: '-3' })).toThrow('must be at least 1');
  });
});

describe('seedKnob and seedListKnob', () => {
  it('take any integer (fast-check prints negative seeds), and the fallback when unset', () => {
    expect(seedKnob('FUZZ_SEED', 7, {})).toBe(7);
    expect(seedKnob('FUZZ_SEED', 7, { FUZZ_SEED: '-1822' })).toBe(-1822);
    expect(() => seedKnob('FUZZ_SEED', 7, { FUZZ_SEED: 'x' })).toThrow('FUZZ_SEED (x) must be an integer');
  });

  it('a seed list refuses an empty or malformed entry instead of running seed 0', () => {
    expect(seedListKnob('RATIFY_CHAOS_SEEDS', [5], {})).toEqual([5]);
    expect(seedListKnob('RATIFY_CHAOS_SEEDS', [5], { RATIFY_CHAOS_SEEDS: '1,2, 3' })).toEqual([1, 2, 3]);
    expect(() => seedListKnob('RATIFY_CHAOS_SEEDS', [5], { RATIFY_CHAOS_SEEDS: '1,,3' })).toThrow(
      'RATIFY_CHAOS_SEEDS () must be an integer',
    );
    expect(() => seedListKnob('RATIFY_CHAOS_SEEDS', [5], { RATIFY_CHAOS_SEEDS: '1;2' })).toThrow('must be an integer');
  });
});
