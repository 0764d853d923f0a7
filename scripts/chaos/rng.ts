// A small seeded PRNG (mulberry32) so a chaos run's choices can be replayed from its
// printed seed. Which node is leader at a given moment still depends on real timing,
// so a seed replays the *schedule of choices*, not every interleaving.

export class SeededRandom {
  private state: number;

  constructor(readonly seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed (${seed}) must be a non-negative safe integer`);
    // Fold the high bits in, so seeds above 2^32 do not collide with their low half.
    this.state = (seed ^ Math.floor(seed / 0x1_0000_0000)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  }

  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max < min)
      throw new RangeError(`int(${min}, ${max}): need integers with min <= max`);
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick() from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /**
   * An independent stream for one concern (the workload, the faults), so that the
   * number of draws one of them makes never shifts the other's sequence.
   */
  fork(label: string): SeededRandom {
    let h = 0x811c9dc5;
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
    return new SeededRandom((this.int(0, 0x7fff_ffff) ^ h) >>> 0);
  }
}

/** A fresh seed for runs that were not given one (printed, so the run can be replayed). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 0x7fff_ffff);
}
