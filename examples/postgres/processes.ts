// The PostgreSQL bank service as a child process (for run.ts and the chaos runner):
// detached in its own process group, stopped by PID (examples/bank/processes.ts).
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { parseBankUrl, stopChild, type SpawnedBank } from '../bank/processes.js';

export const PG_BANK_SERVICE_PATH = fileURLToPath(new URL('./pg-bank-service.js', import.meta.url));

export interface PgBankSpawn {
  readonly name: string;
  /** postgres:// URL without the password. */
  readonly database: string;
  readonly password: string;
  readonly coordinators: readonly string[];
  readonly logFile: string;
  /** Default 0: a free port. */
  readonly port?: number;
  readonly extraArgs?: readonly string[];
}

/** A pg-bank-service process; resolves once it listens. */
export async function spawnPgBank(o: PgBankSpawn): Promise<SpawnedBank> {
  const args = [
    PG_BANK_SERVICE_PATH,
    '--name',
    o.name,
    '--port',
    String(o.port ?? 0),
    '--database',
    o.database,
    '--coordinators',
    o.coordinators.join(','),
    ...(o.extraArgs ?? []),
  ];
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PGPASSWORD: o.password },
  });
  const log = createWriteStream(o.logFile, { flags: 'a' });
  child.stderr.pipe(log);
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      log.write(`${line}\n`);
      const bankUrl = parseBankUrl(line);
      if (bankUrl !== null) resolve(bankUrl);
    });
    child.once('exit', (code) => reject(new Error(`bank ${o.name} exited (code ${code}) before listening; see ${o.logFile}`)));
  });
  if (child.pid === undefined) throw new Error('spawn failed: no pid');
  return { pid: child.pid, name: o.name, url, participantUrl: `${url}/ratify`, stop: () => stopChild(child) };
}
