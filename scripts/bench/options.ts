// Command-line flags (and BENCH_* environment variables) of `npm run bench`.
// Flags win over the environment; every value is validated with a message that
// names the value and its limit.
import { parseArgs } from 'node:util';

export type WritesPath = 'auto' | 'kv' | 'tx';

export interface BenchOptions {
  readonly durationSec: number;
  readonly warmupSec: number;
  /** Unmeasured load on every freshly started cluster before its first phase (prime.ts says why). */
  readonly primeSec: number;
  readonly concurrency: readonly number[];
  readonly skipEtcd: boolean;
  readonly skipRatify: boolean;
  readonly skipFailover: boolean;
  readonly skipWrites: boolean;
  /** Skips transactions, and with them failover (it runs on the transaction cluster). */
  readonly skipTx: boolean;
  readonly quick: boolean;
  readonly kills: number;
  readonly failoverConcurrency: number;
  /** Finished transactions the cluster should hold when memory and disk are measured (0: no fill). */
  readonly fillTx: number;
  /** Upper bound on the fill's duration, so a slow cluster cannot stall the run. */
  readonly fillMaxSec: number;
  /** How raw replicated writes are driven: KV state machine, empty transactions, or whichever works. */
  readonly writesPath: WritesPath;
  readonly outDir: string;
  readonly keepTemp: boolean;
  readonly requestTimeoutMs: number;
  /** Extra arguments for every Ratify node. */
  readonly nodeArgs: readonly string[];
  /** Extra flags for every Ratify node's `node` process (V8 and Node flags), after the heap flags it always gets. */
  readonly nodeFlags: readonly string[];
  /** When set, nodes run with `node --cpu-prof` and write their profiles here. */
  readonly cpuProfDir: string | null;
  /** When set, nodes run with alloc-sampler.ts preloaded and write allocation profiles here. */
  readonly allocProfDir: string | null;
  /** The Ratify CLI to start; null means dist/src/cli.js of this checkout. */
  readonly cliPath: string | null;
  /** Alternating Ratify/etcd phase pairs at concurrency 1 (pairs.ts). */
  readonly pairs: number;
  /** An earlier run's JSON to print every figure beside, with the ratio. */
  readonly compare: string | null;
  /** Run `etcdctl check perf` (60 s) on the baseline cluster and quote it. */
  readonly etcdCheckPerf: boolean;
  readonly help: boolean;
}

export const USAGE = `Usage: npm run bench -- [options]

  --duration <s>          measured seconds per phase (default 10; quick 3)   env BENCH_DURATION
  --warmup <s>            unmeasured warm-up seconds per phase (default 1)   env BENCH_WARMUP
  --prime <s>             unmeasured load at concurrency 16 on each new cluster,
                          Ratify's and etcd's, before its first phase (default 5; quick 2)  env BENCH_PRIME
  --concurrency <list>    comma-separated worker counts (default 1,16,64)    env BENCH_CONCURRENCY
  --quick                 short run: 3 s phases, 2 kills, no fill            env BENCH_QUICK=1
  --skip-etcd             no etcd baseline                                   env BENCH_SKIP_ETCD=1
  --skip-ratify           only the etcd baseline                             env BENCH_SKIP_RATIFY=1
  --skip-failover         no leader kills                                    env BENCH_SKIP_FAILOVER=1
  --skip-writes           no raw-write phase                                 env BENCH_SKIP_WRITES=1
  --skip-tx               no transaction phase (and so no failover)          env BENCH_SKIP_TX=1
  --kills <n>             leader kills in the failover phase (default 3)     env BENCH_KILLS
  --failover-concurrency <n>  workers during failover (default 16)
  --fill-tx <n>           finished transactions to hold before measuring memory (default 100000; quick 0)
  --fill-max <s>          give up filling after this many seconds (default 300)
  --writes-path <p>       raw writes through: auto | kv | tx (default auto)
  --out <dir>             results folder (default bench-results)
  --keep-temp             keep data folders and logs of the run
  --timeout <ms>          per-request timeout (default 10000)
  --node-arg <arg>        extra argument for every Ratify node (repeatable)
  --node-flag <flag>      extra flag for every Ratify node's node process, after
                          its heap flags, as --node-flag=<flag>, e.g. --node-flag=--single-threaded-gc (repeatable)
  --cpu-prof <dir>        run the nodes under node --cpu-prof, profiles into <dir>
  --alloc-prof <dir>      sample every node's allocations (collected objects included),
                          profiles into <dir>; the report adds what allocates most.
                          With env RATIFY_ALLOC_PROF_SURVIVORS=1, only what outlived the
                          young generation: what fills the old one between full collections
  --cli <path>            Ratify CLI to start (default dist/src/cli.js)      env BENCH_CLI
  --pairs <n>             at concurrency 1, Ratify and etcd phases alternate n times;
                          ratios are the median of the pairs (default 3)     env BENCH_PAIRS
  --compare <file.json>   after the run, print every figure beside this earlier run's, with the ratio
  --etcd-check-perf       also run \`etcdctl check perf\` (60 s) on etcd and quote it
  -h, --help              this text
`;

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      prime: { type: 'string' },
      concurrency: { type: 'string' },
      quick: { type: 'boolean' },
      'skip-etcd': { type: 'boolean' },
      'skip-ratify': { type: 'boolean' },
      'skip-failover': { type: 'boolean' },
      'skip-writes': { type: 'boolean' },
      'skip-tx': { type: 'boolean' },
      kills: { type: 'string' },
      'failover-concurrency': { type: 'string' },
      'fill-tx': { type: 'string' },
      'fill-max': { type: 'string' },
      'writes-path': { type: 'string' },
      out: { type: 'string' },
      'keep-temp': { type: 'boolean' },
      timeout: { type: 'string' },
      'node-arg': { type: 'string', multiple: true },
      'node-flag': { type: 'string', multiple: true },
      'cpu-prof': { type: 'string' },
      'alloc-prof': { type: 'string' },
      cli: { type: 'string' },
      pairs: { type: 'string' },
      compare: { type: 'string' },
      'etcd-check-perf': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const flag = (name: string, fromFlag: boolean | undefined): boolean => fromFlag ?? truthy(env[name]);
  const quick = flag('BENCH_QUICK', values.quick);
  return {
    durationSec: numberIn('duration', values.duration ?? env['BENCH_DURATION'], quick ? 3 : 10, 0.5, 3600),
    warmupSec: numberIn('warmup', values.warmup ?? env['BENCH_WARMUP'], quick ? 0.5 : 1, 0, 600),
    primeSec: numberIn('prime', values.prime ?? env['BENCH_PRIME'], quick ? 2 : 5, 0, 600),
    concurrency: concurrencyList(values.concurrency ?? env['BENCH_CONCURRENCY'] ?? '1,16,64'),
    skipEtcd: flag('BENCH_SKIP_ETCD', values['skip-etcd']),
    skipRatify: flag('BENCH_SKIP_RATIFY', values['skip-ratify']),
    skipFailover: flag('BENCH_SKIP_FAILOVER', values['skip-failover']),
    skipWrites: flag('BENCH_SKIP_WRITES', values['skip-writes']),
    skipTx: flag('BENCH_SKIP_TX', values['skip-tx']),
    quick,
    kills: integerIn('kills', values.kills ?? env['BENCH_KILLS'], quick ? 2 : 3, 1, 50),
    failoverConcurrency: integerIn('failover-concurrency', values['failover-concurrency'], 16, 1, 1024),
    fillTx: integerIn('fill-tx', values['fill-tx'] ?? env['BENCH_FILL_TX'], quick ? 0 : 100_000, 0, 10_000_000),
    fillMaxSec: numberIn('fill-max', values['fill-max'], 300, 1, 86_400),
    writesPath: writesPath(values['writes-path'] ?? 'auto'),
    outDir: values.out ?? env['BENCH_OUT'] ?? 'bench-results',
    keepTemp: flag('BENCH_KEEP_TEMP', values['keep-temp']),
    requestTimeoutMs: integerIn('timeout', values.timeout, 10_000, 100, 600_000),
    nodeArgs: values['node-arg'] ?? [],
    nodeFlags: nodeFlags(values['node-flag'] ?? []),
    cpuProfDir: values['cpu-prof'] ?? null,
    allocProfDir: values['alloc-prof'] ?? null,
    cliPath: values.cli ?? env['BENCH_CLI'] ?? null,
    pairs: integerIn('pairs', values.pairs ?? env['BENCH_PAIRS'], 3, 1, 50),
    compare: values.compare ?? null,
    etcdCheckPerf: values['etcd-check-perf'] ?? false,
    help: values.help ?? false,
  };
}

function truthy(v: string | undefined): boolean {
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

function numberIn(name: string, raw: string | undefined, dflt: number, min: number, max: number): number {
  if (raw === undefined) return dflt;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || v < min || v > max) {
    throw new RangeError(`--${name} (${raw}) must be a number between ${min} and ${max}`);
  }
  return v;
}

function integerIn(name: string, raw: string | undefined, dflt: number, min: number, max: number): number {
  if (raw === undefined) return dflt;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`--${name} (${raw}) must be an integer between ${min} and ${max}`);
  }
  return v;
}

export function concurrencyList(raw: string): number[] {
  const parts = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (parts.length === 0 || parts.length > 16) {
    throw new RangeError(`--concurrency (${raw}) must list between 1 and 16 values`);
  }
  const list = parts.map((p) => integerIn('concurrency', p, 1, 1, 1024));
  return [...new Set(list)].sort((a, b) => a - b);
}

function writesPath(raw: string): WritesPath {
  if (raw === 'auto' || raw === 'kv' || raw === 'tx') return raw;
  throw new RangeError(`--writes-path (${raw}) must be one of auto, kv, tx`);
}

/** Every --node-flag must be a flag: a bare word would land before the CLI path and run as the script. */
function nodeFlags(raw: readonly string[]): readonly string[] {
  for (const f of raw)
    if (!f.startsWith('-')) throw new RangeError(`--node-flag (${f}) must be a flag, for example --node-flag=--single-threaded-gc`);
  return raw;
}
