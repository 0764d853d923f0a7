// The example bank service (examples/bank/bank-service.ts, built to dist/) as a
// real child process on a free loopback port, stopped by PID. The example's own
// spawnBank() resolves bank-service.js next to its module, which exists only
// in dist/, so tests running the TypeScript sources spawn it here instead.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const BANK_SERVICE_PATH = fileURLToPath(new URL('../../dist/examples/bank/bank-service.js', import.meta.url));
const LOG_LINES_MAX = 5000;
const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;

export interface BankProcess {
  readonly name: string;
  readonly pid: number;
  /** GET {url}/accounts */
  readonly url: string;
  /** Enlist under this: the coordinator POSTs to {participantUrl}/prepare. */
  readonly participantUrl: string;
  readonly logs: string[];
  /** SIGTERM (graceful: the SDK and ledger close), SIGKILL after a grace period. */
  stop(): Promise<void>;
}

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

/** `env`: extra environment for the bank (BANK_RECORDS_TOKEN). */
export async function spawnBankProcess(o: {
  name: string;
  dataDir: string;
  coordinators: readonly string[];
  env?: Readonly<Record<string, string>>;
}): Promise<BankProcess> {
  if (!existsSync(BANK_SERVICE_PATH)) throw new Error(`${BANK_SERVICE_PATH} is missing: run \`npm run build\` first`);
  const args = [BANK_SERVICE_PATH, '--name', o.name, '--port', '0', '--data', o.dataDir, '--coordinators', o.coordinators.join(',')];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...o.env } });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn bank ${o.name}`);
  livePids.add(pid);
  child.once('exit', () => livePids.delete(pid));
  const logs: string[] = [];
  const keep = (line: string): void => {
    logs.push(line);
    if (logs.length > LOG_LINES_MAX) logs.shift();
  };
  createInterface({ input: child.stderr }).on('line', keep);
  let timer: NodeJS.Timeout | undefined;
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      keep(line);
      const found = bankUrlOf(line);
      if (found !== null) resolve(found);
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`bank ${o.name} exited (${code ?? signal}) before listening:\n${logs.join('\n')}`)),
    );
    timer = setTimeout(() => reject(new Error(`bank ${o.name} did not listen within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
  }).catch((e: unknown) => {
    stopChild(child, pid).catch(() => undefined);
    throw e;
  });
  clearTimeout(timer);
  return { name: o.name, pid, url, participantUrl: `${url}/ratify`, logs, stop: () => stopChild(child, pid) };
}

async function stopChild(child: ChildProcess, pid: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(pid, 'SIGTERM');
  const timedOut = await Promise.race([
    exited.then(() => false),
    new Promise<boolean>((r) => setTimeout(() => r(true), STOP_GRACE_MS).unref()),
  ]);
  if (timedOut) {
    process.kill(pid, 'SIGKILL');
    await exited;
  }
}

function bankUrlOf(line: string): string | null {
  try {
    const o = JSON.parse(line) as { bankUrl?: unknown };
    return typeof o.bankUrl === 'string' ? o.bankUrl : null;
  } catch {
    return null;
  }
}
