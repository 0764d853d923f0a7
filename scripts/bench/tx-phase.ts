// Section 1 (and 4, 5 on the same cluster): one-shot 2PC transactions with two
// fast participants, then a fill up to the retained-transaction count, memory and
// disk, and finally the leader kills.
import { randomUUID } from 'node:crypto';
import { errorMessage, type BenchContext } from './context.js';
import { PAIRED_CONCURRENCY, type EtcdBaseline } from './etcd-phase.js';
import { runFailover } from './failover.js';
import { Histogram } from './histogram.js';
import { runClosedLoop, sleep, type Operation } from './load.js';
import { LeaderTarget } from './leader-target.js';
import { Participants } from './participants.js';
import { RatifyCluster } from './ratify-cluster.js';
import { measureClosedLoop } from './node-stats.js';
import { primeCluster } from './prime.js';
import { runPaired, type RatifyPhase } from './paired-run.js';
import { pooledSeries, toSeries, type FailoverSection, type TxRun, type TxSection } from './results.js';
import { medianPhaseNodes, nodeResources, RESUME_TIMEOUT_MS } from './writes-phase.js';
import { HttpStatusError } from './http.js';

/** How long to wait after a phase for participants to receive every commit call. */
const ACK_WAIT_MS = 10_000;
const FILL_CONCURRENCY = 64;

export interface TxOutcome {
  readonly tx: TxSection;
  readonly failover: FailoverSection;
}

/** Counts every transaction the cluster finished (priming, warm-up and fill included) for disk bytes per tx. */
interface TxCounter {
  finished: number;
}

export function skippedFailover(reason: string, concurrency: number): FailoverSection {
  return { status: 'skipped', reason, concurrency, kills: [], p50Ms: null, maxMs: null, peakRssBytes: null };
}

export const TX_STAGE = 'ratify tx';

export async function runTxSections(ctx: BenchContext, etcd: EtcdBaseline | null): Promise<TxOutcome> {
  const runs: TxRun[] = [];
  const counter: TxCounter = { finished: 0 };
  let cluster: RatifyCluster | null = null;
  let participants: Participants | null = null;
  let pairs: TxSection['pairs'] = null;
  let tx: TxSection = { status: 'failed', reason: 'not started', runs, finishedTx: 0, nodes: [], diskBytesPerTx: null };
  let failover = skippedFailover('the transaction section did not complete', ctx.opts.failoverConcurrency);
  try {
    ctx.progress.note('starting 2 participants and a 3-node Ratify cluster for transactions');
    participants = await Participants.start(ctx.sup, 2, ctx.sup.tempDir('ratify-bench-participants-'));
    cluster = await RatifyCluster.start(
      {
        cliPath: ctx.cliPath,
        size: 3,
        extraArgs: ctx.opts.nodeArgs,
        nodeFlags: ctx.opts.nodeFlags,
        label: 'tx',
        cpuProfDir: ctx.opts.cpuProfDir,
        allocProfDir: ctx.opts.allocProfDir,
      },
      ctx.sup,
      ctx.http,
    );
    const c = cluster;
    const p = participants;
    ctx.stage.add(TX_STAGE, () => [...c.processes(), p.process]);
    ctx.stage.focus(TX_STAGE);
    const target = await LeaderTarget.discover(cluster);
    await primeCluster(ctx, 'ratify tx', txOp(ctx, target, p.urls, counter, null));
    for (const concurrency of ctx.opts.concurrency) {
      if (etcd !== null && concurrency === PAIRED_CONCURRENCY) {
        let index = 0;
        const phases: Array<{ run: TxRun; acks: Histogram }> = [];
        const paired = await runPaired(ctx, etcd, TX_STAGE, 'ratify tx', 'two-put tx', async (): Promise<RatifyPhase> => {
          await c.waitForStableLeader(RESUME_TIMEOUT_MS, { caughtUp: false });
          await target.refresh();
          index += 1;
          const run = await txRun(ctx, c, target, p, counter, concurrency, ` #${index}`);
          phases.push(run);
          return run.phase;
        });
        pairs = paired.comparison;
        runs.push(pooledTxRun(phases, paired.ratify, pairs));
        continue;
      }
      runs.push((await txRun(ctx, cluster, target, p, counter, concurrency, '')).run);
    }
    await fill(ctx, target, p, counter);
    const nodes = nodeResources(ctx, cluster);
    const perTx = counter.finished > 0 ? nodes.reduce((a, n) => a + n.diskBytes, 0) / nodes.length / counter.finished : null;
    tx = { status: 'ok', reason: null, runs, finishedTx: counter.finished, nodes, diskBytesPerTx: perTx, pairs };
    if (ctx.opts.skipFailover) {
      failover = skippedFailover('--skip-failover', ctx.opts.failoverConcurrency);
    } else {
      failover = await runFailover(ctx, cluster, target, txOp(ctx, target, p.urls, counter, null));
      // Restarted nodes catch up by snapshot; their peak is reported apart from the steady-state one above.
      const peaks = nodeResources(ctx, cluster).map((n) => n.peakRssBytes ?? 0);
      failover = { ...failover, peakRssBytes: Math.max(0, ...peaks) || null };
    }
  } catch (err) {
    ctx.progress.note(`transactions failed: ${errorMessage(err)}`);
    if (tx.status !== 'ok') tx = { ...tx, reason: errorMessage(err), finishedTx: counter.finished, pairs };
    else failover = { ...failover, status: 'failed', reason: errorMessage(err) };
  } finally {
    ctx.stage.remove(TX_STAGE);
    if (cluster !== null) await cluster.stop();
    if (participants !== null) await participants.stop(ctx.sup);
  }
  return { tx, failover };
}

/**
 * One-shot transaction: POST with commit: true; the 200 means the decision is
 * durable. `started` (when given) maps the transaction id to the POST's start,
 * for the acknowledgement latency. With `idempotencyKeys`, each POST carries a
 * fresh random Idempotency-Key, as the SDK's create() sends by default (the
 * memory probe's --idempotency-keys; the benchmark's phases send none).
 */
export function txOp(
  ctx: BenchContext,
  target: LeaderTarget,
  urls: readonly string[],
  counter: TxCounter,
  started: Map<string, bigint> | null,
  idempotencyKeys = false,
): Operation {
  const participants = urls.map((url, i) => ({ name: `p${i + 1}`, url }));
  return async ({ startNs, measureStartNs }) => {
    let body: unknown;
    try {
      const headers = idempotencyKeys ? { 'idempotency-key': randomUUID() } : undefined;
      body = await ctx.http.ok(target.url, 'POST', '/v1/transactions', { participants, commit: true }, headers);
    } catch (err) {
      void target.refresh();
      throw err;
    }
    const view = body as { id?: unknown; outcome?: unknown };
    if (view.outcome !== 'committed' || typeof view.id !== 'string') {
      throw new HttpStatusError(200, body, `transaction ended ${String(view.outcome)}, not committed:`);
    }
    counter.finished += 1;
    if (started !== null && process.hrtime.bigint() >= measureStartNs) started.set(view.id, startNs);
  };
}

async function txRun(
  ctx: BenchContext,
  cluster: RatifyCluster,
  target: LeaderTarget,
  participants: Participants,
  counter: TxCounter,
  concurrency: number,
  suffix: string,
): Promise<{ run: TxRun; phase: RatifyPhase; acks: Histogram }> {
  await participants.reset();
  const started = new Map<string, bigint>();
  const { result, nodes } = await measureClosedLoop(
    ctx,
    cluster,
    `ratify tx c=${concurrency}${suffix}`,
    concurrency,
    txOp(ctx, target, participants.urls, counter, started),
  );
  const acks = await collectAcks(participants, started);
  const run: TxRun = {
    concurrency,
    tx: toSeries(result),
    acks: acks.histogram.summary(),
    acksMissing: started.size,
    participantAborts: acks.aborts,
    nodes,
  };
  return { run, phase: { result, nodes }, acks: acks.histogram };
}

/** The concurrency-1 row from its alternating phases: latencies pooled, node counters of the median pair. */
function pooledTxRun(
  measured: ReadonlyArray<{ run: TxRun; acks: Histogram }>,
  phases: readonly RatifyPhase[],
  pairs: NonNullable<TxSection['pairs']>,
): TxRun {
  const acks = new Histogram();
  for (const m of measured) acks.merge(m.acks);
  const runs = measured.map((m) => m.run);
  const first = runs[0];
  const tx = pooledSeries(phases.map((p) => p.result));
  if (first === undefined || tx === null) throw new Error('no concurrency-1 transaction phase ran');
  return {
    concurrency: first.concurrency,
    tx,
    acks: acks.summary(),
    acksMissing: runs.reduce((a, r) => a + r.acksMissing, 0),
    participantAborts: runs.reduce((a, r) => a + r.participantAborts, 0),
    nodes: medianPhaseNodes(phases, pairs),
  };
}

/** Matches commit arrivals to POST starts; what is left in `started` never got every ack. */
async function collectAcks(participants: Participants, started: Map<string, bigint>): Promise<{ histogram: Histogram; aborts: number }> {
  const histogram = new Histogram();
  const deadline = Date.now() + ACK_WAIT_MS;
  let aborts = 0;
  for (;;) {
    const drain = await participants.drain();
    aborts = drain.aborts;
    for (const [txId, lastNs] of drain.complete) {
      const startNs = started.get(txId);
      if (startNs === undefined) continue; // A warm-up transaction.
      started.delete(txId);
      histogram.recordSpanNs(startNs, BigInt(lastNs));
    }
    if (started.size === 0 || Date.now() >= deadline) return { histogram, aborts };
    await sleep(100);
  }
}

/** Runs transactions until the cluster has finished `fillTx` of them, so memory is measured at that size. */
async function fill(ctx: BenchContext, target: LeaderTarget, participants: Participants, counter: TxCounter): Promise<void> {
  const missing = ctx.opts.fillTx - counter.finished;
  if (missing <= 0) return;
  ctx.progress.note(
    `filling the cluster to ${ctx.opts.fillTx.toLocaleString('en-US')} finished transactions (${missing.toLocaleString('en-US')} to go)`,
  );
  const result = await runClosedLoop({
    label: 'ratify fill',
    concurrency: FILL_CONCURRENCY,
    durationMs: 0,
    warmupMs: 0,
    countMax: missing,
    signal: AbortSignal.timeout(ctx.opts.fillMaxSec * 1000),
    errorBackoffMs: 10,
    progress: ctx.progress,
    op: txOp(ctx, target, participants.urls, counter, null),
  });
  if (result.ok < missing) {
    ctx.progress.note(
      `fill stopped after --fill-max ${ctx.opts.fillMaxSec} s at ${counter.finished.toLocaleString('en-US')} finished transactions`,
    );
  }
  await participants.reset();
}
