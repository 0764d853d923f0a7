// The local target: N `ratify node` processes and the two example banks (none in kv
// mode: nothing enlists them), all on 127.0.0.1 with free ports, under a temp directory
// (or --data). Faults are signals sent by PID: SIGKILL, SIGSTOP/SIGCONT, SIGTERM + start,
// and for membership churn a wipe of a removed node's data and a start with --join. No
// partitions: processes on one loopback interface share one network.
//
// Secured as production should be: a cluster secret from a file and HTTPS with mutual
// TLS between the nodes, from a throwaway CA made for the run (scripts/dev-certs.ts).
// The banks and this runner trust that CA to reach the nodes. Participant calls are
// signed: the nodes get a --participant-keys-file with one key per bank, and each bank
// its own key (RATIFY_PARTICIPANT_KEY), so a bank refuses any unsigned call. Client
// tokens are on: the runner calls with an admin token, the banks ask with a reader one.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readParticipantRecords, type BankEndpoint } from './bank.js';
import { ChildService } from './child.js';
import { makeClusterCerts } from '../dev-certs.js';
import { authorizeWith, httpJson, pollUntil, trustCa } from './http.js';
import type { ParticipantKind } from './options.js';
import { PostgresBanks } from './postgres-banks.js';
import type { ChaosTarget, NodeEndpoint, RecordsResult } from './target.js';

export interface LocalTargetOptions {
  readonly nodes: number;
  /** Parent directory for this run's data and logs; null = a temp dir. */
  readonly dataDir: string | null;
  readonly runId: string;
  readonly nodeLogLevel: string;
  /** What the nodes run; kv starts no banks. Default tx. */
  readonly stateMachine?: 'tx' | 'kv';
  /** Extra flags for every node (for example a shorter election timeout). */
  readonly nodeArgs?: readonly string[];
  /** Default 'bank' (the example's LevelDB banks); 'postgres': databases of a throwaway PostgreSQL. */
  readonly participants?: ParticipantKind;
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
  /** How each node is started, for a rejoin after a wipe. */
  private readonly nodeLaunch = new Map<string, { readonly args: readonly string[]; readonly dataDir: string; readonly logFile: string }>();
  private readonly bankProcs = new Map<string, { proc: ChildService; dataDir: string }>();
  /** Nodes whose graceful stop ran out of grace. */
  private readonly forcedStops: string[] = [];
  private postgres: PostgresBanks | null = null;

  constructor(private readonly o: LocalTargetOptions) {}

  async setUp(signal: AbortSignal): Promise<void> {
    const dist = distDir();
    const cli = join(dist, 'src', 'cli.js');
    const pg = this.o.participants === 'postgres';
    const bankService = join(dist, 'examples', pg ? 'postgres' : 'bank', pg ? 'pg-bank-service.js' : 'bank-service.js');
    for (const f of [cli, bankService]) if (!existsSync(f)) throw new Error(`${f} is missing: run \`npm run build\` first`);
    // A fresh directory per run even under --data: node data is bound to its peer URLs.
    this.root = this.o.dataDir === null ? await mkdtemp(join(tmpdir(), 'ratify-chaos-')) : resolve(this.o.dataDir, `run-${this.o.runId}`);
    mkdirSync(join(this.root, 'logs'), { recursive: true });
    const bankNames = this.o.stateMachine === 'kv' ? [] : BANK_NAMES;
    const ports = await freePorts(this.o.nodes + bankNames.length);
    this.nodes = Array.from({ length: this.o.nodes }, (_, i) => ({ id: `n${i + 1}`, url: `https://127.0.0.1:${ports[i]!}` }));
    const security = this.secure(
      this.nodes.map((n) => n.id),
      bankNames,
    );
    const peers = this.nodes.map((n) => `${n.id}=${n.url}`).join(',');
    for (const [i, n] of this.nodes.entries()) {
      const dataDir = join(this.root, n.id);
      mkdirSync(dataDir, { recursive: true });
      const args = [
        cli,
        'node',
        '--id',
        n.id,
        '--listen',
        `127.0.0.1:${ports[i]!}`,
        '--peers',
        peers,
        '--data',
        dataDir,
        ...security.nodeArgs(n.id),
      ];
      args.push('--state-machine', this.o.stateMachine ?? 'tx', '--log-level', this.o.nodeLogLevel, ...(this.o.nodeArgs ?? []));
      const logFile = join(this.root, 'logs', `${n.id}.log`);
      this.nodeLaunch.set(n.id, { args, dataDir, logFile });
      this.nodeProcs.set(n.id, new ChildService(n.id, args, logFile));
    }
    for (const p of this.nodeProcs.values()) p.start();
    await Promise.all(this.nodes.map((n) => waitHealthy(n.url, this.nodeProcs.get(n.id)!, signal)));
    const coordinators = this.nodes.map((n) => n.url).join(',');
    if (pg && bankNames.length > 0) this.postgres = await PostgresBanks.start(bankNames, join(this.root, 'logs'));
    for (const [i, name] of bankNames.entries()) {
      const port = ports[this.o.nodes + i]!;
      const dataDir = join(this.root, name);
      const args =
        this.postgres === null
          ? [bankService, '--name', name, '--host', '127.0.0.1', '--port', String(port), '--data', dataDir, '--coordinators', coordinators]
          : [bankService, ...this.postgres.serviceArgs(name, port, coordinators)];
      const t = this.o.bankTiming;
      if (t !== undefined) {
        args.push(
          '--resolve-after-ms',
          String(t.resolveAfterMs),
          '--three-pc-timeout-ms',
          String(t.threePcTimeoutMs),
          '--inquiry-timeout-ms',
          String(t.inquiryTimeoutMs),
        );
      }
      const proc = new ChildService(name, args, join(this.root, 'logs', `${name}.log`), {
        ...security.bankEnv(name),
        ...(this.postgres?.serviceEnv() ?? {}),
      });
      this.bankProcs.set(name, { proc, dataDir });
      const url = `http://127.0.0.1:${port}`;
      this.banks.push({ name, url, participantUrl: `${url}/ratify` });
      proc.start();
    }
    await Promise.all(this.banks.map((b) => waitHealthy(b.url, this.bankProcs.get(b.name)!.proc, signal)));
  }

  /** A secret file and certificates for this run; the runner trusts the CA from here on. */
  private secure(
    ids: readonly string[],
    banks: readonly string[],
  ): { nodeArgs(id: string): string[]; bankEnv(bank: string): Record<string, string> } {
    const dir = join(this.root!, 'certs');
    const ca = makeClusterCerts(dir, ids);
    const secretFile = join(dir, 'cluster-secret');
    writeFileSync(secretFile, `${randomBytes(24).toString('base64')}\n`, { mode: 0o600 });
    // One key per bank, the participant name the workload enlists it under.
    const keys = new Map(banks.map((b) => [b, randomBytes(32).toString('hex')]));
    const keysFile = join(dir, 'participant-keys');
    writeFileSync(keysFile, [...keys].map(([b, k]) => `${b} ${k}\n`).join(''), { mode: 0o600 });
    // Client tokens: the runner is an admin (workload, reads, membership churn), the banks
    // read (cooperative termination). Only with banks: a kv run has no client API to guard.
    const runnerToken = randomBytes(24).toString('base64url');
    const bankToken = randomBytes(24).toString('base64url');
    const tokensFile = join(dir, 'tokens');
    writeFileSync(tokensFile, `chaos-runner admin ${runnerToken}\nbanks reader ${bankToken}\n`, { mode: 0o600 });
    authorizeWith(banks.length > 0 ? runnerToken : null);
    trustCa(readFileSync(ca.cert));
    const tls = (id: string): string[] => [
      '--tls-cert',
      join(dir, `${id}.pem`),
      '--tls-key',
      join(dir, `${id}.key`),
      '--tls-ca',
      ca.cert,
      '--tls-mutual',
      'true',
    ];
    return {
      nodeArgs: (id) => [
        '--cluster-secret-file',
        secretFile,
        ...(banks.length > 0 ? ['--participant-keys-file', keysFile, '--tokens-file', tokensFile] : []),
        ...tls(id),
      ],
      // The banks' client SDK asks the coordinators about transactions in doubt.
      bankEnv: (bank) => ({
        NODE_EXTRA_CA_CERTS: ca.cert,
        RATIFY_PARTICIPANT_KEY: keys.get(bank) ?? '',
        RATIFY_COORDINATOR_TOKEN: bankToken,
      }),
    };
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

  async killParticipant(name: string): Promise<void> {
    await this.bank(name).kill();
  }

  async reviveParticipant(name: string): Promise<void> {
    const p = this.bank(name);
    if (!p.running) p.start();
    const url = this.banks.find((b) => b.name === name)!.url;
    await waitHealthy(url, p, new AbortController().signal);
  }

  notes(): string[] {
    if (this.forcedStops.length === 0) return [];
    return [
      `${this.forcedStops.length} graceful restarts (${this.forcedStops.join(',')}) did not exit within ${STOP_GRACE_MS / 1000} s of SIGTERM and were SIGKILLed`,
    ];
  }

  async wipe(id: string): Promise<void> {
    await this.node(id).kill();
    const { dataDir } = this.launch(id);
    await rm(dataDir, { recursive: true, force: true });
    await mkdir(dataDir, { recursive: true });
  }

  async rejoin(id: string): Promise<void> {
    const { args, logFile } = this.launch(id);
    if (this.node(id).running) throw new Error(`${id} is running: wipe it before it rejoins`);
    // Empty data: it must wait to be added instead of campaigning as one of the initial voters.
    const proc = new ChildService(id, [...args, '--join', 'true'], logFile);
    this.nodeProcs.set(id, proc);
    proc.start();
  }

  async disconnect(id: string): Promise<void> {
    throw new Error(`the local target cannot partition ${id}: processes on loopback share one network`);
  }

  async reconnect(id: string): Promise<void> {
    await this.disconnect(id);
  }

  async readParticipantRecords(sinceMs: number): Promise<Map<string, RecordsResult>> {
    const out = new Map<string, RecordsResult>();
    if (this.postgres !== null) {
      // Read from the databases while the services still run (their reconcilers finish late PREPAREs).
      for (const name of this.bankProcs.keys()) {
        try {
          out.set(name, { kind: 'records', records: await this.postgres.records(name, sinceMs) });
        } catch (e) {
          out.set(name, { kind: 'unavailable', reason: `cannot read the ${name} database: ${(e as Error).message}` });
        }
      }
      return out;
    }
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
    // The server's own data is always thrown away; its log stays with the others.
    await this.postgres?.stop().catch(() => undefined);
    trustCa(null);
    if (!keep && this.root !== null && this.o.dataDir === null) await rm(this.root, { recursive: true, force: true });
  }

  private bank(name: string): ChildService {
    const b = this.bankProcs.get(name);
    if (b === undefined) throw new Error(`no bank ${name}`);
    return b.proc;
  }

  private launch(id: string): { readonly args: readonly string[]; readonly dataDir: string; readonly logFile: string } {
    const l = this.nodeLaunch.get(id);
    if (l === undefined) throw new Error(`no node ${id}`);
    return l;
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
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === '@ratify-tx/ratify')
      return join(dir, 'dist');
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
