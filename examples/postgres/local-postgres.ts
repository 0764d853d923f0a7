// Throwaway PostgreSQL servers for the example, the tests and the chaos runner: `initdb`
// into a temp directory, `postgres` on a free loopback port (TCP on 127.0.0.1 only, its
// unix socket inside the temp directory), a random password, `max_prepared_transactions`
// set, and everything removed again by stop(), even after a failure.
//
//   const pg = await startLocalPostgres({ logFile });   // throws PostgresUnavailable without the binaries
//   await pg.createDatabase('bank_a');
//   const pool = new Pool(pg.config('bank_a'));
//   ...
//   await pg.stop();                                    // by PID: fast shutdown, then SIGKILL; rm -rf
//
// Where the binaries come from: Debian's `postgresql` package (/usr/lib/postgresql/<v>/bin,
// the highest version found), or RATIFY_PG_BIN, or `initdb` on the PATH.
//
// Root: initdb refuses to run as root, and so does postgres. These machines run as root,
// so as root every PostgreSQL binary runs through `setpriv` as an unprivileged user
// (RATIFY_PG_USER, else `postgres`, the package's system user, else `nobody`), in a temp
// directory chowned to that user. setpriv execs in place (runuser forks and waits), so the
// PID we hold is the postmaster's own and stopping by PID stops the server. As a normal
// user the binaries run directly.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import pg from 'pg';

export interface LocalPostgresOptions {
  /** Default 64; the adapter needs it above 0. */
  readonly maxPreparedTransactions?: number;
  /**
   * Default false: these servers are thrown away and never see a machine crash (only
   * processes around them are killed), so syncing to disk buys nothing here and costs
   * the shared test machine. Commits still wait for the WAL write (synchronous_commit).
   */
  readonly fsync?: boolean;
  /** Server output goes here; default `<temp dir>/postgres.log` (removed with the dir). */
  readonly logFile?: string;
  /** Bound on the start, until a connection succeeds. Default 60 s. */
  readonly startTimeoutMs?: number;
  /** Extra `-c name=value` settings. */
  readonly settings?: Readonly<Record<string, string | number>>;
}

export interface LocalPostgres {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly pid: number;
  readonly dir: string;
  /** Connection settings for pg's Client or Pool. */
  config(database: string): pg.ClientConfig;
  /** A URL without the password (pass the password as PGPASSWORD, not on a command line). */
  url(database: string): string;
  createDatabase(name: string): Promise<void>;
  /** Runs one statement on `database` with a short-lived client. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(database: string, text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  /** Fast shutdown by PID (SIGKILL after a grace period), then the temp dir is removed. Safe to call twice. */
  stop(): Promise<void>;
}

/** Thrown when no PostgreSQL binaries can be found; the message says how to get them. */
export class PostgresUnavailable extends Error {}

export type PostgresAvailability = { readonly ok: true; readonly binDir: string } | { readonly ok: false; readonly reason: string };

const SUPERUSER = 'ratify';
const STOP_GRACE_MS = 15_000;
const START_ATTEMPTS = 3;
const DEBIAN_PG_ROOT = '/usr/lib/postgresql';

/** Where initdb, pg_ctl and postgres are, or why they cannot be used. */
export function findPostgres(): PostgresAvailability {
  const fromEnv = process.env['RATIFY_PG_BIN'];
  if (fromEnv !== undefined && fromEnv !== '') {
    return hasBinaries(fromEnv)
      ? { ok: true, binDir: fromEnv }
      : { ok: false, reason: `RATIFY_PG_BIN=${fromEnv} holds no initdb and postgres` };
  }
  const debian = existsSync(DEBIAN_PG_ROOT)
    ? readdirSync(DEBIAN_PG_ROOT)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
        .map((v) => join(DEBIAN_PG_ROOT, v, 'bin'))
    : [];
  const onPath = (process.env['PATH'] ?? '').split(delimiter).filter((d) => d.length > 0);
  const binDir = [...debian, ...onPath].find(hasBinaries);
  if (binDir === undefined) {
    return {
      ok: false,
      reason:
        'no PostgreSQL server binaries (initdb, postgres) found: install them with `apt-get install -y postgresql` (or set RATIFY_PG_BIN)',
    };
  }
  if (process.getuid?.() === 0 && unprivilegedUser() === null)
    return { ok: false, reason: 'running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as' };
  return { ok: true, binDir };
}

export async function startLocalPostgres(o: LocalPostgresOptions = {}): Promise<LocalPostgres> {
  const found = findPostgres();
  if (!found.ok) throw new PostgresUnavailable(found.reason);
  const runAs = process.getuid?.() === 0 ? unprivilegedUser() : null;
  const dir = await mkdtemp(join(tmpdir(), 'ratify-pg-'));
  try {
    return await initAndStart(found.binDir, dir, runAs, o);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

interface RunAs {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

async function initAndStart(binDir: string, dir: string, runAs: RunAs | null, o: LocalPostgresOptions): Promise<LocalPostgres> {
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'socket');
  const password = randomBytes(18).toString('base64url');
  mkdirSync(socketDir);
  writeFileSync(join(dir, 'pwfile'), `${password}\n`, { mode: 0o600 });
  if (runAs !== null) for (const p of [dir, socketDir, join(dir, 'pwfile')]) chownSync(p, runAs.uid, runAs.gid);
  const init = spawnSync(
    ...command(runAs, join(binDir, 'initdb'), [
      ...['-D', dataDir, '-U', SUPERUSER, `--pwfile=${join(dir, 'pwfile')}`],
      ...['--auth-host=scram-sha-256', '--auth-local=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync'],
    ]),
    { encoding: 'utf8', cwd: dir },
  );
  rmSync(join(dir, 'pwfile'), { force: true });
  if (init.status !== 0)
    throw new Error(`initdb failed (${init.error?.message ?? `exit ${String(init.status)}`}): ${init.stderr.trim().slice(-2000)}`);
  const logFile = o.logFile ?? join(dir, 'postgres.log');
  let lastError: Error | null = null;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    // A port found free can be taken before the server binds it; a fresh one is tried then.
    const port = await freePort();
    const server = spawnServer(binDir, dataDir, socketDir, port, runAs, logFile, o);
    try {
      await waitReady(server, port, password, o.startTimeoutMs ?? 60_000);
      return handle(server, dir, port, password);
    } catch (e) {
      lastError = e as Error;
      await stopServer(server);
    }
  }
  throw new Error(`PostgreSQL did not start after ${START_ATTEMPTS} attempts: ${lastError?.message ?? ''}; log: ${tail(logFile)}`);
}

function spawnServer(
  binDir: string,
  dataDir: string,
  socketDir: string,
  port: number,
  runAs: RunAs | null,
  logFile: string,
  o: LocalPostgresOptions,
): ChildProcess {
  const settings: Record<string, string | number> = {
    listen_addresses: '127.0.0.1',
    port,
    unix_socket_directories: socketDir,
    max_prepared_transactions: o.maxPreparedTransactions ?? 64,
    max_connections: 100,
    fsync: o.fsync === true ? 'on' : 'off',
    full_page_writes: o.fsync === true ? 'on' : 'off',
    synchronous_commit: 'on',
    shared_buffers: '32MB',
    logging_collector: 'off',
    ...o.settings,
  };
  const args = ['-D', dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${String(v)}`])];
  const fd = openSync(logFile, 'a');
  try {
    // Detached: a Ctrl-C at the terminal reaches only our process, which stops the server itself.
    const child = spawn(...command(runAs, join(binDir, 'postgres'), args), { detached: true, stdio: ['ignore', fd, fd] });
    if (child.pid === undefined) throw new Error('could not spawn postgres');
    const pid = child.pid;
    live.set(pid, dataDir);
    child.once('exit', () => live.delete(pid));
    child.unref();
    return child;
  } finally {
    closeSync(fd);
  }
}

async function waitReady(server: ChildProcess, port: number, password: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (server.exitCode !== null || server.signalCode !== null)
      throw new Error(`postgres exited (${server.exitCode ?? server.signalCode}) during start-up`);
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: SUPERUSER,
      password,
      database: 'postgres',
      connectionTimeoutMillis: 2_000,
    });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (e) {
      last = (e as Error).message;
    } finally {
      await client.end().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`postgres did not accept connections within ${timeoutMs} ms (last: ${last})`);
}

function handle(server: ChildProcess, dir: string, port: number, password: string): LocalPostgres {
  let stopped: Promise<void> | null = null;
  const config = (database: string): pg.ClientConfig => ({ host: '127.0.0.1', port, user: SUPERUSER, password, database });
  const query = async <R extends pg.QueryResultRow>(database: string, text: string, values?: unknown[]): Promise<pg.QueryResult<R>> => {
    const client = new pg.Client(config(database));
    await client.connect();
    try {
      return await client.query<R>(text, values);
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  return {
    host: '127.0.0.1',
    port,
    user: SUPERUSER,
    password,
    pid: server.pid!,
    dir,
    config,
    url: (database) => `postgres://${SUPERUSER}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    createDatabase: async (name) => {
      await query('postgres', `CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    },
    query,
    stop: () => {
      stopped ??= stopServer(server).finally(() => rmSync(dir, { recursive: true, force: true }));
      return stopped;
    },
  };
}

/** SIGINT is PostgreSQL's fast shutdown (roll back sessions, checkpoint, exit); SIGKILL of the postmaster after the grace period. */
async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null || server.pid === undefined) return;
  const exited = new Promise<void>((r) => server.once('exit', () => r()));
  // The child is unref'd while it runs; waiting for its exit must keep us alive.
  server.ref();
  signal(server.pid, 'SIGINT');
  const timedOut = await Promise.race([
    exited.then(() => false),
    new Promise<boolean>((r) => setTimeout(() => r(true), STOP_GRACE_MS).unref()),
  ]);
  if (timedOut) {
    signal(server.pid, 'SIGKILL');
    await exited;
  }
}

// Safety net: whatever happens to the caller, no server outlives it. SIGQUIT is the
// immediate shutdown: the postmaster takes its backends down with it. Its temp dir
// goes too, as far as a synchronous exit hook can take it.
const live = new Map<number, string>();
process.once('exit', () => {
  for (const [pid, dataDir] of live) {
    signal(pid, 'SIGQUIT');
    rmSync(dirname(dataDir), { recursive: true, force: true, maxRetries: 3 });
  }
});

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/** The program and arguments, through setpriv as `runAs` when given. */
function command(runAs: RunAs | null, program: string, args: readonly string[]): [string, string[]] {
  if (runAs === null) return [program, [...args]];
  return ['setpriv', ['--reuid', String(runAs.uid), '--regid', String(runAs.gid), '--clear-groups', '--', program, ...args]];
}

function unprivilegedUser(): RunAs | null {
  const wanted = process.env['RATIFY_PG_USER'];
  const names = wanted !== undefined && wanted !== '' ? [wanted] : ['postgres', 'nobody'];
  let passwd = '';
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return null;
  }
  for (const name of names) {
    const line = passwd.split('\n').find((l) => l.startsWith(`${name}:`));
    const [, , uid, gid] = line?.split(':') ?? [];
    if (uid !== undefined && gid !== undefined && Number(uid) !== 0) return { name, uid: Number(uid), gid: Number(gid) };
  }
  return null;
}

function hasBinaries(dir: string): boolean {
  return existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres'));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a !== null && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-10).join(' | ');
  } catch {
    return '(no log)';
  }
}
