// The one seeded pseudo-random generator: sfc32, its 128-bit state filled from the seed
// through splitmix32. Everything that must replay from a printed seed draws from it: the
// Raft core's election jitter (through RaftConfig.random), the simulation's schedules and
// the chaos runs' choices. Pure: no clock, no I/O; the same seed gives the same sequence
// on every platform. Not for cryptography.
//
// sfc32 rather than mulberry32: mulberry32 has 32 bits of state on one cycle of 2^32, so
// every seed's stream is the same sequence at another offset (two forks can overlap) and
// at most 2^32 of the 2^64 pairs of outputs ever occur. sfc32 has 128 bits of state, a
// period of at least 2^32 from any seed (2^127 on average) and passes PractRand.

const TWO_32 = 0x1_0000_0000;

/** Enough to wash any trace of a patterned seed out of the state (the sfc authors' advice). */
const WARM_UP_DRAWS = 12;

/** Largest n for below(n) and span for int(): one 32-bit draw picks among at most 2^32 values. */
const SPAN_MAX = TWO_32;

export class Prng {
  /** What the generator was built from: `new Prng(p.seed)` replays p from its start. */
  readonly seed: number;
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** Any safe integer (negative ones too: fast-check prints them). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed (${seed}) must be a safe integer`);
    this.seed = seed;
    const low = seed >>> 0;
    const high = Math.floor(seed / TWO_32) >>> 0;
    // splitmix32's first output is a bijection of `low` and fmix32 one of `high`, so two
    // different seeds never start from the same state.
    const mix = splitmix32(low);
    this.a = mix();
    this.b = mix();
    this.c = (mix() ^ fmix32(high)) >>> 0;
    this.d = mix();
    for (let i = 0; i < WARM_UP_DRAWS; i++) this.nextUint32();
  }

  /** Uniform in [0, 1): never 1, as RaftConfig.random requires. */
  next(): number {
    return this.nextUint32() / TWO_32;
  }

  /** Uniform integer in [0, n); n a positive integer of at most 2^32. */
  below(n: number): number {
    if (!Number.isSafeInteger(n) || n < 1 || n > SPAN_MAX) throw new RangeError(`below(${n}): need an integer in [1, 2^32]`);
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max < min || max - min + 1 > SPAN_MAX) {
      throw new RangeError(`int(${min}, ${max}): need integers with min <= max, at most 2^32 apart`);
    }
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability p (p <= 0 never, p >= 1 always). */
  chance(p: number): boolean {
    if (Number.isNaN(p)) throw new RangeError('chance(NaN)');
    return this.next() < p;
  }

  /** One of `items`, each equally likely. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick() from an empty list');
    return items[this.below(items.length)] as T;
  }

  /**
   * An independent stream for one consumer (the network, one node's core, the faults),
   * determined by this generator's seed and `label` alone: how many draws this generator
   * or any other fork has made never shifts it, and a fork of a fork depends on the order
   * of the labels.
   */
  fork(label: string): Prng {
    return new Prng(deriveSeed(this.seed, label));
  }

  /** next() as a plain function, for RaftConfig.random. */
  asFunction(): () => number {
    return () => this.next();
  }

  private nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) >>> 0;
    return t;
  }
}

/** A fresh seed for runs that were not given one; print it, so the run can be replayed. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 0x8000_0000);
}

/** A non-negative 53-bit seed from (seed, label): two independent 32-bit hashes joined. */
function deriveSeed(seed: number, label: string): number {
  const low = hashSeedLabel(seed, label, 0x9e37_79b9);
  const high = hashSeedLabel(seed, label, 0x85eb_ca6b) & 0x1f_ffff;
  return high * TWO_32 + low;
}

/** FNV-1a over the label, started from the mixed seed and salt, finished with fmix32. */
function hashSeedLabel(seed: number, label: string, salt: number): number {
  let h = fmix32((salt ^ (seed >>> 0)) >>> 0);
  h = fmix32((h ^ (Math.floor(seed / TWO_32) >>> 0)) >>> 0);
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x0100_0193) >>> 0;
  return fmix32((h ^ label.length) >>> 0);
}

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e37_79b9) >>> 0;
    return fmix32(s);
  };
}

/** MurmurHash3's 32-bit finalizer: a bijection that spreads every input bit over the output. */
function fmix32(x: number): number {
  let z = x >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85eb_ca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2_ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}
