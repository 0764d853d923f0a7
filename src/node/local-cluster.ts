// `ratify cluster`: a development cluster of N child `ratify node` processes on
// 127.0.0.1. Children are tracked by PID; their output is forwarded line by line
// with a [id] prefix. SIGINT/SIGTERM stops every child (SIGTERM, then SIGKILL after
// a grace period) before this process exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { formatLogLine, type PrettyOptions } from '../log-format.js';

export interface LocalClusterOptions {
  readonly nodes: number;
  readonly basePort: number;
  readonly host: string;
  readonly dataDir: string;
  /** Path of the compiled cli.js to run each child with. */
  readonly cliPath: string;
  /** Flags passed to every child unchanged. */
  readonly extraArgs: readonly string[];
  /** Relay the children's JSON log lines as readable lines (this process's stdout is a terminal). */
  readonly relayPretty?: PrettyOptions;
}

export const LOCAL_CLUSTER_NODES_MAX = 9;

/**
 * V8 flags for a Ratify node process (`node <flags> cli.js node ...`): the heap's
 * growth and young generation, the size of V8's worker pool, and no optimizing
 * compiler for WebAssembly.
 * Measured on a 3-node tx cluster filled with 100,000 finished transactions
 * (64 concurrent clients): with V8's defaults the leader peaked at ~325 MiB
 * resident, about 200 MiB of it old-space garbage waiting for a full GC (V8
 * lets the old generation grow to up to 4x the live heap when collecting looks
 * cheap, and the leader promotes ~10% of what it allocates: participant calls
 * and proposals outlive a young collection under load). A fixed growth factor
 * of 1.5 and 8 MiB semi-spaces (16 instead of 32 MiB of young generation)
 * brought the leader to ~186 MiB and followers to ~174 MiB, at the cost of
 * more collections (about 15% fewer transactions per second in short runs on
 * a busy 2-core machine). Neither caps the heap: a large configured retention
 * grows it as needed instead of failing with out-of-memory.
 * 2 MiB semi-spaces were tried on 2026-12-05: ~15 MiB less RSS per node, but
 * in alternating bench runs (`bench --skip-etcd --skip-failover --fill-tx 0
 * --concurrency 16,64`, 2 runs each) 6-8% fewer transactions per second and a
 * p99 at c=64 of 63-65 instead of 57-58 ms, so 8 MiB stays.
 * --heap-growing-percent=25 was tried on 2026-12-06 (5 alternating pairs, same
 * command): the leader 15-25 MiB smaller, but 0.56 instead of 0.48 CPU ms per
 * transaction and fewer transactions per second at c=64 in every pair, so 50
 * stays (scripts/bench/results/README.md, "The memory experiments of 2026-12-06").
 */
/*
 * --v8-pool-size=1: V8's worker threads (parallel scavenges, concurrent
 * marking, background compiles) are 4 per process by default, whatever the
 * machine. Three nodes, the participants and a load generator on two cores
 * then have a dozen GC helpers contending with the event loops: on the
 * benchmark, the transaction leader's main thread was ready to run but waiting
 * for a core 29-37 % of each phase at 16 and 64 (/proc/PID/schedstat, the
 * bench's "waiting for a core" column). With one worker each, 3 alternating
 * pairs (`bench --skip-etcd --skip-failover --fill-tx 0 --concurrency 16,64`,
 * 2026-12-06): the leader waiting 21-29 %, p99 at 16 lower in every pair
 * (writes 16.7-16.8 against 21.6-25.4 ms, transactions 31.0-34.4 against
 * 40.8-45.2 ms), at 64 lower or equal, throughput unchanged within the noise;
 * two workers waited 26 % and were no better than one. A node alone on a
 * large machine may do better with Node's default: start it with your own flags.
 */
/*
 * --no-wasm-dynamic-tiering --no-wasm-tier-up: WebAssembly stays in Liftoff,
 * V8's baseline compiler. The only WebAssembly a node runs is undici's HTTP
 * parser (llhttp), which reads the answers to the node's own HTTP calls: the
 * leader's participant calls above all. Once it is hot, V8 recompiles
 * it with TurboFan, whose register allocator needs about 36 MiB of malloc for
 * llhttp's one huge state-machine function (heaptrack, 2026-12-07: 36.0 of the
 * leader's 41.3 MiB malloc peak; a follower, which calls no participant, peaks
 * at 19.5). The memory is freed at once, but glibc keeps the grown heap: that
 * was the leader's 40-43 MiB `[heap]` against a follower's 20-25. Both flags
 * are needed: --no-wasm-tier-up alone still tiers up dynamically (the test
 * checks this node keeps a hot function in Liftoff). Measured in
 * scripts/bench/results/README.md, "WebAssembly kept in Liftoff".
 */
export const NODE_HEAP_FLAGS: readonly string[] = [
  '--heap-growing-percent=50',
  '--max-semi-space-size=8',
  '--v8-pool-size=1',
  '--no-wasm-dynamic-tiering',
  '--no-wasm-tier-up',
];

/**
 * Environment defaults for a Ratify node process; the caller's environment wins.
 * MALLOC_ARENA_MAX=2: glibc gives each thread that allocates its own malloc arena
 * (up to 8 per core), and LevelDB's and libuv's threads free memory the main
 * thread allocated and the other way round, so freed pages stay scattered over
 * many arenas. Measured on the benchmark's transaction cluster with 100,000
 * finished transactions: followers' RSS 167-173 -> ~151 MiB, peak RSS 174-186
 * -> 162-176 MiB, with no transaction-rate difference outside the noise of
 * alternating quick runs (1,976 and 2,378 tx/s at 64 without, 2,238 and 2,114
 * with). Read by glibc at process start, so it must be set by whoever starts
 * the process: `ratify cluster`, the benchmark and the container image do.
 *
 * MALLOC_MMAP_THRESHOLD_=262144: an allocation of 256 KiB or more gets pages of
 * its own and gives them back when freed. glibc's default threshold moves up to
 * the size of the largest block freed (up to 32 MiB), so after a restart (the
 * snapshot file read whole, 1 MiB Raft frames while catching up) such buffers
 * came from the main heap, which never shrinks past what is still in use above
 * them: in 2 of 6 memory-probe runs (2026-12-07) a node's `[heap]` reached 51-57
 * MiB during the leader kills and its whole-run peak 181-196 MiB, against at most
 * 24 MiB and 165-177 MiB in 5 of 5 runs with the threshold fixed. Nothing in the
 * steady state allocates that much at once, so it costs no measurable CPU
 * (alternating bench runs, scripts/bench/results/README.md, "A fixed mmap
 * threshold").
 * Tried before and taken out again: a fixed MALLOC_MMAP_THRESHOLD_=65536 (with
 * MALLOC_TRIM_THRESHOLD_), when the leader's heap was grown by V8's WebAssembly
 * compiler (see NODE_HEAP_FLAGS). With it the container chaos scenario that
 * freezes the leader for 30 s failed 2 runs of 3 (the unfrozen node, back as a
 * follower, went on to campaign before it heard from the new leader, and could
 * not be listed), against 13 of 13 passing without it (on three commits); at
 * 64 KiB many of every request's buffers get pages of their own.
 */
export const NODE_ENV_DEFAULTS: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '262144' };

/** The environment to start a node process with: NODE_ENV_DEFAULTS under `base`. */
export function nodeProcessEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...NODE_ENV_DEFAULTS, ...base };
}

const STOP_GRACE_MS = 10_000;

interface Child {
  readonly id: string;
  readonly url: string;
  readonly proc: ChildProcess;
  exited: boolean;
}

export function validateLocalCluster(o: LocalClusterOptions): string[] {
  const errors: string[] = [];
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > LOCAL_CLUSTER_NODES_MAX) {
    errors.push(`nodes (${o.nodes}) must be between 1 and ${LOCAL_CLUSTER_NODES_MAX}`);
  }
  if (!Number.isInteger(o.basePort) || o.basePort < 1 || o.basePort + o.nodes - 1 > 65535) {
    errors.push(`basePort (${o.basePort}) must be between 1 and ${65536 - o.nodes} for ${o.nodes} nodes`);
  }
  return errors;
}

/**
 * With --tls-cert the nodes serve HTTPS and their peer URLs are https://. Each node
 * needs a certificate naming its own id for mutual TLS, so "{id}" in any flag passed
 * through becomes the node's id: --tls-cert certs/{id}.pem --tls-key certs/{id}.key.
 */
export function nodeArgsFor(id: string, extraArgs: readonly string[]): string[] {
  return extraArgs.map((a) => a.replaceAll('{id}', id));
}

function usesTls(extraArgs: readonly string[]): boolean {
  return extraArgs.some((a) => a === '--tls-cert' || a.startsWith('--tls-cert='));
}

/** One node of the cluster: its id, URL, data directory and `ratify node` arguments. */
export interface LocalNodePlan {
  readonly id: string;
  readonly url: string;
  readonly dataDir: string;
  readonly args: readonly string[];
}

export function planLocalCluster(o: LocalClusterOptions): LocalNodePlan[] {
  const ids = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
  const scheme = usesTls(o.extraArgs) ? 'https' : 'http';
  const urlOf = (i: number): string => `${scheme}://${o.host}:${o.basePort + i}`;
  const peers = ids.map((id, i) => `${id}=${urlOf(i)}`).join(',');
  return ids.map((id, i) => {
    const dataDir = resolve(join(o.dataDir, id));
    const args = [
      '--id',
      id,
      '--listen',
      `${o.host}:${o.basePort + i}`,
      '--peers',
      peers,
      '--data',
      dataDir,
      ...nodeArgsFor(id, o.extraArgs),
    ];
    return { id, url: urlOf(i), dataDir, args };
  });
}

/** Runs until a signal stops it; resolves with the exit code to use. Check the plan first (cluster-preflight.ts). */
export function runLocalCluster(o: LocalClusterOptions): Promise<number> {
  const children: Child[] = planLocalCluster(o).map((plan) => {
    const { id, dataDir } = plan;
    mkdirSync(dataDir, { recursive: true });
    const args = [...NODE_HEAP_FLAGS, o.cliPath, 'node', ...plan.args];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: nodeProcessEnv() });
    const child: Child = { id, url: plan.url, proc, exited: false };
    prefixLines(proc.stdout, id, process.stdout, o.relayPretty);
    prefixLines(proc.stderr, id, process.stderr, o.relayPretty);
    return child;
  });
  printEndpoints(children, o.dataDir);

  return new Promise((done) => {
    let stopping = false;
    const finish = (code: number): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      done(code);
    };
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      process.stdout.write(`[cluster] ${signal}: stopping ${children.filter((c) => !c.exited).length} node(s)\n`);
      void stopChildren(children).then(() => finish(0));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    for (const c of children) {
      c.proc.on('exit', (code, signal) => {
        c.exited = true;
        if (!stopping) process.stderr.write(`[cluster] ${c.id} (pid ${c.proc.pid}) exited (code ${code}, signal ${signal})\n`);
        if (!stopping && children.every((x) => x.exited)) finish(1);
      });
    }
  });
}

function printEndpoints(children: readonly Child[], dataDir: string): void {
  const lines = [
    `[cluster] ${children.length} Ratify node(s) on loopback, data under ${resolve(dataDir)}:`,
    ...children.map((c) => `[cluster]   ${c.id}  ${c.url}  (pid ${c.proc.pid})`),
    `[cluster] status: curl ${children[0]?.url ?? ''}/v1/cluster   stop: Ctrl-C`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function prefixLines(
  stream: NodeJS.ReadableStream | null,
  id: string,
  out: NodeJS.WritableStream,
  pretty: PrettyOptions | undefined,
): void {
  if (stream === null) return;
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => out.write(relayLine(id, line, pretty)));
}

/** A child's output line as this process prints it: prefixed with the node id, readable when `pretty` (JSON lines only; others unchanged). */
export function relayLine(id: string, line: string, pretty: PrettyOptions | undefined): string {
  const text = pretty === undefined ? line : formatLogLine(line, pretty);
  return text
    .split('\n')
    .map((l) => `[${id}] ${l}\n`)
    .join('');
}

async function stopChildren(children: readonly Child[]): Promise<void> {
  const live = children.filter((c) => !c.exited && c.proc.pid !== undefined);
  for (const c of live) signalPid(c.proc.pid, 'SIGTERM');
  await Promise.all(live.map((c) => waitExit(c, STOP_GRACE_MS)));
  for (const c of live) if (!c.exited) signalPid(c.proc.pid, 'SIGKILL');
  await Promise.all(live.map((c) => waitExit(c, STOP_GRACE_MS)));
}

function signalPid(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function waitExit(c: Child, timeoutMs: number): Promise<void> {
  if (c.exited) return Promise.resolve();
  return new Promise((resolveWait) => {
    const timer = setTimeout(resolveWait, timeoutMs);
    c.proc.once('exit', () => {
      clearTimeout(timer);
      resolveWait();
    });
  });
}
