// Section 2: raw replicated writes. Each write is one Raft entry carrying one of
// the records etcd's baseline writes (a transaction record or its decision), so
// both systems replicate the same bytes. Preferred path: the KV state machine
// (`--state-machine kv`, `PUT /v1/kv/:key`); fallback: a transaction with no
// participants through the public API.
import { errorMessage, type BenchContext } from './context.js';
import type { Operation } from './load.js';
import { measureClosedLoop } from './node-stats.js';
import { primeCluster } from './prime.js';
import { LeaderTarget } from './leader-target.js';
import { RatifyCluster } from './ratify-cluster.js';
import { benchTxId, txRecords } from './records.js';
import { directoryBytes, PeakRssSampler, rssBytes } from './resources.js';
import { toSeries, type NodeResources, type WritesRun, type WritesSection } from './results.js';

const FAKE_PARTICIPANTS = ['http://127.0.0.1:9/p1', 'http://127.0.0.1:9/p2'];

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

export async function runWritesSection(ctx: BenchContext): Promise<WritesSection> {
  const paths = ctx.opts.writesPath === 'kv' ? [KV_PATH] : ctx.opts.writesPath === 'tx' ? [EMPTY_TX_PATH] : [KV_PATH, EMPTY_TX_PATH];
  const failures: string[] = [];
  for (const path of paths) {
    const result = await tryPath(ctx, path);
    if (result.status === 'ok' || result.runs.length > 0) return result;
    failures.push(`${path.name}: ${result.reason ?? 'failed'}`);
    ctx.progress.note(`raw writes through ${path.name} failed: ${result.reason ?? ''}`);
  }
  return { status: 'failed', reason: failures.join('; '), path: null, runs: [], nodes: [] };
}

async function tryPath(ctx: BenchContext, path: WritePath): Promise<WritesSection> {
  const runs: WritesRun[] = [];
  let cluster: RatifyCluster | null = null;
  let sampler: PeakRssSampler | null = null;
  try {
    ctx.progress.note(`starting a 3-node Ratify cluster for raw writes (${path.name})`);
    cluster = await RatifyCluster.start(
      {
        cliPath: ctx.cliPath,
        size: 3,
        extraArgs: [...path.extraArgs, ...ctx.opts.nodeArgs],
        label: 'writes',
        cpuProfDir: ctx.opts.cpuProfDir,
      },
      ctx.sup,
      ctx.http,
    );
    const c = cluster;
    sampler = new PeakRssSampler(() => c.nodes.flatMap((n) => (n.proc === null ? [] : [{ name: n.id, pid: n.proc.pid }])));
    sampler.start(1000);
    const target = await LeaderTarget.discover(cluster);
    // One probe write first: a path the node does not serve fails here, not as a phase of errors.
    await path.op(ctx, target, 0)({ worker: 0, seq: 0, startNs: 0n, measureStartNs: 0n });
    await primeCluster(ctx, 'ratify writes', path.op(ctx, target, 0));
    for (const concurrency of ctx.opts.concurrency) {
      const { result, nodes } = await measureClosedLoop(
        ctx,
        cluster,
        `ratify writes c=${concurrency}`,
        concurrency,
        path.op(ctx, target, concurrency),
      );
      runs.push({ concurrency, writes: toSeries(result), nodes });
    }
    return { status: 'ok', reason: null, path: path.name, runs, nodes: nodeResources(cluster, sampler) };
  } catch (err) {
    return { status: 'failed', reason: errorMessage(err), path: path.name, runs, nodes: [] };
  } finally {
    sampler?.stop();
    if (cluster !== null) await cluster.stop();
  }
}

export function nodeResources(cluster: RatifyCluster, sampler: PeakRssSampler): NodeResources[] {
  sampler.sample();
  const peaks = sampler.peakBytesByName();
  return cluster.nodes.map((n) => ({
    id: n.id,
    peakRssBytes: peaks.get(n.id) ?? null,
    rssBytes: n.proc === null ? null : rssBytes(n.proc.pid),
    diskBytes: directoryBytes(n.dataDir),
  }));
}
