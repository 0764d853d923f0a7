// Concurrency 1, alternating: a Ratify phase, then an etcd phase with Ratify
// paused, --pairs times (pairs.ts says why). Each pair yields the two rates and
// p50s and their ratios; the Ratify phases are pooled for the main table.
import type { BenchContext } from './context.js';
import { PAIRED_CONCURRENCY, type EtcdBaseline, type EtcdPhase } from './etcd-phase.js';
import type { Histogram } from './histogram.js';
import type { LoadResult } from './load.js';
import type { NodePhaseStats } from './node-stats.js';
import { comparePairs, formatSpread, makePair, type Pair, type PairedComparison, type PairSide } from './pairs.js';

export interface RatifyPhase {
  readonly result: LoadResult & { histogram: Histogram };
  readonly nodes: NodePhaseStats[];
}

export interface PairedOutcome {
  readonly ratify: RatifyPhase[];
  readonly comparison: PairedComparison;
}

export async function runPaired(
  ctx: BenchContext,
  etcd: EtcdBaseline,
  stageName: string,
  what: string,
  etcdOp: 'put' | 'two-put tx',
  ratifyPhase: () => Promise<RatifyPhase>,
): Promise<PairedOutcome> {
  const ratify: RatifyPhase[] = [];
  const pairs: Pair[] = [];
  for (let i = 0; i < ctx.opts.pairs; i++) {
    const r = await ratifyPhase();
    ratify.push(r);
    const e = await etcd.measureBetween(PAIRED_CONCURRENCY, stageName);
    const pair = makePair(side(r.result, r.nodes), side(etcdSide(e, etcdOp)));
    pairs.push(pair);
    ctx.progress.note(
      `pair ${i + 1}/${ctx.opts.pairs} (${what} vs etcd ${etcdOp}, c=1): rate ratio ${pair.rateRatio.toFixed(2)}x, p50 ${pair.ratify.p50Ms.toFixed(2)} vs ${pair.etcd.p50Ms.toFixed(2)} ms (${pair.p50Ratio.toFixed(2)}x)`,
    );
  }
  const comparison = comparePairs(PAIRED_CONCURRENCY, etcdOp, pairs);
  ctx.progress.note(
    `${what} vs etcd ${etcdOp} at c=1 over ${pairs.length} pairs: rate ratio ${formatSpread(comparison.rateRatio)}, p50 ratio ${formatSpread(comparison.p50Ratio)} (median (min-max))`,
  );
  return { ratify, comparison };
}

function etcdSide(e: EtcdPhase, op: 'put' | 'two-put tx'): LoadResult {
  return op === 'put' ? e.puts : e.tx;
}

function side(r: LoadResult, nodes?: readonly NodePhaseStats[]): PairSide {
  return {
    ratePerSec: r.ratePerSec,
    p50Ms: r.latency.p50Ms,
    p99Ms: r.latency.p99Ms,
    processCpu: r.processCpu,
    diskStalls: r.diskStalls,
    ...(nodes === undefined ? {} : { nodes }),
  };
}
