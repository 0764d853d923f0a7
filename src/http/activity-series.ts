// The last few minutes of one node's activity, in fixed time windows, for the
// dashboard's throughput and latency charts (GET /v1/stats).
//
// A window is [k * intervalMs, (k + 1) * intervalMs) on this node's clock, and the
// series keeps the newest windowsMax of them in a ring: memory is fixed whatever
// the throughput. A decision goes into the window of its decidedAt, not of the
// moment this node applied it, so a follower that applies a little later, or a
// node catching up after a restart, still draws the decision where it happened.
// decidedAt is the leader's clock: a skew between the clocks shifts points by that
// much, and a decision stamped "in the future" of this clock counts in the current
// window. The Raft fields are what this node saw at its last tick in the window.
import { LatencyBins, type LatencySummary } from './latency-bins.js';

export interface RaftSample {
  readonly term: number;
  readonly leaderId: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
}

export interface SeriesSample {
  /** Start of the window, ms since the epoch. */
  readonly atMs: number;
  /** Decisions whose decidedAt falls in the window. */
  readonly committed: number;
  readonly aborted: number;
  /** From creation to the durable decision, over those decisions; null when there were none. */
  readonly decisionLatencyMs: LatencySummary | null;
  /** Null when the node did not tick in the window (it was not running yet). */
  readonly raft: RaftSample | null;
}

export interface ActivitySeriesOptions {
  readonly intervalMs: number;
  readonly windowsMax: number;
}

/** Bounds on the series' shape, checked when it is built. */
export const SERIES_INTERVAL_MS_RANGE = [100, 60_000] as const;
export const SERIES_WINDOWS_MAX_RANGE = [2, 10_000] as const;

class Window {
  committed = 0;
  aborted = 0;
  readonly latency = new LatencyBins();
  raft: RaftSample | null = null;
  constructor(readonly index: number) {}
}

export class ActivitySeries {
  readonly intervalMs: number;
  readonly windowsMax: number;
  // Invariant: a slot holds the window whose index is congruent to the slot, or null.
  private readonly slots: Array<Window | null>;

  constructor(opts: ActivitySeriesOptions) {
    checkRange('intervalMs', opts.intervalMs, SERIES_INTERVAL_MS_RANGE);
    checkRange('windowsMax', opts.windowsMax, SERIES_WINDOWS_MAX_RANGE);
    this.intervalMs = opts.intervalMs;
    this.windowsMax = opts.windowsMax;
    this.slots = Array.from({ length: opts.windowsMax }, () => null);
  }

  /** A decision this node applied; dropped when it lies before the oldest window kept. */
  recordDecision(
    d: { readonly outcome: 'committed' | 'aborted'; readonly decidedAtMs: number; readonly latencyMs: number },
    nowMs: number,
  ): void {
    const current = this.indexOf(nowMs);
    const index = Math.min(this.indexOf(d.decidedAtMs), current);
    if (index <= current - this.windowsMax) return;
    const w = this.window(index);
    if (d.outcome === 'committed') w.committed += 1;
    else w.aborted += 1;
    w.latency.add(d.latencyMs);
  }

  /** What the node's Raft state is now; the last call within a window wins. */
  recordRaft(raft: RaftSample, nowMs: number): void {
    this.window(this.indexOf(nowMs)).raft = raft;
  }

  /** The windows kept, oldest first; windows nothing touched are left out. */
  samples(nowMs: number): SeriesSample[] {
    const current = this.indexOf(nowMs);
    const out: SeriesSample[] = [];
    for (let index = current - this.windowsMax + 1; index <= current; index++) {
      const w = this.slots[this.slotOf(index)];
      if (w === null || w === undefined || w.index !== index) continue;
      out.push({
        atMs: index * this.intervalMs,
        committed: w.committed,
        aborted: w.aborted,
        decisionLatencyMs: w.latency.summary(),
        raft: w.raft,
      });
    }
    return out;
  }

  private window(index: number): Window {
    const slot = this.slotOf(index);
    const existing = this.slots[slot];
    if (existing !== null && existing !== undefined && existing.index === index) return existing;
    const fresh = new Window(index);
    this.slots[slot] = fresh;
    return fresh;
  }

  private indexOf(ms: number): number {
    return Math.floor(ms / this.intervalMs);
  }

  private slotOf(index: number): number {
    return ((index % this.windowsMax) + this.windowsMax) % this.windowsMax;
  }
}

function checkRange(name: string, value: number, [min, max]: readonly [number, number]): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} (${value}) must be an integer in [${min}, ${max}]`);
  }
}
