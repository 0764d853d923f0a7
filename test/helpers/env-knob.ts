// Environment knobs that size a proof: how many seeds, steps or runs a test checks. A
// knob may make a local run quicker or a soak longer. It may never shrink the proof to
// nothing, and under CI=true it may not shrink it below its floor (by default the size the
// test is designed for), so a green CI run always checked what the test claims. A refused
// value throws at module load, naming the knob, the value and the floor: the file fails
// instead of passing on less.

export type Env = Readonly<Record<string, string | undefined>>;

export function underCi(env: Env): boolean {
  return env['CI'] === 'true';
}

export interface CountKnob {
  /** The designed size, used when the variable is unset or empty. */
  readonly fallback: number;
  /** Least value anywhere (default 1: zero proves nothing). */
  readonly min?: number;
  /** Least value under CI=true (default: the fallback). */
  readonly ciMin?: number;
}

/** A count from `env[name]`, refused below its floor (see the top of this file). */
export function countKnob(name: string, k: CountKnob, env: Env = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return k.fallback;
  const n = integer(name, raw);
  const min = k.min ?? 1;
  if (n < min) throw new Error(`${name} (${raw}) must be at least ${min}: a smaller run proves nothing`);
  const ciMin = k.ciMin ?? k.fallback;
  if (underCi(env) && n < ciMin) {
    throw new Error(
      `${name} (${raw}) is below its floor of ${ciMin} under CI=true: CI may not shrink the proof (unset ${name}, or raise it)`,
    );
  }
  return n;
}

/** A seed from `env[name]` (any integer: fast-check prints negative ones), or the fallback when unset or empty. */
export function seedKnob(name: string, fallback: number, env: Env = process.env): number {
  const raw = env[name];
  return raw === undefined || raw === '' ? fallback : integer(name, raw);
}

function integer(name: string, raw: string): number {
  const n = Number(raw);
  if (!/^\s*-?\d+\s*$/.test(raw) || !Number.isSafeInteger(n)) throw new Error(`${name} (${raw}) must be an integer`);
  return n;
}

/**
 * Seeds listed in `env[name]`, comma-separated ("1,2,3"), or the fallback when unset or
 * empty. An entry that is not an integer is refused: `Number('')` is 0, and a typo would
 * otherwise run seed 0 (or NaN) in place of the one asked for.
 */
export function seedListKnob(name: string, fallback: readonly number[], env: Env = process.env): readonly number[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  return raw.split(',').map((part) => integer(name, part));
}
