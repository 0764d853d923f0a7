// `npm run bench`: Ratify against a 3-member etcd on this machine, in one run.
// Only the system being measured runs: every other cluster the benchmark has
// started is paused (SIGSTOP, stage.ts), since the machine has few cores and
// both systems must see the same ones. At concurrency 1 Ratify's and etcd's
// phases alternate (pairs.ts). Prints the tables, then writes
// bench-results/bench-<date>.json and .svg. Options: --help.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, platform, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorMessage, type BenchContext } from './bench/context.js';
import { ALLOC_PROFILE_SUFFIX, formatAllocSummary, readAllocProfile, summarizeAllocProfile } from './bench/alloc-profile.js';
import { findProfiles, formatProfileSummary, readProfile, summarizeProfile } from './bench/cpu-profile.js';
import { compareReports, renderComparison } from './bench/compare.js';
import { DiskStallMonitor } from './bench/disk-stalls.js';
import { EtcdBaseline, finishEtcd } from './bench/etcd-phase.js';
import { HttpClients } from './bench/http.js';
import { parseOptions, USAGE, type BenchOptions } from './bench/options.js';
import { Progress } from './bench/progress.js';
import { computeGoals, renderReport } from './bench/report.js';
import { payloads } from './bench/payloads.js';
import { PeakRssBook } from './bench/resources.js';
import type { BenchReport, TxSection, WritesSection } from './bench/results.js';
import { RatifyCluster } from './bench/ratify-cluster.js';
import { Stage } from './bench/stage.js';
import { Supervisor } from './bench/supervisor.js';
import { chartFromReport, renderSvg } from './bench/svg.js';
import { runTxSections, skippedFailover, type TxOutcome } from './bench/tx-phase.js';
import { runWritesSection } from './bench/writes-phase.js';

// dist/scripts/bench.js → repository root.
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PROFILE_FRAMES = 20;

async function main(): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseOptions(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`${errorMessage(err)}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  // Read the earlier run first: a wrong path should fail in a second, not after the whole run.
  const earlier = opts.compare === null ? null : (JSON.parse(readFileSync(opts.compare, 'utf8')) as unknown);
  const sup = new Supervisor();
  if (opts.keepTemp) sup.keepTempDirs();
  const rss = new PeakRssBook();
  sup.onBeforeExit((p) => rss.sample(p.name, p.pid));
  const progress = new Progress();
  sup.installSignalHandlers((signal) => progress.note(`${signal}: stopping every process the benchmark started`));
  const maxConcurrency = Math.max(...opts.concurrency, opts.failoverConcurrency, 64);
  const http = new HttpClients({ connectionsPerOrigin: maxConcurrency + 4, requestTimeoutMs: opts.requestTimeoutMs });
  const cliPath = resolve(opts.cliPath ?? join(REPO_ROOT, 'dist', 'src', 'cli.js'));
  // Every cluster's data goes under the temp folder (Supervisor.tempDir).
  const diskStalls = DiskStallMonitor.start(tmpdir());
  if (diskStalls === null) progress.note(`disk stalls not sampled: no block device's stat file found for ${tmpdir()}`);
  const ctx: BenchContext = {
    opts,
    sup,
    http,
    progress,
    cliPath,
    stage: new Stage(sup),
    rss,
    processLabels: () => new Map([[process.pid, 'bench'], ...sup.runningNames()]),
    diskStalls,
  };
  const startedAt = new Date();
  try {
    const ratifyRuns = !opts.skipRatify && RatifyCluster.cliExists(cliPath) && (!opts.skipWrites || !opts.skipTx);
    const started = await EtcdBaseline.start(ctx, ratifyRuns);
    const baseline = started instanceof EtcdBaseline ? started : null;
    const { writes, tx, failover } = await runRatify(ctx, baseline);
    const etcd = await finishEtcd(started);
    rss.sampleAll(sup.processes());
    const sections = { etcd, writes, tx, failover };
    const peakRssWholeRun = rss.all();
    const report: BenchReport = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      command: ['npm run bench --', ...process.argv.slice(2)].join(' '),
      machine: machine(),
      options: { ...opts },
      ...sections,
      goals: computeGoals({ ...sections, peakRssWholeRun }),
      payloads: payloads(),
      peakRssWholeRun,
    };
    process.stdout.write(`\n${renderReport(report)}\n\n`);
    const paths = writeOutputs(report, opts.outDir, startedAt);
    process.stdout.write(`Wrote ${paths.json} and ${paths.svg}\n`);
    if (earlier !== null && opts.compare !== null) {
      process.stdout.write(`\n${renderComparison(compareReports(report, earlier), opts.compare)}\n`);
    }
    if (opts.cpuProfDir !== null) printProfiles(opts.cpuProfDir);
    if (opts.allocProfDir !== null) printAllocProfiles(opts.allocProfDir);
    return 0;
  } finally {
    await diskStalls?.stop();
    await http.close();
    await sup.cleanup();
  }
}

async function runRatify(ctx: BenchContext, etcd: EtcdBaseline | null): Promise<{ writes: WritesSection } & TxOutcome> {
  const skippedWrites = (reason: string): WritesSection => ({ status: 'skipped', reason, path: null, runs: [], nodes: [] });
  const skippedTx = (reason: string): TxOutcome => ({
    tx: { status: 'skipped', reason, runs: [], finishedTx: 0, nodes: [], diskBytesPerTx: null } satisfies TxSection,
    failover: skippedFailover(reason, ctx.opts.failoverConcurrency),
  });
  const skip = (reason: string): { writes: WritesSection } & TxOutcome => ({ writes: skippedWrites(reason), ...skippedTx(reason) });
  if (ctx.opts.skipRatify) return skip('--skip-ratify');
  if (!RatifyCluster.cliExists(ctx.cliPath)) {
    const reason = `${ctx.cliPath} not found; run \`npm run build\` first`;
    ctx.progress.note(reason);
    return skip(reason);
  }
  const writes = ctx.opts.skipWrites ? skippedWrites('--skip-writes') : await runWritesSection(ctx, etcd);
  const txOutcome = ctx.opts.skipTx ? skippedTx('--skip-tx') : await runTxSections(ctx, etcd);
  return { writes, ...txOutcome };
}

/** Top frames of every node's CPU profile (nodes write them when they stop cleanly). */
function printProfiles(dir: string): void {
  const paths = existsSync(dir) ? findProfiles(dir) : [];
  if (paths.length === 0) {
    process.stdout.write(`No CPU profiles in ${dir} (a node writes one only when it exits cleanly on SIGTERM)\n`);
    return;
  }
  for (const path of paths) {
    const summary = summarizeProfile(readProfile(path), REPO_ROOT);
    process.stdout.write(`\n${formatProfileSummary(relative(process.cwd(), path), summary, PROFILE_FRAMES)}\n`);
  }
}

function printAllocProfiles(dir: string): void {
  const paths = existsSync(dir) ? findProfiles(dir, ALLOC_PROFILE_SUFFIX) : [];
  if (paths.length === 0) {
    process.stdout.write(`No allocation profiles in ${dir}\n`);
    return;
  }
  for (const path of paths) {
    const summary = summarizeAllocProfile(readAllocProfile(path), REPO_ROOT);
    process.stdout.write(`\n${formatAllocSummary(relative(process.cwd(), path), summary, PROFILE_FRAMES)}\n`);
  }
}

function machine(): BenchReport['machine'] {
  let gitCommit: string | null = null;
  try {
    gitCommit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    // Not a git checkout (for example an npm pack); the commit is optional.
  }
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryBytes: totalmem(),
    os: `${platform()} ${release()}`,
    node: process.version,
    gitCommit,
  };
}

function writeOutputs(report: BenchReport, outDir: string, startedAt: Date): { json: string; svg: string } {
  const dir = resolve(outDir);
  mkdirSync(dir, { recursive: true });
  const stamp = startedAt.toISOString().replace(/:/g, '-').replace(/\..*$/, '');
  const json = join(dir, `bench-${stamp}.json`);
  const svg = join(dir, `bench-${stamp}.svg`);
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(svg, renderSvg(chartFromReport(report)));
  return { json, svg };
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
