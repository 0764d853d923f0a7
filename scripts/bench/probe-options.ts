// The memory probe's command line (scripts/memory-probe.ts) and what it reads
// of a node's V8 memory from /metrics, apart from the probe so both are tested
// without starting a cluster.
import { parseArgs } from 'node:util';
import { parsePrometheus, prometheusLabelled } from './node-stats.js';
import { parseOptions, type BenchOptions } from './options.js';

export const PROBE_USAGE = `Usage: node dist/scripts/memory-probe.js [options]

  --fill-tx <n>           finished transactions to retain before the first measurement (default 100000)
  --fill-concurrency <n>  workers for the fill (default 64)
  --kills <n>             leader kills after the fill, each followed by a restart and catch-up (default 3; 0: none)
  --node-arg <arg>        extra argument for every node, as --node-arg=<arg> when it starts with - (repeatable)
  --node-flag <flag>      extra flag for every node's node process, as --node-flag=<flag>,
                          e.g. --node-flag=--heap-growing-percent=25 (repeatable; as in the bench)
  --idempotency-keys      give every transaction of the fill an Idempotency-Key, as the SDK's
                          create() does by default (a random UUID)
  --pause-after-fill      wait for Enter after the fill (to take heap snapshots by signal)
  -h, --help              this text
`;

export interface ProbeOptions {
  /** The bench's options the probe's cluster and fill use, with the probe's own fields. */
  readonly bench: BenchOptions;
  readonly fillConcurrency: number;
  /** Leader kills after the fill; 0: none (bench.kills is at least 1, as the bench's failover phase needs). */
  readonly kills: number;
  readonly pauseAfterFill: boolean;
  readonly idempotencyKeys: boolean;
}

export type ProbeArgs =
  | { readonly kind: 'help' }
  | { readonly kind: 'run'; readonly opts: ProbeOptions }
  | { readonly kind: 'usage'; readonly error: string };

const PROBE_ARGS = {
  'fill-tx': { type: 'string' },
  'fill-concurrency': { type: 'string' },
  kills: { type: 'string' },
  'node-arg': { type: 'string', multiple: true },
  'node-flag': { type: 'string', multiple: true },
  'pause-after-fill': { type: 'boolean' },
  'idempotency-keys': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function parseProbeArgs(argv: readonly string[]): ProbeArgs {
  let values: ReturnType<typeof parseArgs<{ args: string[]; options: typeof PROBE_ARGS }>>['values'];
  try {
    ({ values } = parseArgs({ args: [...argv], options: PROBE_ARGS }));
  } catch (err) {
    // An unknown option, or a value that starts with - without the = form.
    return { kind: 'usage', error: err instanceof Error ? err.message : String(err) };
  }
  if (values.help === true) return { kind: 'help' };
  const fillTx = Number(values['fill-tx'] ?? 100_000);
  const fillConcurrency = Number(values['fill-concurrency'] ?? 64);
  const kills = Number(values.kills ?? 3);
  if (![fillTx, fillConcurrency, kills].every((n) => Number.isInteger(n) && n >= 0) || fillConcurrency === 0) {
    return { kind: 'usage', error: '--fill-tx, --fill-concurrency and --kills take whole numbers' };
  }
  // The bench's own parser checks the node flags (a bare word would land before the CLI path and run as the script).
  let bench: BenchOptions;
  try {
    bench = parseOptions(
      (values['node-flag'] ?? []).map((f) => `--node-flag=${f}`),
      {},
    );
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return { kind: 'usage', error: err.message };
  }
  return {
    kind: 'run',
    opts: {
      bench: { ...bench, kills: Math.max(1, kills), fillTx, nodeArgs: values['node-arg'] ?? [] },
      fillConcurrency,
      kills,
      pauseAfterFill: values['pause-after-fill'] === true,
      idempotencyKeys: values['idempotency-keys'] === true,
    },
  };
}

/** A node's V8 memory as its default Prometheus metrics (prom-client's process.memoryUsage() and heap spaces) report it; bytes, null where absent. */
export interface V8Memory {
  readonly heapUsed: number | null;
  readonly heapTotal: number | null;
  /** Of heapTotal, the young generation (V8's new space: two semi-spaces). The rest is old generation, code and large objects. */
  readonly youngTotal: number | null;
  readonly external: number | null;
}

export function v8MemoryOf(metricsText: string): V8Memory {
  const m = parsePrometheus(metricsText);
  const get = (name: string): number | null => m.get(name) ?? null;
  return {
    heapUsed: get('nodejs_heap_size_used_bytes'),
    heapTotal: get('nodejs_heap_size_total_bytes'),
    youngTotal: prometheusLabelled(metricsText, 'nodejs_heap_space_size_total_bytes', 'space').get('new') ?? null,
    external: get('nodejs_external_memory_bytes'),
  };
}
