// A fixed set of exponential latency bins: a constant-size histogram from which
// the dashboard reads p50/p90/p99 of one sample window.
//
// Why bins and not the raw latencies: a window can hold any number of decisions
// (thousands a second under load) and the series keeps hundreds of windows, so
// raw lists would grow with throughput. 64 bins of growth 1.25 cover 0.5 ms to
// about 1.3 hours; a percentile read from them is the upper bound of its bin, at
// most 25 % above the true value, which is plenty for a chart. The maximum is
// kept exactly.

/** Upper bound of the first bin. */
const FIRST_BOUND_MS = 0.5;
const GROWTH = 1.25;
export const LATENCY_BIN_COUNT = 64;

const BOUNDS_MS: readonly number[] = Array.from({ length: LATENCY_BIN_COUNT }, (_, i) => FIRST_BOUND_MS * GROWTH ** i);

export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export class LatencyBins {
  private readonly counts = new Uint32Array(LATENCY_BIN_COUNT);
  private total = 0;
  private maxMs = 0;

  add(latencyMs: number): void {
    const ms = Number.isFinite(latencyMs) && latencyMs > 0 ? latencyMs : 0;
    this.counts[binOf(ms)]! += 1;
    this.total += 1;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  get count(): number {
    return this.total;
  }

  /** Null when the window saw no decision. Percentiles are bin upper bounds, capped at the exact maximum. */
  summary(): LatencySummary | null {
    if (this.total === 0) return null;
    const at = (q: number): number => round(Math.min(this.quantileBound(q), this.maxMs));
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: round(this.maxMs) };
  }

  private quantileBound(q: number): number {
    // Nearest rank: the smallest bin whose cumulative count reaches ceil(q * total).
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < LATENCY_BIN_COUNT; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return BOUNDS_MS[i]!;
    }
    return this.maxMs; // only latencies past the last bound remain
  }
}

/** Index of the first bin whose upper bound is >= ms; the last bin takes everything beyond. */
export function binOf(ms: number): number {
  if (ms <= FIRST_BOUND_MS) return 0;
  const i = Math.ceil(Math.log(ms / FIRST_BOUND_MS) / Math.log(GROWTH));
  // Guard the float edge (ms exactly on a bound may compute one too high).
  const j = i > 0 && BOUNDS_MS[i - 1]! >= ms ? i - 1 : i;
  return Math.min(j, LATENCY_BIN_COUNT - 1);
}

const round = (ms: number): number => Math.round(ms * 10) / 10;
