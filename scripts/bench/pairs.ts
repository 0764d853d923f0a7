// Paired phases at concurrency 1: Ratify and etcd alternate (A B A B ...), and
// the ratio quoted is the median of the pairwise ratios. WHY: on a shared
// machine the baseline itself swings by 2x within minutes (README,
// "Performance"); a pair measured back to back sees the same neighbours, and
// the median of several pairs is robust to one pair that did not. Pure.
import type { PhaseDiskStalls } from './disk-stalls.js';
import type { NodePhaseStats } from './node-stats.js';
import type { PhaseCpu } from './proc-cpu.js';

export interface PairSide {
  readonly ratePerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU of every process on the machine during this phase. */
  readonly processCpu?: PhaseCpu | null;
  /** Disk stalls during this phase (disk-stalls.ts); absent in older runs. */
  readonly diskStalls?: PhaseDiskStalls | null;
  /** Ratify's nodes during this phase (CPU, event-loop delay); absent for etcd. */
  readonly nodes?: readonly NodePhaseStats[];
}

export interface Pair {
  readonly ratify: PairSide;
  readonly etcd: PairSide;
  /** Ratify's rate / etcd's: above 1 means Ratify is faster. */
  readonly rateRatio: number;
  /** Ratify's p50 / etcd's: below 1 means Ratify is faster. */
  readonly p50Ratio: number;
}

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export interface PairedComparison {
  readonly concurrency: number;
  /** What etcd's side is: "put" (single puts) or "two-put tx" (record put + decision put). */
  readonly etcdOp: string;
  readonly pairs: readonly Pair[];
  readonly rateRatio: Spread | null;
  readonly p50Ratio: Spread | null;
}

/** Median (the mean of the middle two for an even count), min and max; null for no values. */
export function spread(values: readonly number[]): Spread | null {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return { median, min: sorted[0] ?? 0, max: sorted[sorted.length - 1] ?? 0 };
}

export function makePair(ratify: PairSide, etcd: PairSide): Pair {
  const ratio = (a: number, b: number): number => (b > 0 ? a / b : Number.NaN);
  return { ratify, etcd, rateRatio: ratio(ratify.ratePerSec, etcd.ratePerSec), p50Ratio: ratio(ratify.p50Ms, etcd.p50Ms) };
}

export function comparePairs(concurrency: number, etcdOp: string, pairs: readonly Pair[]): PairedComparison {
  return {
    concurrency,
    etcdOp,
    pairs,
    rateRatio: spread(pairs.map((p) => p.rateRatio)),
    p50Ratio: spread(pairs.map((p) => p.p50Ratio)),
  };
}

export function formatSpread(s: Spread | null): string {
  return s === null ? '-' : `${s.median.toFixed(2)}x (${s.min.toFixed(2)}-${s.max.toFixed(2)})`;
}
