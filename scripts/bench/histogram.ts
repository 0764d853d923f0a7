// A log-linear latency histogram (HdrHistogram's layout, simplified).
//
// WHY not an array of samples: a phase at 10k ops/s for a minute is 600k
// samples per series, and failover runs collect several series at once. Buckets
// keep memory fixed (about 5k counters) whatever the run length, merge in O(1)
// per bucket, and still give every percentile within 1/SUB_BUCKETS relative.

/** Linear sub-buckets per power of two: relative error at most 1/128 (< 0.8%). */
const SUB_BUCKETS = 128;
/** Octaves covered above 1 µs: 2^40 µs is about 12 days, far past any request. */
const OCTAVES = 40;
const BUCKET_COUNT = SUB_BUCKETS * (OCTAVES + 1);

export interface LatencySummary {
  readonly count: number;
  readonly minMs: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

export class Histogram {
  private readonly counts = new Float64Array(BUCKET_COUNT);
  private total = 0;
  private sumUs = 0;
  private minUs = Number.POSITIVE_INFINITY;
  private maxUs = 0;

  get count(): number {
    return this.total;
  }

  /** Records one latency in microseconds (negative or non-finite values are programmer errors). */
  recordUs(valueUs: number): void {
    if (!Number.isFinite(valueUs) || valueUs < 0) {
      throw new RangeError(`latency (${valueUs} µs) must be a finite number >= 0`);
    }
    const index = bucketIndex(valueUs);
    this.counts[index] = (this.counts[index] ?? 0) + 1;
    this.total += 1;
    this.sumUs += valueUs;
    if (valueUs < this.minUs) this.minUs = valueUs;
    if (valueUs > this.maxUs) this.maxUs = valueUs;
  }

  /** Records the time between two process.hrtime.bigint() readings. */
  recordSpanNs(startNs: bigint, endNs: bigint): void {
    this.recordUs(Number(endNs - startNs) / 1000);
  }

  merge(other: Histogram): void {
    for (let i = 0; i < BUCKET_COUNT; i++) {
      const c = other.counts[i] ?? 0;
      if (c !== 0) this.counts[i] = (this.counts[i] ?? 0) + c;
    }
    this.total += other.total;
    this.sumUs += other.sumUs;
    this.minUs = Math.min(this.minUs, other.minUs);
    this.maxUs = Math.max(this.maxUs, other.maxUs);
  }

  /**
   * Nearest-rank percentile (p in [0, 100]) in microseconds: the smallest
   * recorded value v such that at least p% of samples are <= v, up to bucket
   * precision. Rank 1 and rank n are the exact min and max.
   */
  percentileUs(p: number): number {
    if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile (${p}) must be between 0 and 100`);
    if (this.total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    if (rank === 1) return this.minUs;
    if (rank === this.total) return this.maxUs;
    let seen = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return clamp(bucketMidUs(i), this.minUs, this.maxUs);
    }
    return this.maxUs;
  }

  summary(): LatencySummary {
    const ms = (us: number): number => (Number.isNaN(us) ? Number.NaN : us / 1000);
    return {
      count: this.total,
      minMs: this.total === 0 ? Number.NaN : ms(this.minUs),
      meanMs: this.total === 0 ? Number.NaN : ms(this.sumUs / this.total),
      p50Ms: ms(this.percentileUs(50)),
      p90Ms: ms(this.percentileUs(90)),
      p99Ms: ms(this.percentileUs(99)),
      p999Ms: ms(this.percentileUs(99.9)),
      maxMs: this.total === 0 ? Number.NaN : ms(this.maxUs),
    };
  }
}

/** Bucket 0..127 holds [0, 128) µs linearly; each later octave has 128 equal slices. */
export function bucketIndex(valueUs: number): number {
  if (valueUs < SUB_BUCKETS) return Math.floor(valueUs);
  const octave = Math.min(OCTAVES, Math.floor(Math.log2(valueUs / SUB_BUCKETS)) + 1);
  const base = SUB_BUCKETS * 2 ** (octave - 1);
  // Math.log2 may round across an octave edge; the clamp keeps the slice in range.
  const slice = clamp(Math.floor((valueUs - base) / (base / SUB_BUCKETS)), 0, SUB_BUCKETS - 1);
  return octave * SUB_BUCKETS + slice;
}

function bucketMidUs(index: number): number {
  if (index < SUB_BUCKETS) return index + 0.5;
  const octave = Math.floor(index / SUB_BUCKETS);
  const slice = index % SUB_BUCKETS;
  const base = SUB_BUCKETS * 2 ** (octave - 1);
  const width = base / SUB_BUCKETS;
  return base + (slice + 0.5) * width;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
