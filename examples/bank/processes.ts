// Child processes of the example (and of scripts that reuse it): the local Ratify
// cluster and bank services, each started detached (its own process group) and
// stopped by PID: SIGTERM, then SIGKILL of the group after a grace period.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { RatifyClient } from '../../src/sdk/client.js';
import { BASE_PORT_DEFAULT, clusterPlan } from './run-options.js';

export interface Spawned {
  readonly pid: number;
  stop(): Promise<void>;
}

export interface SpawnedCluster extends Spawned {
  readonly urls: readonly string[];
}

export interface SpawnedBank extends Spawned {
  readonly name: string;
  readonly url: string;
  readonly participantUrl: string;
}

const STOP_GRACE_MS = 15_000;

const cliPath = (): string => fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const bankPath = (): string => fileURLToPath(new URL('./bank-service.js', import.meta.url));

/** `ratify cluster` on 127.0.0.1:basePort..basePort+2 (7001-7003 by default), its output appended to `logFile`. */
export async function spawnCluster(dataDir: string, logFile: string, basePort = BASE_PORT_DEFAULT): Promise<SpawnedCluster> {
  const cli = cliPath();
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first`);
  const { urls, args } = clusterPlan(basePort, dataDir);
  for (const url of urls) await assertPortFree(Number(new URL(url).port));
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [cli, ...args], { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  return { pid: pidOf(child), urls, stop: () => stopChild(child) };
}

/** A bank-service process on a free loopback port; resolves once it listens. */
export async function spawnBank(o: {
  name: string;
  dataDir: string;
  coordinators: readonly string[];
  logFile: string;
}): Promise<SpawnedBank> {
  const args = [bankPath(), '--name', o.name, '--port', '0', '--data', o.dataDir, '--coordinators', o.coordinators.join(',')];
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(o.logFile, { flags: 'a' });
  child.stderr.pipe(log);
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      log.write(`${line}\n`);
      const bankUrl = parseBankUrl(line);
      if (bankUrl !== null) resolve(bankUrl);
    });
    child.once('exit', (code) => reject(new Error(`bank ${o.name} exited (code ${code}) before listening; see ${o.logFile}`)));
  });
  return { pid: pidOf(child), name: o.name, url, participantUrl: `${url}/ratify`, stop: () => stopChild(child) };
}

/** Polls /v1/cluster until some node reports a leader; liveness with a generous bound. */
export async function waitForLeader(urls: readonly string[], timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const url of urls) {
      // One client per node and no retries: we want this node's own view.
      const c = new RatifyClient({ nodes: [url], retries: 0, timeoutMs: 2_000 });
      const view = await c.cluster().catch(() => null);
      await c.close();
      if (typeof view?.leaderId === 'string') return view.leaderId;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no leader among ${urls.join(', ')} within ${timeoutMs} ms`);
}

export function parseBankUrl(line: string): string | null {
  try {
    const o = JSON.parse(line) as { bankUrl?: unknown };
    return typeof o.bankUrl === 'string' ? o.bankUrl : null;
  } catch {
    return null;
  }
}

function pidOf(child: ChildProcess): number {
  if (child.pid === undefined) throw new Error('spawn failed: no pid');
  return child.pid;
}

/** SIGTERM the child; if it has not exited after the grace period, SIGKILL its whole group. */
export async function stopChild(child: ChildProcess): Promise<void> {
  const pid = pidOf(child);
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    signal(pid, 'SIGTERM');
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), STOP_GRACE_MS).unref());
    if ((await Promise.race([exited, timer])) === 'timeout') {
      signal(-pid, 'SIGKILL');
      await exited;
    }
  }
  // Grandchildren (the cluster's nodes) share the group; make sure none is left behind.
  signal(-pid, 'SIGKILL');
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

function assertPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', () =>
      reject(new Error(`127.0.0.1:${port} is in use (is another Ratify cluster running? stop it, or pick other ports with --base-port)`)),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}
