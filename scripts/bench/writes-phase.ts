// Section 2: raw replicated writes. Each write is one Raft entry carrying one of
// the records etcd's baseline writes (a transaction record or its decision), so
// both systems replicate the same bytes. Preferred path: the KV state machine
// (`--state-machine kv`, `PUT /v1/kv/:key`); fallback: a transaction with no
// participants through the public API.
import { errorMessage, type BenchContext } from './context.js';
import { FAKE_PARTICIPANTS, PAIRED_CONCURRENCY, type EtcdBaseline } from './etcd-phase.js';
import type { Operation } from './load.js';
import { measureClosedLoop, type NodePhaseStats } from './node-stats.js';
import { primeCluster } from './prime.js';
import { LeaderTarget } from './leader-target.js';
import { RatifyCluster } from './ratify-cluster.js';
import { benchTxId, txRecords } from './records.js';
import { runPaired } from './paired-run.js';
import { directoryBytes, rssBytes } from './resources.js';
import { pooledSeries, toSeries, type NodeResources, type WritesRun, type WritesSection } from './results.js';

export const WRITES_STAGE = 'ratify writes';
/** After an etcd phase the resumed cluster must agree on a leader before it is measured again. */
export const RESUME_TIMEOUT_MS = 30_000;

interface WritePath {
  readonly name: string;
  readonly extraArgs: readonly string[];
  readonly op: (ctx: BenchContext, target: LeaderTarget, concurrency: number) => Operation;
}

const KV_PATH: WritePath = {
  name: 'PUT /v1/kv/:key (--state-machine kv)',
  extraArgs: ['--state-machine', 'kv'],
  op:
    (ctx, target, concurrency) =>
    async ({ worker, seq }) => {
      const r = txRecords(benchTxId(`w${concurrency}`, worker, seq >> 1), FAKE_PARTICIPANTS, Date.now());
      const [key, value] = seq % 2 === 0 ? [r.recordKey, r.record] : [r.decisionKey, r.decision];
      await withRefresh(target, () => ctx.http.ok(target.url, 'PUT', `/v1/kv/${encodeURIComponent(key)}`, { value }));
    },
};

const EMPTY_TX_PATH: WritePath = {
  name: 'POST /v1/transactions (no participants, commit: true)',
  extraArgs: [],
  op: (ctx, target) => async () => {
    await withRefresh(target, () => ctx.http.ok(target.url, 'POST', '/v1/transactions', { participants: [], commit: true }));
  },
};

async function withRefresh(target: LeaderTarget, call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (err) {
    void target.refresh();
    throw err;
  }
}

export async function runWritesSection(ctx: BenchContext, etcd: EtcdBaseline | null): Promise<WritesSection> {
  const paths = ctx.opts.writesPath === 'kv' ? [KV_PATH] : ctx.opts.writesPath === 'tx' ? [EMPTY_TX_PATH] : [KV_PATH, EMPTY_TX_PATH];
  const failures: string[] = [];
  for (const path of paths) {
    const result = await tryPath(ctx, path, etcd);
    if (result.status === 'ok' || result.runs.length > 0) return result;
    failures.push(`${path.name}: ${result.reason ?? 'failed'}`);
    ctx.progress.note(`raw writes through ${path.name} failed: ${result.reason ?? ''}`);
  }
  return { status: 'failed', reason: failures.join('; '), path: null, runs: [], nodes: [] };
}

async function tryPath(ctx: BenchContext, path: WritePath, etcd: EtcdBaseline | null): Promise<WritesSection> {
  const runs: WritesRun[] = [];
  let cluster: RatifyCluster | null = null;
  let pairs: WritesSection['pairs'] = null;
  try {
    ctx.progress.note(`starting a 3-node Ratify cluster for raw writes (${path.name})`);
    cluster = await RatifyCluster.start(
      {
        cliPath: ctx.cliPath,
        size: 3,
        extraArgs: [...path.extraArgs, ...ctx.opts.nodeArgs],
        nodeFlags: ctx.opts.nodeFlags,
        label: 'writes',
        cpuProfDir: ctx.opts.cpuProfDir,
        allocProfDir: ctx.opts.allocProfDir,
      },
      ctx.sup,
      ctx.http,
    );
    const c = cluster;
    ctx.stage.add(WRITES_STAGE, () => c.processes());
    ctx.stage.focus(WRITES_STAGE);
    const target = await LeaderTarget.discover(cluster);
    // One probe write first: a path the node does not serve fails here, not as a phase of errors.
    await path.op(ctx, target, 0)({ worker: 0, seq: 0, startNs: 0n, measureStartNs: 0n });
    await primeCluster(ctx, 'ratify writes', path.op(ctx, target, 0));
    for (const concurrency of ctx.opts.concurrency) {
      const label = `ratify writes c=${concurrency}`;
      if (etcd !== null && concurrency === PAIRED_CONCURRENCY) {
        let index = 0;
        const paired = await runPaired(ctx, etcd, WRITES_STAGE, 'ratify writes', 'put', async () => {
          await c.waitForStableLeader(RESUME_TIMEOUT_MS, { caughtUp: false });
          await target.refresh();
          index += 1;
          // The third argument only names keys: distinct per phase, so no phase overwrites another's.
          return measureClosedLoop(ctx, c, `${label} #${index}`, concurrency, path.op(ctx, target, concurrency * 1000 + index));
        });
        pairs = paired.comparison;
        const writes = pooledSeries(paired.ratify.map((r) => r.result));
        // The node counters of the pooled row are those of the median pair's Ratify phase.
        if (writes !== null) runs.push({ concurrency, writes, nodes: medianPhaseNodes(paired.ratify, pairs) });
        continue;
      }
      const { result, nodes } = await measureClosedLoop(ctx, cluster, label, concurrency, path.op(ctx, target, concurrency));
      runs.push({ concurrency, writes: toSeries(result), nodes });
    }
    return { status: 'ok', reason: null, path: path.name, runs, nodes: nodeResources(ctx, cluster), pairs };
  } catch (err) {
    return { status: 'failed', reason: errorMessage(err), path: path.name, runs, nodes: [], pairs };
  } finally {
    ctx.stage.remove(WRITES_STAGE);
    if (cluster !== null) await cluster.stop();
  }
}

/** The nodes of the Ratify phase whose pair has the median rate ratio (the pooled row's representative). */
export function medianPhaseNodes(
  phases: ReadonlyArray<{ nodes: NodePhaseStats[] }>,
  pairs: { readonly pairs: ReadonlyArray<{ rateRatio: number }> },
): NodePhaseStats[] {
  const order = pairs.pairs.map((p, i) => ({ i, r: p.rateRatio })).sort((a, b) => a.r - b.r);
  const median = order[Math.floor((order.length - 1) / 2)];
  return (median === undefined ? undefined : phases[median.i]?.nodes) ?? phases[0]?.nodes ?? [];
}

/** Peak RSS (over the cluster's life so far, incarnations included), RSS now and data bytes of each node. */
export function nodeResources(ctx: BenchContext, cluster: RatifyCluster): NodeResources[] {
  for (const n of cluster.nodes) if (n.proc !== null) ctx.rss.sample(n.proc.name, n.proc.pid);
  return cluster.nodes.map((n) => ({
    id: n.id,
    peakRssBytes: ctx.rss.peakBytes(cluster.processName(n)),
    rssBytes: n.proc === null ? null : rssBytes(n.proc.pid),
    diskBytes: directoryBytes(n.dataDir),
  }));
}
