// Memory probe: where each node's resident memory goes with N finished
// transactions retained, and through leader kills (a new leader, a restarted
// node catching up by snapshot and log). Prints every node's peak RSS over the
// whole run and, for the sample that set it, the breakdown: V8 heap used and
// committed, external (ArrayBuffers and strings outside the heap), the malloc
// heap (`[heap]` in /proc/PID/smaps) and what is left (code, stacks, other
// mappings). The goal it checks is the README's memory goal: every node under
// 150 MiB with 100,000 finished transactions.
//
//   npm run build && node dist/scripts/memory-probe.js [--fill-tx 100000] [--kills 3]
//
// Heap snapshots: NODE_OPTIONS=--heapsnapshot-signal=SIGUSR2 reaches the nodes
// (they inherit the environment), and --pause-after-fill waits for Enter so a
// `kill -USR2 PID` can be sent at the measured point.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { BenchContext } from './bench/context.js';
import { caughtUpBy, runFailover } from './bench/failover.js';
import { HttpClients } from './bench/http.js';
import { LeaderTarget } from './bench/leader-target.js';
import { runClosedLoop } from './bench/load.js';
import { PROBE_USAGE, parseProbeArgs, v8MemoryOf, type V8Memory } from './bench/probe-options.js';
import { Participants } from './bench/participants.js';
import { Progress } from './bench/progress.js';
import { RatifyCluster } from './bench/ratify-cluster.js';
import { PeakRssBook } from './bench/resources.js';
import { Stage } from './bench/stage.js';
import { Supervisor } from './bench/supervisor.js';
import { txOp } from './bench/tx-phase.js';
import { assertNever } from '../src/util/assert-never.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MIB = 1024 * 1024;
const GOAL_MIB = 150;
const SAMPLE_MS = 1000;

/** One sample of one node process: its V8 memory from /metrics, RSS and malloc heap from /proc. Bytes; null where the source did not answer. */
interface MemorySample extends V8Memory {
  readonly rss: number;
  readonly mallocHeap: number | null;
}

interface NodeMemory {
  /** Highest VmHWM over every incarnation of the node. */
  peakRss: number;
  /** The sample with the highest RSS seen by sampling (VmHWM may exceed it between samples). */
  atPeak: MemorySample | null;
  /** Incarnations after the first (a new PID under the same node id). */
  restarts: number;
  pid: number;
}

async function main(): Promise<number> {
  const args = parseProbeArgs(process.argv.slice(2));
  switch (args.kind) {
    case 'help':
      process.stdout.write(PROBE_USAGE);
      return 0;
    case 'usage':
      process.stderr.write(`${args.error}\n\n${PROBE_USAGE}`);
      return 2;
    case 'run':
      break;
    default:
      return assertNever(args);
  }
  const { bench: opts, fillConcurrency, kills, pauseAfterFill, idempotencyKeys } = args.opts;
  const sup = new Supervisor();
  const progress = new Progress();
  sup.installSignalHandlers((signal) => progress.note(`${signal}: stopping every process the probe started`));
  const http = new HttpClients({ connectionsPerOrigin: fillConcurrency + 4, requestTimeoutMs: opts.requestTimeoutMs });
  const ctx: BenchContext = {
    opts,
    sup,
    http,
    progress,
    cliPath: join(REPO_ROOT, 'dist', 'src', 'cli.js'),
    stage: new Stage(sup),
    rss: new PeakRssBook(),
    processLabels: () => new Map([[process.pid, 'probe'], ...sup.runningNames()]),
    // The probe measures memory, not latency.
    diskStalls: null,
  };
  const memory = new Map<string, NodeMemory>();
  let participants: Participants | null = null;
  let cluster: RatifyCluster | null = null;
  let timer: NodeJS.Timeout | null = null;
  try {
    participants = await Participants.start(sup, 2, sup.tempDir('ratify-probe-participants-'));
    cluster = await RatifyCluster.start(
      {
        cliPath: ctx.cliPath,
        size: 3,
        extraArgs: opts.nodeArgs,
        nodeFlags: opts.nodeFlags,
        label: 'probe',
        cpuProfDir: null,
        allocProfDir: null,
      },
      sup,
      http,
    );
    const c = cluster;
    const sample = (): Promise<void> => sampleAll(c, http, memory);
    timer = setInterval(() => void sample(), SAMPLE_MS);
    const target = await LeaderTarget.discover(cluster);
    const counter = { finished: 0 };
    const started = Date.now();
    const fill = await runClosedLoop({
      label: 'probe fill',
      concurrency: fillConcurrency,
      durationMs: 0,
      warmupMs: 0,
      countMax: opts.fillTx,
      errorBackoffMs: 10,
      progress,
      op: txOp(ctx, target, participants.urls, counter, null, idempotencyKeys),
    });
    progress.note(`filled ${fill.ok.toLocaleString('en-US')} transactions in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await sample();
    const leader = await cluster.leader();
    printTable(`after the fill (${counter.finished.toLocaleString('en-US')} finished; leader ${leader?.id ?? '?'})`, memory);
    if (pauseAfterFill) await waitForEnter(cluster);
    if (kills > 0) {
      const failover = await runFailover(ctx, cluster, target, txOp(ctx, target, participants.urls, counter, null));
      await sample();
      const recovered = failover.kills.map(
        (k) => `${k.killed}->${k.newLeader ?? '?'} ${k.recoveryMs?.toFixed(0) ?? 'TIMEOUT'} ms, restart caught up by ${caughtUpBy(k)}`,
      );
      printTable(`whole run, ${kills} kills (${recovered.join(', ')}; ${failover.status})`, memory);
    }
    return 0;
  } finally {
    if (timer !== null) clearInterval(timer);
    if (cluster !== null) await cluster.stop();
    if (participants !== null) await participants.stop(sup);
    await http.close();
    await sup.cleanup();
  }
}

async function sampleAll(cluster: RatifyCluster, http: HttpClients, memory: Map<string, NodeMemory>): Promise<void> {
  await Promise.all(
    cluster.liveNodes().map(async (n) => {
      const pid = n.proc?.pid;
      if (pid === undefined) return;
      const status = procStatus(pid);
      if (status === null) return;
      const m = memory.get(n.id) ?? { peakRss: 0, atPeak: null, restarts: 0, pid };
      memory.set(n.id, m);
      if (m.pid !== pid) {
        m.pid = pid;
        m.restarts += 1;
      }
      m.peakRss = Math.max(m.peakRss, status.hwm);
      if (m.atPeak !== null && status.rss <= m.atPeak.rss) return;
      m.atPeak = { rss: status.rss, mallocHeap: mallocHeapBytes(pid), ...(await v8Memory(http, n.url)) };
    }),
  );
}

function procStatus(pid: number): { rss: number; hwm: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
    return { rss: field('VmRSS'), hwm: field('VmHWM') };
  } catch {
    return null;
  }
}

/** Resident bytes of the `[heap]` mapping (glibc's main arena). */
function mallocHeapBytes(pid: number): number | null {
  try {
    const smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8');
    const at = smaps.indexOf('[heap]');
    if (at < 0) return null;
    const rss = /^Rss:\s+(\d+) kB/m.exec(smaps.slice(at));
    return rss?.[1] === undefined ? null : Number(rss[1]) * 1024;
  } catch {
    return null;
  }
}

/** The node's V8 memory from its /metrics (probe-options.ts reads the text). */
async function v8Memory(http: HttpClients, url: string): Promise<V8Memory> {
  try {
    const res = await http.json(url, 'GET', '/metrics');
    return v8MemoryOf(typeof res.body === 'string' ? res.body : '');
  } catch {
    return { heapUsed: null, heapTotal: null, youngTotal: null, external: null };
  }
}

function printTable(title: string, memory: ReadonlyMap<string, NodeMemory>): void {
  const mib = (b: number | null): string => (b === null ? '-' : (b / MIB).toFixed(1));
  const lines = [
    `\n${title}`,
    'node  peak RSS  (goal <150)  at the highest sample: RSS  heap used  heap committed (young)  external  malloc [heap]  rest',
  ];
  for (const [id, m] of [...memory].sort(([a], [b]) => a.localeCompare(b))) {
    const s = m.atPeak;
    const rest =
      s === null || s.heapTotal === null || s.external === null || s.mallocHeap === null
        ? null
        : s.rss - s.heapTotal - s.external - s.mallocHeap;
    lines.push(
      [
        id.padEnd(4),
        mib(m.peakRss).padStart(9),
        (m.peakRss / MIB < GOAL_MIB ? 'ok' : 'OVER').padStart(12),
        mib(s?.rss ?? null).padStart(27),
        mib(s?.heapUsed ?? null).padStart(10),
        mib(s?.heapTotal ?? null).padStart(15),
        `(${mib(s?.youngTotal ?? null)})`.padStart(8),
        mib(s?.external ?? null).padStart(9),
        mib(s?.mallocHeap ?? null).padStart(14),
        mib(rest).padStart(5),
        m.restarts > 0 ? `  (restarted ${m.restarts}x)` : '',
      ].join(' '),
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function waitForEnter(cluster: RatifyCluster): Promise<void> {
  const pids = cluster.liveNodes().map((n) => `${n.id}=${n.proc?.pid ?? '?'}`);
  process.stdout.write(`paused; node PIDs ${pids.join(' ')}; press Enter to go on\n`);
  const rl = createInterface({ input: process.stdin });
  await new Promise<void>((resolve) => rl.once('line', () => resolve()));
  rl.close();
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`memory probe failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
