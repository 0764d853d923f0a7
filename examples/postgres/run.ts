// `npm run example:postgres`: two PostgreSQL databases as Ratify participants. A
// throwaway PostgreSQL server (initdb in a temp dir, loopback only) holds `bank_a` and
// `bank_b`, each with an `accounts` table whose CHECK keeps balances >= 0; a 3-node
// Ratify cluster drives concurrent transfers between them through PREPARE TRANSACTION.
// Some transfers abort on the CHECK. At the end: balances, money conserved, nothing left
// prepared, and every transfer either in both databases or in neither.
//
//   node dist/examples/postgres/run.js [--data <dir>] [--base-port <port>]
//     --data       keep the cluster's data and every log there (default: a temp dir)
//     --base-port  the cluster listens on 127.0.0.1:<port>..<port+2> (default 7001)
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { RatifyClient } from '../../src/sdk/client.js';
import type { TransactionView } from '../../src/sdk/client-types.js';
import { spawnCluster, waitForLeader, type Spawned, type SpawnedBank } from '../bank/processes.js';
import { parseRunOptions, USAGE, type RunOptions } from '../bank/run-options.js';
import { transferParticipants, type AccountRef } from '../bank/transfer.js';
import { PostgresUnavailable, startLocalPostgres, type LocalPostgres } from './local-postgres.js';
import { accounts, committedTxIds, createBankTables, openAccount } from './pg-bank.js';
import { spawnPgBank } from './processes.js';

const BANKS = [
  { name: 'bank-a', database: 'bank_a', seed: { alice: 1_000, carol: 500, erin: 300, grace: 100 } },
  { name: 'bank-b', database: 'bank_b', seed: { bob: 300, dave: 200, frank: 150, heidi: 50 } },
] as const;
/** Around the ring of accounts, alternating banks: transfer i sends from the i-th to the next. */
const RING: readonly [bank: number, account: string][] = [
  [0, 'alice'],
  [1, 'bob'],
  [0, 'carol'],
  [1, 'dave'],
  [0, 'erin'],
  [1, 'frank'],
  [0, 'grace'],
  [1, 'heidi'],
];
const TRANSFERS = 24;
/**
 * Transfers in flight at once. A prepared transaction holds its row locks until COMMIT
 * PREPARED, so two transfers that each hold a row the other wants, in different
 * databases, wait for each other where no single PostgreSQL sees a deadlock; the
 * adapter's lock_timeout (2 s) ends the wait with a vote of abort. Neighbours on the
 * ring share one account only, so they queue rather than deadlock.
 */
const CONCURRENCY = 4;
/** Amounts cycle through these; the larger ones outrun the smaller balances. */
const AMOUNTS = [120, 250, 60, 400, 90, 310, 180, 30, 500];

interface Transfer {
  readonly n: number;
  readonly from: AccountRef;
  readonly to: AccountRef;
  readonly amount: number;
}

async function main(): Promise<number> {
  let options: RunOptions;
  try {
    options = parseRunOptions(process.argv.slice(2));
  } catch (e) {
    say(`${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return 2;
  }
  const dataDir = options.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'ratify-pg-example-')) : resolve(options.dataDir);
  const children: Spawned[] = [];
  let server: LocalPostgres | null = null;
  const pools: pg.Pool[] = [];
  const stopAll = async (): Promise<void> => {
    for (const c of children.splice(0).reverse()) await c.stop().catch((e: unknown) => say(`stopping pid ${c.pid} failed: ${String(e)}`));
    await Promise.all(pools.splice(0).map((p) => p.end().catch(() => undefined)));
    await server?.stop();
  };
  const onSignal = (): void => void stopAll().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let client: RatifyClient | null = null;
  try {
    await mkdir(dataDir, { recursive: true });
    say(`data and logs under ${dataDir}`);
    server = await startLocalPostgres({ logFile: join(dataDir, 'postgres.log') });
    say(`PostgreSQL (pid ${server.pid}) on 127.0.0.1:${server.port}, max_prepared_transactions 64, in a temp dir`);
    for (const b of BANKS) {
      await server.createDatabase(b.database);
      const pool = new pg.Pool(server.config(b.database));
      pool.on('error', () => undefined);
      pools.push(pool);
      await createBankTables(pool);
      for (const [name, balance] of Object.entries(b.seed)) await openAccount(pool, name, balance);
    }
    const cluster = await spawnCluster(join(dataDir, 'cluster'), join(dataDir, 'cluster.log'), options.basePort);
    children.push(cluster);
    say(`cluster starting (pid ${cluster.pid}) on ${cluster.urls.join(', ')}`);
    say(`leader elected: ${await waitForLeader(cluster.urls)}`);
    const banks: SpawnedBank[] = [];
    for (const b of BANKS) {
      const bank = await spawnPgBank({
        name: b.name,
        database: server.url(b.database),
        password: server.password,
        coordinators: cluster.urls,
        logFile: join(dataDir, `${b.name}.log`),
      });
      children.push(bank);
      banks.push(bank);
      say(`${b.name} (database ${b.database}) listening on ${bank.url} (pid ${bank.pid})`);
    }
    const before = await balances(pools);
    printBalances('before', before);
    client = new RatifyClient({ nodes: cluster.urls });
    const ok = await runTransfers(client, banks, pools, before);
    return ok ? 0 : 1;
  } catch (e) {
    say(`failed: ${e instanceof Error ? e.message : String(e)}`);
    if (e instanceof PostgresUnavailable) say("this example needs PostgreSQL's server binaries: apt-get install -y postgresql");
    say(`logs: ${dataDir}`);
    return 1;
  } finally {
    await client?.close();
    say('stopping the banks, the cluster and PostgreSQL');
    await stopAll();
    if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
  }
}

async function runTransfers(client: RatifyClient, banks: SpawnedBank[], pools: pg.Pool[], before: Map<string, number>[]): Promise<boolean> {
  const ring = RING.map(([bank, account]): AccountRef => ({ bank: banks[bank]!, account }));
  // Every transfer crosses from one database to the other.
  const transfers: Transfer[] = Array.from({ length: TRANSFERS }, (_, i) => ({
    n: i + 1,
    from: ring[i % ring.length]!,
    to: ring[(i + 1) % ring.length]!,
    amount: AMOUNTS[i % AMOUNTS.length]!,
  }));
  say(`\n${TRANSFERS} concurrent transfers, ${CONCURRENCY} at a time (2PC through the cluster, PREPARE TRANSACTION in each database):`);
  const views: { t: Transfer; view: TransactionView }[] = [];
  const queue = [...transfers];
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
        const view = await client.run({ participants: transferParticipants(t.from, t.to, t.amount) });
        views.push({ t, view });
      }
    }),
  );
  // Balances change when each database runs COMMIT PREPARED (phase 2): wait for it.
  const finished = await Promise.all(views.map(({ view }) => client.waitUntilFinished(view.id, { timeoutMs: 60_000 })));
  views.sort((a, b) => a.t.n - b.t.n);
  for (const { t, view } of views) {
    const why = view.outcome === 'aborted' ? `: ${await abortReasons(pools, view.id)}` : '';
    say(
      `  #${String(t.n).padStart(2)} ${label(t.from).padEnd(13)} -> ${label(t.to).padEnd(13)} ${String(t.amount).padStart(4)}  ${view.outcome ?? view.state}${why}`,
    );
  }
  const after = await balances(pools);
  printBalances('after', after);
  const conserved = checkMoney(before, after);
  const atomic = await checkEachTransfer(finished, pools);
  return conserved && atomic;
}

/** Every committed transfer has its legs in both databases; every aborted one in neither; nothing is left prepared. */
async function checkEachTransfer(views: TransactionView[], pools: pg.Pool[]): Promise<boolean> {
  const inDb = await Promise.all(pools.map(committedTxIds));
  const problems: string[] = [];
  for (const v of views) {
    const present = inDb.map((ids) => ids.has(v.id));
    const want = v.outcome === 'committed';
    if (present.some((p) => p !== want))
      problems.push(
        `${v.id} is ${v.outcome ?? v.state} but its legs are in ${
          present
            .map((p, i) => (p ? BANKS[i]!.database : null))
            .filter((x) => x !== null)
            .join(', ') || 'no database'
        }`,
      );
  }
  const committed = views.filter((v) => v.outcome === 'committed').length;
  say(
    `each transfer in both databases (${committed} committed) or in neither (${views.length - committed} aborted): ${problems.length === 0 ? 'yes' : 'NO'}`,
  );
  for (const p of problems) say(`  ${p}`);
  // pg_prepared_xacts lists the prepared transactions of every database of the server.
  const prepared = (await pools[0]!.query<{ gid: string; database: string }>('SELECT gid, database FROM pg_prepared_xacts')).rows;
  say(`prepared transactions left in PostgreSQL (pg_prepared_xacts): ${prepared.length}`);
  for (const p of prepared) say(`  ${p.database}: ${p.gid}`);
  return problems.length === 0 && prepared.length === 0;
}

async function abortReasons(pools: pg.Pool[], txId: string): Promise<string> {
  const reasons: string[] = [];
  for (const [i, pool] of pools.entries()) {
    const r = await pool.query<{ reason: string | null }>(
      "SELECT record->>'reason' AS reason FROM ratify_participant.records WHERE record->>'txId' = $1 AND record->>'vote' = 'abort'",
      [txId],
    );
    for (const row of r.rows) reasons.push(`${BANKS[i]!.name} voted abort (${row.reason ?? 'no reason'})`);
  }
  return reasons.length > 0 ? reasons.join('; ') : 'aborted by the coordinator';
}

function checkMoney(before: Map<string, number>[], after: Map<string, number>[]): boolean {
  const sum = (ms: Map<string, number>[]): number => ms.reduce((s, m) => s + [...m.values()].reduce((a, b) => a + b, 0), 0);
  const conserved = sum(before) === sum(after);
  say(`\ntotal before ${sum(before)}, after ${sum(after)}: money conserved: ${conserved ? 'yes' : 'NO'}`);
  return conserved;
}

async function balances(pools: pg.Pool[]): Promise<Map<string, number>[]> {
  return Promise.all(pools.map(async (p) => new Map((await accounts(p)).map((a) => [a.name, a.balance]))));
}

function printBalances(when: string, per: Map<string, number>[]): void {
  say(`\nbalances ${when}:`);
  for (const [i, m] of per.entries()) {
    const total = [...m.values()].reduce((a, b) => a + b, 0);
    say(`  ${BANKS[i]!.database.padEnd(7)} ${[...m].map(([n, b]) => `${n} ${b}`).join(', ')}   total ${total}`);
  }
}

function label(a: AccountRef): string {
  return `${a.account}@${a.bank.name}`;
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

process.exit(await main());
