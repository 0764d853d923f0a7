// The etcd baseline. Each operation writes a transaction record and then its
// decision (two sequential puts), so etcd does the same replicated work per
// transaction that Ratify's log does at minimum; every single put is timed too,
// the baseline of the raw writes.
//
// The cluster starts first, is primed and measured at every concurrency but 1
// while nothing else of the benchmark exists, then paused (SIGSTOP, stage.ts).
// Concurrency 1 is measured in phases that alternate with Ratify's
// (measureBetween, pairs.ts); what was not paired is measured in finish().
//
// When Ratify runs, finish() measures every unpaired concurrency once more,
// after Ratify's phases, and pools the two. WHY: those phases are minutes apart
// from Ratify's, and this shared machine's speed drifts by more than the goals'
// margins within minutes: in a full run on 2026-12-08 etcd's first phases at 16
// and 64 came in at 0.64x and 0.73x of the previous run's, which made Ratify's
// ratios 1.99x and 1.89x where the runs before gave 1.18x and 1.31x. A phase at
// each end of the run brackets Ratify's, so one slow (or fast) moment of etcd's
// no longer decides a ratio by itself.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { errorMessage, type BenchContext } from './context.js';
import { ETCD_INSTALL_HINT, etcdPut, etcdVersion, startEtcd, stopEtcd, type EtcdCluster } from './etcd.js';
import { Histogram } from './histogram.js';
import { SlowestSpans } from './slowest-spans.js';
import { runClosedLoop, type LoadResult } from './load.js';
import { primeCluster } from './prime.js';
import { benchTxId, txRecords } from './records.js';
import { directoryBytes, rssBytes } from './resources.js';
import { pooledSeries, toSeries, type EtcdCheckPerf, type EtcdRun, type EtcdSection, type NodeResources } from './results.js';

export const FAKE_PARTICIPANTS = ['http://127.0.0.1:9/p1', 'http://127.0.0.1:9/p2'];
export const ETCD_STAGE = 'etcd';
/** The concurrency whose phases alternate with Ratify's. */
export const PAIRED_CONCURRENCY = 1;
const CHECK_PERF_TIMEOUT_MS = 180_000;

/** One measured etcd phase, with the histograms kept so alternating phases can be pooled. */
export interface EtcdPhase {
  readonly concurrency: number;
  readonly puts: LoadResult & { histogram: Histogram };
  readonly tx: LoadResult & { histogram: Histogram };
}

export class EtcdBaseline {
  private readonly phases: EtcdPhase[] = [];
  /** Ratify runs between start() and finish(). */
  private ratifyRuns = false;
  private readonly written = { tx: 0 };
  private checkPerf: EtcdCheckPerf | null = null;

  private constructor(
    private readonly ctx: BenchContext,
    readonly cluster: EtcdCluster,
    readonly version: string,
  ) {}

  /**
   * Starts, primes and measures the unpaired concurrencies; a section when etcd
   * is skipped or fails. With `ratifyRuns`, concurrency 1 waits for the pairs,
   * and finish() measures the others again.
   */
  static async start(ctx: BenchContext, ratifyRuns: boolean): Promise<EtcdBaseline | EtcdSection> {
    const skipped = (reason: string): EtcdSection => ({ status: 'skipped', reason, version: null, runs: [], nodes: [], txWritten: 0 });
    if (ctx.opts.skipEtcd) return skipped('--skip-etcd');
    const version = etcdVersion();
    if (version === null) {
      ctx.progress.note(ETCD_INSTALL_HINT);
      return skipped(ETCD_INSTALL_HINT);
    }
    let cluster: EtcdCluster | null = null;
    try {
      ctx.progress.note(`starting a 3-member etcd ${version} cluster`);
      cluster = await startEtcd(ctx.sup, ctx.http, version);
      const c = cluster;
      ctx.stage.add(ETCD_STAGE, () => c.members.map((m) => m.proc));
      ctx.stage.focus(ETCD_STAGE);
      const baseline = new EtcdBaseline(ctx, cluster, version);
      baseline.ratifyRuns = ratifyRuns;
      const origin = cluster.leaderUrl;
      await primeCluster(ctx, `etcd ${version}`, async ({ worker, seq }) => {
        const r = txRecords(benchTxId('prime', worker, seq), FAKE_PARTICIPANTS, Date.now());
        await etcdPut(ctx.http, origin, r.recordKey, r.record);
        await etcdPut(ctx.http, origin, r.decisionKey, r.decision);
        baseline.written.tx += 1;
      });
      for (const conc of ctx.opts.concurrency) {
        if (!baseline.paired(conc)) await baseline.measure(conc);
      }
      if (ctx.opts.etcdCheckPerf) baseline.checkPerf = runCheckPerf(ctx, cluster);
      return baseline;
    } catch (err) {
      ctx.progress.note(`etcd baseline failed: ${errorMessage(err)}`);
      if (cluster !== null) {
        ctx.stage.remove(ETCD_STAGE);
        await stopEtcd(ctx.sup, ctx.http, cluster);
      }
      return { status: 'failed', reason: errorMessage(err), version, runs: [], nodes: [], txWritten: 0 };
    }
  }

  /** One etcd phase while `returnTo`'s processes are paused; `returnTo` runs again afterwards. */
  async measureBetween(concurrency: number, returnTo: string): Promise<EtcdPhase> {
    this.ctx.stage.focus(ETCD_STAGE);
    try {
      return await this.measure(concurrency);
    } finally {
      this.ctx.stage.focus(returnTo);
    }
  }

  /**
   * Measures what was not paired (again, when Ratify ran since), stops the
   * cluster and returns the section, each concurrency pooled over its phases.
   */
  async finish(): Promise<EtcdSection> {
    const runs: EtcdRun[] = [];
    try {
      for (const c of this.ctx.opts.concurrency) {
        const measured = this.phases.filter((p) => p.concurrency === c).length;
        const wanted = etcdPhasesWanted(c, measured, this.paired(c), this.ratifyRuns);
        for (let n = measured; n < wanted; n++) await this.measureBetween(c, this.ctx.stage.focused ?? ETCD_STAGE);
      }
      for (const c of this.ctx.opts.concurrency) {
        const phases = this.phases.filter((p) => p.concurrency === c);
        const puts = pooledSeries(phases.map((p) => p.puts));
        const tx = pooledSeries(phases.map((p) => p.tx));
        if (puts === null || tx === null) continue;
        const bracketed = phases.length > 1 && !this.paired(c);
        const bracket = bracketed ? { bracket: phases.map((p) => ({ puts: toSeries(p.puts), tx: toSeries(p.tx) })) } : {};
        runs.push({ concurrency: c, puts, tx, ...bracket });
      }
      const nodes = this.resources();
      return {
        status: 'ok',
        reason: null,
        version: this.version,
        runs,
        nodes,
        txWritten: this.written.tx,
        ...(this.checkPerf === null ? {} : { checkPerf: this.checkPerf }),
      };
    } catch (err) {
      this.ctx.progress.note(`etcd baseline failed: ${errorMessage(err)}`);
      return { status: 'failed', reason: errorMessage(err), version: this.version, runs, nodes: [], txWritten: this.written.tx };
    } finally {
      this.ctx.stage.remove(ETCD_STAGE);
      await stopEtcd(this.ctx.sup, this.ctx.http, this.cluster);
    }
  }

  /** Whether concurrency `c` is measured in phases alternating with Ratify's. */
  private paired(c: number): boolean {
    return this.ratifyRuns && c === PAIRED_CONCURRENCY && this.ctx.opts.concurrency.includes(PAIRED_CONCURRENCY);
  }

  private resources(): NodeResources[] {
    return this.cluster.members.map((m) => {
      this.ctx.rss.sample(m.proc.name, m.proc.pid);
      return {
        id: m.name,
        peakRssBytes: this.ctx.rss.peakBytes(m.proc.name),
        rssBytes: rssBytes(m.proc.pid),
        diskBytes: directoryBytes(join(this.cluster.dataDir, m.name, 'data')),
      };
    });
  }

  private async measure(concurrency: number): Promise<EtcdPhase> {
    const ctx = this.ctx;
    const origin = this.cluster.leaderUrl;
    const puts = new Histogram();
    const putSpans = new SlowestSpans();
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
      if (end >= measureStartNs) {
        puts.recordSpanNs(start, end);
        putSpans.offer(start, end);
      }
    };
    const index = this.phases.filter((p) => p.concurrency === concurrency).length;
    const result = await runClosedLoop({
      label: `etcd c=${concurrency}${index > 0 || concurrency === PAIRED_CONCURRENCY ? ` #${index + 1}` : ''}`,
      concurrency,
      durationMs: ctx.opts.durationSec * 1000,
      warmupMs: ctx.opts.warmupSec * 1000,
      errorBackoffMs: 10,
      progress: ctx.progress,
      processLabels: () => ctx.processLabels(),
      diskStalls: ctx.diskStalls,
      op: async ({ worker, seq, measureStartNs }) => {
        // The phase index keeps keys unique across the alternating phases of one concurrency.
        const r = txRecords(benchTxId(`c${concurrency}-${index}`, worker, seq), FAKE_PARTICIPANTS, Date.now());
        await timedPut(r.recordKey, r.record, measureStartNs);
        await timedPut(r.decisionKey, r.decision, measureStartNs);
        this.written.tx += 1;
      },
    });
    const putsResult = {
      ...result,
      ok: puts.count,
      completed: puts.count,
      errors: putErrors,
      errorKinds: {},
      ratePerSec: puts.count / (result.elapsedMs / 1000),
      latency: puts.summary(),
      // The loop's summary is about the two-put operations; the puts' slowest are their own.
      diskStalls: ctx.diskStalls?.phase(result.measuredFromNs, result.measuredToNs, putSpans, puts.count) ?? null,
      histogram: puts,
    };
    const phase: EtcdPhase = { concurrency, puts: putsResult, tx: result };
    this.phases.push(phase);
    return phase;
  }
}

/**
 * How many etcd phases concurrency `c` should have by the end of the run,
 * `measured` of them done: the paired concurrency its pairs' (one if no pair
 * ran); any other two when Ratify ran since the first (one before Ratify's
 * phases, one after), else one.
 */
export function etcdPhasesWanted(c: number, measured: number, pairing: boolean, ratifyRuns: boolean): number {
  if (pairing && c === PAIRED_CONCURRENCY) return Math.max(measured, 1);
  return ratifyRuns ? 2 : 1;
}

/** The etcd section when start() returned one, else what the baseline finishes with. */
export async function finishEtcd(etcd: EtcdBaseline | EtcdSection): Promise<EtcdSection> {
  return etcd instanceof EtcdBaseline ? etcd.finish() : etcd;
}

/**
 * etcd's own check, `etcdctl check perf` (Debian's etcd-client 3.4 ships no
 * `benchmark` tool): 60 s of its "small" workload against all three members;
 * quoted beside the baseline as etcd's own view of this machine.
 */
function runCheckPerf(ctx: BenchContext, cluster: EtcdCluster): EtcdCheckPerf {
  const endpoints = cluster.members.map((m) => m.clientUrl).join(',');
  const args = [`--endpoints=${endpoints}`, 'check', 'perf', '--load=s'];
  ctx.progress.note(`running etcdctl ${args.join(' ')} (60 s)`);
  const out = spawnSync('etcdctl', args, { encoding: 'utf8', timeout: CHECK_PERF_TIMEOUT_MS, env: { ...process.env, ETCDCTL_API: '3' } });
  if (out.error !== undefined) {
    return { command: `etcdctl ${args.join(' ')}`, passed: null, lines: [`could not run etcdctl: ${out.error.message}`] };
  }
  const lines = checkPerfLines(`${out.stdout}\n${out.stderr}`);
  return { command: `etcdctl ${args.join(' ')}`, passed: out.status === 0, lines };
}

/** The verdict lines of `etcdctl check perf` (its progress bar redraws with \r; only the last state of a line counts). */
export function checkPerfLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => (l.split('\r').pop() ?? '').trim())
    .filter((l) => /^(PASS|FAIL)/.test(l));
}
