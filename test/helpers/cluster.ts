// Real multi-process Ratify clusters for tests: N `node dist/src/cli.js node ...`
// processes on 127.0.0.1 with free ports and temp data directories.
//
// Reusable by any suite (raw-consensus failover, transaction failover, chaos):
//
//   const cluster = await startCluster({ nodes: 3, stateMachine: 'kv', args: ['--snapshot-threshold-entries', '20'] });
//   afterAll(() => cluster.cleanup());          // kills by PID and removes the temp dir, even after a failure
//   const { leaderId } = await cluster.waitForLeader();
//   await cluster.stopNode(leaderId);           // SIGKILL by default
//   await cluster.restartNode(leaderId);        // same id, port, data directory and flags
//
// Needs a build (`npm run build`; `npm test` runs it as pretest). Set
// RATIFY_TEST_LOGS=1 to echo node output; cluster.dumpLogs() returns it anyway.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Dispatcher } from 'undici';
import { httpJson, type HttpJsonOptions } from './http.js';
import { sleep, waitUntil } from './wait.js';
import type { ClusterView as SdkClusterView } from '../../src/sdk/client-types.js';

export const CLI_PATH = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));
const LOG_LINES_MAX = 5000;

export interface TestClusterOptions {
  /** Default 3. */
  readonly nodes?: number;
  /**
   * Extra nodes (ids after the initial ones) that are not initial voters: they are
   * not started by startCluster, and startNode runs them with `--join true` and
   * `--peers` listing the initial voters and themselves. Add them over the admin API.
   */
  readonly joiners?: number;
  /** Default 'kv' (raw consensus); 'tx' runs the transaction coordinator. */
  readonly stateMachine?: 'kv' | 'tx';
  /** Extra flags for every node, e.g. ['--snapshot-threshold-entries', '20']. */
  readonly args?: readonly string[];
  /** Extra flags for one node, by id. */
  readonly nodeArgs?: Readonly<Record<string, readonly string[]>>;
  readonly env?: Readonly<Record<string, string>>;
  /** Extra environment for one node, by id. */
  readonly nodeEnv?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Listen on these ports (one per node) instead of free ones picked here. */
  readonly ports?: readonly number[];
  /**
   * The URL the other nodes reach a node at, by id (default its own): a TCP proxy in
   * front of it (tcp-proxy.ts) can then cut the traffic to it while clients still reach it.
   */
  readonly peerUrls?: Readonly<Record<string, string>>;
  readonly clusterSecret?: string;
  /** Default 'info'. */
  readonly logLevel?: string;
  readonly echoLogs?: boolean;
  /** Bound on each node's start (until /healthz answers). Default 30 s. */
  readonly startTimeoutMs?: number;
  /** Runs once the nodes' ports and data directories are chosen, before any starts (e.g. to restore a backup into them). */
  readonly prepare?: (nodes: readonly TestNode[]) => Promise<void>;
  /** https:// peer URLs (pass the TLS flags in args or nodeArgs), and the Agent the helper's own calls use. */
  readonly https?: { readonly dispatcher: Dispatcher };
}

/** GET /v1/cluster as the SDK types it, plus the node's snapshot index (an extra field tests read). */
export type ClusterView = SdkClusterView & { readonly snapshotIndex?: number };

export interface TestNode {
  readonly id: string;
  readonly port: number;
  readonly url: string;
  readonly dataDir: string;
  proc: ChildProcess | null;
  /** Exit of the last incarnation, once it has exited. */
  lastExit: { code: number | null; signal: NodeJS.Signals | null } | null;
  /** Output of every incarnation (bounded), oldest first. */
  readonly logs: string[];
}

// Safety net: whatever happens to the test, no node process outlives the worker.
const livePids = new Set<number>();
process.once('exit', () => {
  for (const pid of livePids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

export async function startCluster(opts: TestClusterOptions = {}): Promise<TestCluster> {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run \`npm run build\` first`);
  const n = opts.nodes ?? 3;
  const total = n + (opts.joiners ?? 0);
  const ports = opts.ports ?? (await freePorts(total));
  if (ports.length !== total) throw new Error(`ports lists ${ports.length} ports for ${total} nodes`);
  const root = mkdtempSync(join(tmpdir(), 'ratify-cluster-'));
  const nodes: TestNode[] = ports.map((port, i) => ({
    id: `n${i + 1}`,
    port,
    url: `${opts.https === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    dataDir: join(root, `n${i + 1}`),
    proc: null,
    lastExit: null,
    logs: [],
  }));
  const cluster = new TestCluster(root, nodes, opts);
  try {
    await opts.prepare?.(nodes);
    await Promise.all(nodes.slice(0, n).map((node) => cluster.startNode(node.id)));
  } catch (err) {
    const logs = cluster.dumpLogs();
    await cluster.cleanup();
    throw new Error(`cluster failed to start: ${(err as Error).message}\n${logs}`);
  }
  return cluster;
}

export class TestCluster {
  constructor(
    readonly root: string,
    readonly nodes: readonly TestNode[],
    private readonly opts: TestClusterOptions,
  ) {}

  node(id: string): TestNode {
    const n = this.nodes.find((x) => x.id === id);
    if (n === undefined) throw new Error(`no test node ${id}`);
    return n;
  }

  url(id: string): string {
    return this.node(id).url;
  }

  /** Nodes whose process is running. */
  live(): TestNode[] {
    return this.nodes.filter((n) => n.proc !== null);
  }

  /** The initial voters. */
  get initial(): readonly TestNode[] {
    return this.nodes.slice(0, this.opts.nodes ?? 3);
  }

  isJoiner(id: string): boolean {
    return !this.initial.some((n) => n.id === id);
  }

  /** --peers for `id`: the initial voters, plus itself when it is a joiner (peerUrls may stand in for a node's URL). */
  peersFlag(id?: string): string {
    const peers = id !== undefined && this.isJoiner(id) ? [...this.initial, this.node(id)] : this.initial;
    return peers.map((n) => `${n.id}=${this.opts.peerUrls?.[n.id] ?? n.url}`).join(',');
  }

  /** Options for httpJson against these nodes (the https Agent, if any). */
  http(timeoutMs: number): HttpJsonOptions {
    return { timeoutMs, ...(this.opts.https === undefined ? {} : { dispatcher: this.opts.https.dispatcher }) };
  }

  /** Headers for admin calls (cluster secret), empty without a secret. */
  adminHeaders(): Record<string, string> {
    return this.opts.clusterSecret === undefined ? {} : { 'x-ratify-secret': this.opts.clusterSecret };
  }

  /** Spawn the node (again) with its id, port, data dir and flags; resolves once /healthz answers. */
  async startNode(id: string): Promise<void> {
    const node = this.node(id);
    if (node.proc !== null) throw new Error(`${id} is already running (pid ${node.proc.pid})`);
    mkdirSync(node.dataDir, { recursive: true });
    const o = this.opts;
    const args = [
      CLI_PATH,
      'node',
      ...['--id', id, '--listen', `127.0.0.1:${node.port}`, '--peers', this.peersFlag(id), '--data', node.dataDir],
      ...(this.isJoiner(id) ? ['--join', 'true'] : []),
      ...['--state-machine', o.stateMachine ?? 'kv', '--log-level', o.logLevel ?? 'info'],
      ...(o.clusterSecret === undefined ? [] : ['--cluster-secret', o.clusterSecret]),
      ...(o.args ?? []),
      ...(o.nodeArgs?.[id] ?? []),
    ];
    const proc = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...(o.env ?? {}), ...(o.nodeEnv?.[id] ?? {}) },
    });
    if (proc.pid === undefined) throw new Error(`could not spawn ${id}`);
    node.proc = proc;
    node.lastExit = null;
    livePids.add(proc.pid);
    const pid = proc.pid;
    this.capture(node, `---- ${id} started, pid ${pid} ----`);
    const echo = o.echoLogs ?? process.env['RATIFY_TEST_LOGS'] === '1';
    for (const stream of [proc.stdout, proc.stderr]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        this.capture(node, line);
        if (echo) process.stderr.write(`[${id}] ${line}\n`);
      });
    }
    // 'close' rather than 'exit': it fires after stdout/stderr are drained, so logs are complete.
    proc.once('close', (code, signal) => {
      livePids.delete(pid);
      if (node.proc === proc) node.proc = null;
      node.lastExit = { code, signal };
      this.capture(node, `---- ${id} (pid ${pid}) exited: code ${code}, signal ${signal} ----`);
    });
    // Fail fast if the process dies during start-up (bad config, corrupt data dir).
    let onEarlyExit: (() => void) | null = null;
    const earlyExit = new Promise<never>((_, reject) => {
      onEarlyExit = () => reject(new Error(`${id} exited during start-up: ${JSON.stringify(node.lastExit)}`));
      proc.once('close', onEarlyExit);
    });
    const healthy = waitUntil(
      async () => node.proc !== proc || (await httpJson('GET', `${node.url}/healthz`, this.http(1000))).status === 200,
      {
        timeoutMs: o.startTimeoutMs ?? 30_000,
        intervalMs: 50,
        what: `${id} to answer /healthz`,
      },
    );
    try {
      await Promise.race([healthy, earlyExit]);
    } finally {
      if (onEarlyExit !== null) proc.off('close', onEarlyExit);
      healthy.catch(() => undefined);
      earlyExit.catch(() => undefined);
    }
  }

  /** Stop one node by PID (SIGKILL by default: a crash) and wait for the process to exit. */
  async stopNode(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const node = this.node(id);
    const proc = node.proc;
    if (proc === null || proc.pid === undefined) throw new Error(`${id} is not running`);
    const exited = new Promise<void>((resolve) => proc.once('close', () => resolve()));
    process.kill(proc.pid, signal);
    await Promise.race([exited, sleep(15_000)]);
    if (node.proc === proc) {
      process.kill(proc.pid, 'SIGKILL');
      await exited;
    }
    return node.lastExit ?? { code: null, signal: null };
  }

  /** Start a stopped node again (same data directory). */
  async restartNode(id: string): Promise<void> {
    if (this.node(id).proc !== null) await this.stopNode(id);
    await this.startNode(id);
  }

  async view(id: string): Promise<ClusterView> {
    const res = await httpJson<ClusterView>('GET', `${this.url(id)}/v1/cluster`, this.http(2000));
    if (res.status !== 200) throw new Error(`GET /v1/cluster on ${id}: ${res.status}`);
    return res.body;
  }

  async metrics(id: string): Promise<string> {
    const res = await httpJson<string>('GET', `${this.url(id)}/metrics`, this.http(2000));
    return res.body;
  }

  /**
   * Waits until a live node says it is leader and a majority of the whole cluster
   * (counting it) reports that leader in the same term.
   */
  async waitForLeader(
    opts: { timeoutMs?: number; among?: readonly string[]; quorum?: number } = {},
  ): Promise<{ leaderId: string; term: number; url: string }> {
    const quorum = opts.quorum ?? Math.floor(this.initial.length / 2) + 1;
    return waitUntil(
      async () => {
        const ids = opts.among ?? this.live().map((n) => n.id);
        const views = (await Promise.allSettled(ids.map((id) => this.view(id)))).flatMap((r) =>
          r.status === 'fulfilled' ? [r.value] : [],
        );
        const leader = views.filter((v) => v.role === 'leader').sort((a, b) => b.term - a.term)[0];
        if (leader === undefined) return undefined;
        const agree = views.filter((v) => v.term === leader.term && v.leaderId === leader.nodeId).length;
        return agree >= quorum ? { leaderId: leader.nodeId, term: leader.term, url: this.url(leader.nodeId) } : undefined;
      },
      { timeoutMs: opts.timeoutMs ?? 30_000, intervalMs: 50, what: 'a leader acknowledged by a quorum' },
    );
  }

  /** Waits until node `id` has applied at least `index`. */
  async waitForApplied(id: string, index: number, timeoutMs = 30_000): Promise<ClusterView> {
    return waitUntil(
      async () => {
        const v = await this.view(id);
        return v.appliedIndex >= index ? v : undefined;
      },
      { timeoutMs, what: `${id} to apply index ${index}` },
    );
  }

  dumpLogs(ids?: readonly string[]): string {
    return this.nodes
      .filter((n) => ids === undefined || ids.includes(n.id))
      .map((n) => `==== ${n.id} ====\n${n.logs.join('\n')}`)
      .join('\n');
  }

  /** Kill every node by PID and remove the temp directory. Safe to call twice. */
  async cleanup(): Promise<void> {
    await Promise.all(this.live().map((n) => this.stopNode(n.id, 'SIGKILL').catch(() => undefined)));
    rmSync(this.root, { recursive: true, force: true });
  }

  private capture(node: TestNode, line: string): void {
    node.logs.push(line);
    if (node.logs.length > LOG_LINES_MAX) node.logs.splice(0, node.logs.length - LOG_LINES_MAX);
  }
}

/** Ports the OS reports free right now (bound then released; a small race is accepted). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import('node:net').Server>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const addr = s.address();
    if (addr === null || typeof addr === 'string') throw new Error('no port');
    return addr.port;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}
