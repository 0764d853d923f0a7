// Section 4: SIGKILL the leader under transaction load, several times. Recovery
// time is from the kill to the end of the first transaction that *started*
// after the kill and succeeded: a request already in flight could not prove
// that a new leader decides transactions. The killed node is restarted on its
// data folder and caught up before the next kill.
import { errorMessage, type BenchContext } from './context.js';
import { runClosedLoop, sleep, type Operation } from './load.js';
import type { LeaderTarget } from './leader-target.js';
import type { RatifyCluster } from './ratify-cluster.js';
import type { FailoverKill, FailoverSection } from './results.js';

/** Steady load before each kill, so the kill lands on a busy leader with a warm pipeline. */
const STEADY_MS = 2000;
const RECOVERY_TIMEOUT_MS = 30_000;
const CATCH_UP_TIMEOUT_MS = 60_000;

interface KillWatch {
  killNs: bigint;
  failed: number;
  resolve: ((recoveryNs: bigint) => void) | null;
}

export async function runFailover(
  ctx: BenchContext,
  cluster: RatifyCluster,
  target: LeaderTarget,
  txOp: Operation,
): Promise<FailoverSection> {
  const concurrency = ctx.opts.failoverConcurrency;
  const kills: FailoverKill[] = [];
  const abort = new AbortController();
  let watch: KillWatch | null = null;

  const op: Operation = async (c) => {
    try {
      await txOp(c);
    } catch (err) {
      if (watch !== null) watch.failed += 1;
      throw err;
    }
    const w = watch;
    if (w?.resolve !== undefined && w.resolve !== null && c.startNs > w.killNs) {
      w.resolve(process.hrtime.bigint() - w.killNs);
      w.resolve = null;
    }
  };
  const load = runClosedLoop({
    label: 'ratify failover',
    concurrency,
    durationMs: 0,
    warmupMs: 0,
    signal: abort.signal,
    errorBackoffMs: 20,
    progress: ctx.progress,
    op,
  });
  try {
    for (let i = 0; i < ctx.opts.kills; i++) {
      await sleep(STEADY_MS);
      const leader = await cluster.waitForStableLeader(CATCH_UP_TIMEOUT_MS, { caughtUp: false });
      const w: KillWatch = { killNs: 0n, failed: 0, resolve: null };
      const recovered = new Promise<bigint | null>((resolve) => {
        w.resolve = resolve;
        setTimeout(() => resolve(null), RECOVERY_TIMEOUT_MS).unref();
      });
      w.killNs = process.hrtime.bigint();
      watch = w;
      await cluster.kill(leader);
      void target.refresh();
      const recoveryNs = await recovered;
      w.resolve = null;
      watch = null;
      const newLeader = await cluster.leader();
      const recoveryMs = recoveryNs === null ? null : Number(recoveryNs) / 1e6;
      ctx.progress.note(
        `kill ${i + 1}: ${leader.id} -> ${newLeader?.id ?? 'none'}, recovered in ${recoveryMs?.toFixed(1) ?? 'TIMEOUT'} ms`,
      );
      const restartSnapshotsInstalled = await restart(cluster, leader.id);
      kills.push({ killed: leader.id, newLeader: newLeader?.id ?? null, recoveryMs, failedRequests: w.failed, restartSnapshotsInstalled });
    }
    return { status: 'ok', reason: null, concurrency, kills, ...stats(kills), peakRssBytes: null };
  } catch (err) {
    return { status: 'failed', reason: errorMessage(err), concurrency, kills, ...stats(kills), peakRssBytes: null };
  } finally {
    abort.abort();
    await load;
  }
}

/** Restarts `id` and waits until it caught up; returns the snapshots it installed meanwhile (null: unknown). */
async function restart(cluster: RatifyCluster, id: string): Promise<number | null> {
  const node = cluster.nodes.find((n) => n.id === id);
  if (node === undefined) throw new Error(`unknown node ${id}`);
  const leader = await cluster.leader();
  const view = leader === null ? null : await cluster.view(leader);
  cluster.launch(node);
  await cluster.waitCaughtUp(node, view?.commitIndex ?? 0, CATCH_UP_TIMEOUT_MS);
  // A fresh process: its counter holds this incarnation's installs only.
  return cluster.metric(node, 'ratify_raft_snapshots_installed_total');
}

/** How a kill's restarted node caught up: `log`, `snapshot (N)`, or `-` when unknown (an older run). */
export function caughtUpBy(kill: FailoverKill): string {
  const n = kill.restartSnapshotsInstalled;
  if (n === undefined || n === null) return '-';
  return n === 0 ? 'log' : `snapshot (${n})`;
}

/**
 * p50 (nearest rank) and max over all kills, a kill that never recovered
 * counting as infinitely slow: it makes max null, and p50 null if it is the median.
 */
export function stats(kills: readonly FailoverKill[]): { p50Ms: number | null; maxMs: number | null } {
  if (kills.length === 0) return { p50Ms: null, maxMs: null };
  const times = kills.map((k) => k.recoveryMs ?? Number.POSITIVE_INFINITY).sort((a, b) => a - b);
  const finite = (v: number | undefined): number | null => (v === undefined || !Number.isFinite(v) ? null : v);
  return { p50Ms: finite(times[Math.ceil(0.5 * times.length) - 1]), maxMs: finite(times[times.length - 1]) };
}
