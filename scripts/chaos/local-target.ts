// The local target: N `ratify node` processes and the two example banks, all on
// 127.0.0.1 with free ports, under a temp directory (or --data). Faults are signals
// sent by PID: SIGKILL, SIGSTOP/SIGCONT, SIGTERM + start. No partitions: processes on
// one loopback interface share one network.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readParticipantRecords, type BankEndpoint } from './bank.js';
import { ChildService } from './child.js';
import { httpJson, pollUntil } from './http.js';
import type { ChaosTarget, NodeEndpoint, RecordsResult } from './target.js';

export interface LocalTargetOptions {
  readonly nodes: number;
  /** Parent directory for this run's data and logs; null = a temp dir. */
  readonly dataDir: string | null;
  readonly runId: string;
  readonly nodeLogLevel: string;
  /** Extra flags for every node (for example a shorter election timeout). */
  readonly nodeArgs?: readonly string[];
  /** The banks' participant SDK timing. */
  readonly bankTiming?: BankTiming;
}

/** The participant SDK timing the runner gives its banks (see bankTiming()). */
export interface BankTiming {
  readonly resolveAfterMs: number;
  readonly threePcTimeoutMs: number;
  readonly inquiryTimeoutMs: number;
}

/**
 * Timing for banks under chaos: the given 3PC window, and inquiries quick enough that a
 * frozen cluster is found unreachable within it (the SDK's defaults, 10 s quiet and 5 s
 * per node asked, would take a minute before the 3PC rule could apply).
 */
export function bankTiming(threePcTimeoutMs: number): BankTiming {
  return { resolveAfterMs: Math.min(1_000, threePcTimeoutMs), threePcTimeoutMs, inquiryTimeoutMs: 500 };
}

export const BANK_NAMES = ['bank-a', 'bank-b'] as const;
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

export class LocalTarget implements ChaosTarget {
  readonly kind = 'local' as const;
  nodes: NodeEndpoint[] = [];
  banks: BankEndpoint[] = [];
  private root: string | null = null;
  private readonly nodeProcs = new Map<string, ChildService>();
  private readonly bankProcs = new Map<string, { proc: ChildService; dataDir: string }>();
  /** Nodes whose graceful stop ran out of grace. */
  private readonly forcedStops: string[] = [];

  constructor(private readonly o: LocalTargetOptions) {}

  async setUp(signal: AbortSignal): Promise<void> {
    const dist = distDir();
    const cli = join(dist, 'src', 'cli.js');
    const bankService = join(dist, 'examples', 'bank', 'bank-service.js');
    for (const f of [cli, bankService]) if (!existsSync(f)) throw new Error(`${f} is missing: run \`npm run build\` first`);
    // A fresh directory per run even under --data: node data is bound to its peer URLs.
    this.root = this.o.dataDir === null ? await mkdtemp(join(tmpdir(), 'ratify-chaos-')) : resolve(this.o.dataDir, `run-${this.o.runId}`);
    mkdirSync(join(this.root, 'logs'), { recursive: true });
    const ports = await freePorts(this.o.nodes + BANK_NAMES.length);
    this.nodes = Array.from({ length: this.o.nodes }, (_, i) => ({ id: `n${i + 1}`, url: `http://127.0.0.1:${ports[i]!}` }));
    const peers = this.nodes.map((n) => `${n.id}=${n.url}`).join(',');
    for (const [i, n] of this.nodes.entries()) {
      const dataDir = join(this.root, n.id);
      mkdirSync(dataDir, { recursive: true });
      const args = [cli, 'node', '--id', n.id, '--listen', `127.0.0.1:${ports[i]!}`, '--peers', peers, '--data', dataDir];
      args.push('--state-machine', 'tx', '--log-level', this.o.nodeLogLevel, ...(this.o.nodeArgs ?? []));
      this.nodeProcs.set(n.id, new ChildService(n.id, args, join(this.root, 'logs', `${n.id}.log`)));
    }
    for (const p of this.nodeProcs.values()) p.start();
    await Promise.all(this.nodes.map((n) => waitHealthy(n.url, this.nodeProcs.get(n.id)!, signal)));
    const coordinators = this.nodes.map((n) => n.url).join(',');
    for (const [i, name] of BANK_NAMES.entries()) {
      const port = ports[this.o.nodes + i]!;
      const dataDir = join(this.root, name);
      const args = [bankService, '--name', name, '--host', '127.0.0.1', '--port', String(port), '--data', dataDir, '--coordinators', coordinators];
      const t = this.o.bankTiming;
      if (t !== undefined) {
        args.push('--resolve-after-ms', String(t.resolveAfterMs), '--three-pc-timeout-ms', String(t.threePcTimeoutMs), '--inquiry-timeout-ms', String(t.inquiryTimeoutMs));
      }
      const proc = new ChildService(name, args, join(this.root, 'logs', `${name}.log`));
      this.bankProcs.set(name, { proc, dataDir });
      const url = `http://127.0.0.1:${port}`;
      this.banks.push({ name, url, participantUrl: `${url}/ratify` });
      proc.start();
    }
    await Promise.all(this.banks.map((b) => waitHealthy(b.url, this.bankProcs.get(b.name)!.proc, signal)));
  }

  async kill(id: string): Promise<void> {
    await this.node(id).kill();
  }

  async revive(id: string): Promise<void> {
    const p = this.node(id);
    if (!p.running) p.start();
  }

  async pause(id: string): Promise<void> {
    this.node(id).signal('SIGSTOP');
  }

  async resume(id: string): Promise<void> {
    const p = this.node(id);
    if (p.running) p.signal('SIGCONT');
  }

  async restart(id: string): Promise<void> {
    const p = this.node(id);
    if ((await p.stop(STOP_GRACE_MS)) === 'killed') this.forcedStops.push(id);
    p.start();
  }

  notes(): string[] {
    if (this.forcedStops.length === 0) return [];
    return [`${this.forcedStops.length} graceful restarts (${this.forcedStops.join(',')}) did not exit within ${STOP_GRACE_MS / 1000} s of SIGTERM and were SIGKILLed`];
  }

  async disconnect(id: string): Promise<void> {
    throw new Error(`the local target cannot partition ${id}: processes on loopback share one network`);
  }

  async reconnect(id: string): Promise<void> {
    await this.disconnect(id);
  }

  async readParticipantRecords(sinceMs: number): Promise<Map<string, RecordsResult>> {
    const out = new Map<string, RecordsResult>();
    for (const [name, { proc, dataDir }] of this.bankProcs) {
      // LevelDB admits one process: the bank must be down to read its store.
      await proc.stop(STOP_GRACE_MS);
      try {
        out.set(name, { kind: 'records', records: await readParticipantRecords(join(dataDir, 'participant'), sinceMs) });
      } catch (e) {
        out.set(name, { kind: 'unavailable', reason: `cannot read ${dataDir}/participant: ${(e as Error).message}` });
      }
    }
    return out;
  }

  logsHint(): string {
    return this.root === null ? '(not started)' : join(this.root, 'logs');
  }

  async tearDown(keep: boolean): Promise<void> {
    const all = [...this.nodeProcs.values(), ...[...this.bankProcs.values()].map((b) => b.proc)];
    await Promise.all(all.map((p) => p.kill().catch(() => undefined)));
    if (!keep && this.root !== null && this.o.dataDir === null) await rm(this.root, { recursive: true, force: true });
  }

  private node(id: string): ChildService {
    const p = this.nodeProcs.get(id);
    if (p === undefined) throw new Error(`no node ${id}`);
    return p;
  }
}

/** The compiled tree (dist/), found from this file whether it runs compiled or under vitest. */
export function distDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'ratify') return join(dir, 'dist');
    dir = dirname(dir);
  }
  throw new Error('cannot find the ratify package root above scripts/chaos');
}

async function waitHealthy(url: string, proc: ChildService, signal: AbortSignal): Promise<void> {
  const result = await pollUntil(
    START_TIMEOUT_MS,
    async () => {
      if (!proc.running) return 'exited' as const;
      const r = await httpJson('GET', `${url}/healthz`, { timeoutMs: 1_000 });
      return r.kind === 'reply' && r.status === 200 ? ('healthy' as const) : undefined;
    },
    100,
    signal,
  );
  if (result !== 'healthy') {
    const why = result === 'exited' ? 'it exited' : signal.aborted ? 'interrupted' : `no answer within ${START_TIMEOUT_MS} ms`;
    throw new Error(`${proc.name} (${url}) did not come up: ${why}`);
  }
}

/** Ports the OS reports free right now (bound, then released; a small race is accepted). */
async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      servers.push(
        await new Promise<Server>((res, rej) => {
          const s = createServer();
          s.once('error', rej);
          s.listen(0, '127.0.0.1', () => res(s));
        }),
      );
    }
    return servers.map((s) => {
      const a = s.address();
      if (a === null || typeof a === 'string') throw new Error('no port');
      return a.port;
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}
