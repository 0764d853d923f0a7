// The slowest operations of a phase, with when each ran, so the report can say
// what they ran into (disk-stalls.ts): a histogram keeps how long operations
// took, not when. Bounded: a min-heap of the SLOWEST_SPANS_MAX slowest, so a
// phase of any length costs the same memory, and an operation faster than the
// slowest kept so far costs one comparison.

/** Enough for the slowest 1 % of a 200,000-operation phase. */
export const SLOWEST_SPANS_MAX = 2000;

/** One operation: process.hrtime.bigint() readings, as numbers (exact below 2^53 ns, 104 days of uptime). */
export interface Span {
  readonly startNs: number;
  readonly endNs: number;
}

export class SlowestSpans {
  // Parallel arrays for a heap ordered by duration, the shortest at 0.
  private readonly starts: Float64Array;
  private readonly ends: Float64Array;
  private size = 0;

  constructor(readonly capacity = SLOWEST_SPANS_MAX) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity (${capacity}) must be a positive integer`);
    this.starts = new Float64Array(capacity);
    this.ends = new Float64Array(capacity);
  }

  get count(): number {
    return this.size;
  }

  offer(startNs: bigint, endNs: bigint): void {
    const s = Number(startNs);
    const e = Number(endNs);
    if (this.size < this.capacity) {
      this.starts[this.size] = s;
      this.ends[this.size] = e;
      this.size += 1;
      this.up(this.size - 1);
      return;
    }
    if (e - s <= this.duration(0)) return;
    this.starts[0] = s;
    this.ends[0] = e;
    this.down(0);
  }

  /** The `n` slowest kept, slowest first (fewer when fewer were kept). */
  slowest(n: number): Span[] {
    const all: Span[] = [];
    for (let i = 0; i < this.size; i++) all.push({ startNs: this.starts[i] ?? 0, endNs: this.ends[i] ?? 0 });
    all.sort((a, b) => b.endNs - b.startNs - (a.endNs - a.startNs));
    return all.slice(0, Math.max(0, n));
  }

  private duration(i: number): number {
    return (this.ends[i] ?? 0) - (this.starts[i] ?? 0);
  }

  private swap(i: number, j: number): void {
    const s = this.starts[i] ?? 0;
    const e = this.ends[i] ?? 0;
    this.starts[i] = this.starts[j] ?? 0;
    this.ends[i] = this.ends[j] ?? 0;
    this.starts[j] = s;
    this.ends[j] = e;
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.duration(parent) <= this.duration(i)) return;
      this.swap(parent, i);
      i = parent;
    }
  }

  private down(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let least = i;
      if (l < this.size && this.duration(l) < this.duration(least)) least = l;
      if (r < this.size && this.duration(r) < this.duration(least)) least = r;
      if (least === i) return;
      this.swap(least, i);
      i = least;
    }
  }
}
