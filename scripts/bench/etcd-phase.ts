// Section 3: the etcd baseline. Each operation writes a transaction record and
// then its decision (two sequential puts), so etcd does the same replicated
// work per transaction that Ratify's log does at minimum.
import { join } from 'node:path';
import { errorMessage, type BenchContext } from './context.js';
import { ETCD_INSTALL_HINT, etcdPut, etcdVersion, startEtcd, stopEtcd, type EtcdCluster } from './etcd.js';
import { Histogram } from './histogram.js';
import { runClosedLoop } from './load.js';
import { primeCluster } from './prime.js';
import { benchTxId, txRecords } from './records.js';
import { directoryBytes, peakRssBytes, rssBytes } from './resources.js';
import { toSeries, type EtcdRun, type EtcdSection, type NodeResources } from './results.js';

const FAKE_PARTICIPANTS = ['http://127.0.0.1:9/p1', 'http://127.0.0.1:9/p2'];

export async function runEtcdSection(ctx: BenchContext): Promise<EtcdSection> {
  const skipped = (reason: string): EtcdSection => ({ status: 'skipped', reason, version: null, runs: [], nodes: [], txWritten: 0 });
  if (ctx.opts.skipEtcd) return skipped('--skip-etcd');
  const version = etcdVersion();
  if (version === null) {
    ctx.progress.note(ETCD_INSTALL_HINT);
    return skipped(ETCD_INSTALL_HINT);
  }
  const runs: EtcdRun[] = [];
  const written = { tx: 0 };
  let cluster: EtcdCluster | null = null;
  try {
    ctx.progress.note(`starting a 3-member etcd ${version} cluster`);
    cluster = await startEtcd(ctx.sup, ctx.http, version);
    const origin = cluster.leaderUrl;
    await primeCluster(ctx, `etcd ${version}`, async ({ worker, seq }) => {
      const r = txRecords(benchTxId('prime', worker, seq), FAKE_PARTICIPANTS, Date.now());
      await etcdPut(ctx.http, origin, r.recordKey, r.record);
      await etcdPut(ctx.http, origin, r.decisionKey, r.decision);
      written.tx += 1;
    });
    for (const c of ctx.opts.concurrency) runs.push(await etcdRun(ctx, cluster.leaderUrl, c, written));
    return { status: 'ok', reason: null, version, runs, nodes: etcdResources(cluster), txWritten: written.tx };
  } catch (err) {
    ctx.progress.note(`etcd baseline failed: ${errorMessage(err)}`);
    return { status: 'failed', reason: errorMessage(err), version, runs, nodes: [], txWritten: written.tx };
  } finally {
    if (cluster !== null) await stopEtcd(ctx.sup, ctx.http, cluster);
  }
}

function etcdResources(cluster: EtcdCluster): NodeResources[] {
  return cluster.members.map((m) => ({
    id: m.name,
    peakRssBytes: peakRssBytes(m.proc.pid),
    rssBytes: rssBytes(m.proc.pid),
    diskBytes: directoryBytes(join(cluster.dataDir, m.name, 'data')),
  }));
}

async function etcdRun(ctx: BenchContext, origin: string, concurrency: number, written: { tx: number }): Promise<EtcdRun> {
  const puts = new Histogram();
  let putErrors = 0;
  const timedPut = async (key: string, value: string, measureStartNs: bigint): Promise<void> => {
    const start = process.hrtime.bigint();
    try {
      await etcdPut(ctx.http, origin, key, value);
    } catch (err) {
      if (process.hrtime.bigint() >= measureStartNs) putErrors += 1;
      throw err;
    }
    const end = process.hrtime.bigint();
    if (end >= measureStartNs) puts.recordSpanNs(start, end);
  };
  const result = await runClosedLoop({
    label: `etcd c=${concurrency}`,
    concurrency,
    durationMs: ctx.opts.durationSec * 1000,
    warmupMs: ctx.opts.warmupSec * 1000,
    errorBackoffMs: 10,
    progress: ctx.progress,
    op: async ({ worker, seq, measureStartNs }) => {
      const r = txRecords(benchTxId(`c${concurrency}`, worker, seq), FAKE_PARTICIPANTS, Date.now());
      await timedPut(r.recordKey, r.record, measureStartNs);
      await timedPut(r.decisionKey, r.decision, measureStartNs);
      written.tx += 1;
    },
  });
  return { concurrency, puts: putSeries(puts, putErrors, result.elapsedMs), tx: toSeries(result) };
}

function putSeries(h: Histogram, errors: number, elapsedMs: number): EtcdRun['puts'] {
  return { ok: h.count, errors, errorKinds: {}, elapsedMs, ratePerSec: h.count / (elapsedMs / 1000), latency: h.summary() };
}
