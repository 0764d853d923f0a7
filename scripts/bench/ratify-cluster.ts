// A local 3-node Ratify cluster for the benchmark: `node dist/src/cli.js node`
// three times on free loopback ports, each with its own temporary data folder.
import { NODE_HEAP_FLAGS, nodeProcessEnv } from '../../src/node/local-cluster.js';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ALLOC_PROF_DIR_ENV } from './alloc-profile.js';
import type { HttpClients } from './http.js';
import { parsePrometheus } from './node-stats.js';
import { sleep } from './load.js';
import type { ProbedNode } from './node-stats.js';
import { freeLoopbackPorts } from './ports.js';
import type { Supervised, Supervisor } from './supervisor.js';

/** The allocation sampler a node preloads under --alloc-prof: the compiled file beside this one. */
const ALLOC_SAMPLER_URL = new URL('./alloc-sampler.js', import.meta.url).href;

export interface ClusterView {
  readonly nodeId: string;
  readonly role: string;
  readonly term: number;
  readonly leaderId: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
}

export interface RatifyNode {
  readonly id: string;
  readonly url: string;
  readonly dataDir: string;
  readonly logPath: string;
  /** null while the node is killed. */
  proc: Supervised | null;
}

export interface ClusterSpec {
  readonly cliPath: string;
  readonly size: number;
  /** Extra arguments for every node (for example `--state-machine kv`). */
  readonly extraArgs: readonly string[];
  /** Extra flags for every node's `node` process, after NODE_HEAP_FLAGS (for example a V8 GC flag to compare). */
  readonly nodeFlags: readonly string[];
  readonly label: string;
  /**
   * When set, nodes run under `node --cpu-prof` with profiles in <dir>/<label>-<id>.
   * Node writes a profile only on a clean exit, so the CLI must exit on SIGTERM.
   */
  readonly cpuProfDir: string | null;
  /** When set, nodes preload alloc-sampler.ts, with profiles in <dir>/<label>-<id> (alloc-profile.ts). */
  readonly allocProfDir: string | null;
}

const READY_TIMEOUT_MS = 60_000;
const POLL_MS = 100;

export class RatifyCluster {
  private constructor(
    readonly nodes: readonly RatifyNode[],
    private readonly spec: ClusterSpec,
    private readonly sup: Supervisor,
    private readonly http: HttpClients,
  ) {}

  static cliExists(cliPath: string): boolean {
    return existsSync(cliPath);
  }

  static async start(spec: ClusterSpec, sup: Supervisor, http: HttpClients): Promise<RatifyCluster> {
    const root = sup.tempDir(`ratify-bench-${spec.label}-`);
    const ports = await freeLoopbackPorts(spec.size);
    const nodes = ports.map((port, i): RatifyNode => {
      const id = `n${i + 1}`;
      const dir = join(root, id);
      mkdirSync(dir);
      return { id, url: `http://127.0.0.1:${port}`, dataDir: join(dir, 'data'), logPath: join(dir, 'node.log'), proc: null };
    });
    const cluster = new RatifyCluster(nodes, spec, sup, http);
    for (const node of nodes) cluster.launch(node);
    await cluster.waitForStableLeader(READY_TIMEOUT_MS, { caughtUp: true });
    return cluster;
  }

  /** Starts (or restarts, on the same data folder) one node. */
  launch(node: RatifyNode): void {
    const peers = this.nodes.map((n) => `${n.id}=${n.url}`).join(',');
    /** This node's own folder under a profile folder (one per node, every incarnation in it). */
    const profilesOf = (dir: string): string => join(dir, `${this.spec.label}-${node.id}`);
    node.proc = this.sup.spawn({
      name: this.processName(node),
      command: process.execPath,
      args: [
        // The V8 flags `ratify cluster` gives its nodes (see local-cluster.ts): measured as run.
        ...NODE_HEAP_FLAGS,
        ...this.spec.nodeFlags,
        ...(this.spec.cpuProfDir === null ? [] : ['--cpu-prof', '--cpu-prof-dir', profilesOf(this.spec.cpuProfDir)]),
        ...(this.spec.allocProfDir === null ? [] : [`--import=${ALLOC_SAMPLER_URL}`]),
        this.spec.cliPath,
        'node',
        '--id',
        node.id,
        '--listen',
        node.url.replace('http://', ''),
        '--peers',
        peers,
        '--data',
        node.dataDir,
        ...this.spec.extraArgs,
      ],
      logPath: node.logPath,
      env:
        this.spec.allocProfDir === null
          ? nodeProcessEnv()
          : { ...nodeProcessEnv(), [ALLOC_PROF_DIR_ENV]: profilesOf(this.spec.allocProfDir) },
    });
  }

  /** The name the supervisor knows the node's process by (the same for every incarnation). */
  processName(node: RatifyNode): string {
    return `ratify ${this.spec.label} ${node.id}`;
  }

  /** The live node processes, for pausing the cluster while another system is measured. */
  processes(): Supervised[] {
    return this.nodes.flatMap((n) => (n.proc === null ? [] : [n.proc]));
  }

  async kill(node: RatifyNode): Promise<void> {
    if (node.proc === null) return;
    await this.sup.kill(node.proc);
    node.proc = null;
    await this.http.forget(node.url);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.http.forget(n.url)));
    await Promise.all(this.nodes.map(async (n) => (n.proc === null ? undefined : this.sup.stop(n.proc))));
  }

  /** Live nodes with their PIDs, for the per-phase CPU and storage counters. */
  probedNodes(): ProbedNode[] {
    return this.liveNodes().map((n) => ({ id: n.id, url: n.url, pid: n.proc?.pid ?? null }));
  }

  liveNodes(): RatifyNode[] {
    return this.nodes.filter((n) => n.proc !== null && this.sup.isRunning(n.proc));
  }

  async view(node: RatifyNode): Promise<ClusterView | null> {
    try {
      return (await this.http.ok(node.url, 'GET', '/v1/cluster')) as ClusterView;
    } catch {
      return null;
    }
  }

  /** The node that calls itself leader in the highest term, if any. */
  async leader(): Promise<RatifyNode | null> {
    const views = await Promise.all(this.liveNodes().map(async (n) => ({ n, v: await this.view(n) })));
    let best: { n: RatifyNode; term: number } | null = null;
    for (const { n, v } of views) {
      if (v?.role === 'leader' && (best === null || v.term > best.term)) best = { n, term: v.term };
    }
    return best?.n ?? null;
  }

  /**
   * Waits until every live node names the same leader and (with caughtUp) has
   * applied all it knows is committed. Under load applied trails commit for an
   * instant on some node at almost every poll, so the failover loop asks only
   * for agreement.
   */
  async waitForStableLeader(timeoutMs: number, opts: { caughtUp: boolean }): Promise<RatifyNode> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      this.assertNoneExited();
      const live = this.liveNodes();
      const views = await Promise.all(live.map((n) => this.view(n)));
      const leaderIds = new Set(views.map((v) => v?.leaderId ?? null));
      const leaderId = [...leaderIds][0] ?? null;
      const caughtUp = !opts.caughtUp || views.every((v) => v !== null && v.appliedIndex >= v.commitIndex && v.commitIndex > 0);
      last = JSON.stringify(views);
      if (leaderIds.size === 1 && leaderId !== null && caughtUp) {
        const leader = this.nodes.find((n) => n.id === leaderId);
        if (leader !== undefined && live.includes(leader)) return leader;
      }
      await sleep(POLL_MS);
    }
    throw new Error(`no stable leader within ${timeoutMs} ms; last views ${last}; logs: ${this.nodes[0]?.logPath ?? ''}`);
  }

  /** The sum of one metric's samples on `node`'s metrics page; null when it cannot be read. */
  async metric(node: RatifyNode, name: string): Promise<number | null> {
    try {
      const res = await this.http.json(node.url, 'GET', '/metrics');
      return res.status === 200 && typeof res.body === 'string' ? (parsePrometheus(res.body).get(name) ?? null) : null;
    } catch {
      return null;
    }
  }

  /** Waits until `node` follows a leader and has applied at least `index`. */
  async waitCaughtUp(node: RatifyNode, index: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      this.assertNoneExited();
      const v = await this.view(node);
      if (v !== null && v.leaderId !== null && v.appliedIndex >= index) return;
      await sleep(POLL_MS);
    }
    throw new Error(`${node.id} did not catch up to index ${index} within ${timeoutMs} ms; see ${node.logPath}`);
  }

  private assertNoneExited(): void {
    for (const n of this.nodes) {
      if (n.proc !== null && !this.sup.isRunning(n.proc)) {
        throw new Error(`${n.proc.name} exited; see ${n.logPath}`);
      }
    }
  }
}
