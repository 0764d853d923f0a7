// Unmeasured load on a freshly started cluster, before its first measured phase.
//
// WHY: a new Node process serves its first few thousand requests with cold
// code (V8 interprets, then tiers hot functions up over seconds, on the same
// two cores the cluster runs on) and a young heap that is still growing. The
// first phase after a start is concurrency 1, where every slow request is on
// the clock: with only the 1 s per-phase warm-up, Ratify writes at c=1 had a
// p99 of 4.6 ms against 2.9 ms after 5 s of load (same machine, same hour).
// A coordinator serves for days; the steady state is what users get. etcd
// gets exactly the same priming, so the comparison stays like for like.
import type { BenchContext } from './context.js';
import { runClosedLoop, type Operation } from './load.js';

export const PRIME_CONCURRENCY = 16;

/** Runs `op` for --prime seconds at PRIME_CONCURRENCY; nothing of it is measured. */
export async function primeCluster(ctx: BenchContext, label: string, op: Operation): Promise<void> {
  const seconds = ctx.opts.primeSec;
  if (seconds <= 0) return;
  ctx.progress.note(`priming ${label}: ${seconds} s of unmeasured load at concurrency ${PRIME_CONCURRENCY}`);
  const result = await runClosedLoop({
    label: `${label} prime`,
    concurrency: PRIME_CONCURRENCY,
    durationMs: seconds * 1000,
    warmupMs: 0,
    errorBackoffMs: 10,
    progress: ctx.progress,
    op,
  });
  if (result.errors > 0) ctx.progress.note(`priming ${label}: ${result.errors} operations failed (${JSON.stringify(result.errorKinds)})`);
}
