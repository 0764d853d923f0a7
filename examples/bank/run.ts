// `npm run example:bank`: a 3-node Ratify cluster, two banks, and money moving
// between them through RatifyClient. Some transfers fail for insufficient funds;
// at the end every transaction is finished and the money is all still there.
//
//   node dist/examples/bank/run.js [--data <dir>] [--base-port <port>]
//     --data       keep data and logs there (default: a temp dir, removed after)
//     --base-port  the cluster listens on 127.0.0.1:<port>..<port+2> (default 7001)
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { RatifyClient } from '../../src/sdk/client.js';
import type { TransactionView } from '../../src/sdk/client-types.js';
import { spawnBank, spawnCluster, waitForLeader, type Spawned, type SpawnedBank } from './processes.js';
import type { LedgerTxRecord } from './ledger-records.js';
import { parseRunOptions, USAGE, type RunOptions } from './run-options.js';
import { seedAccounts } from './seed.js';
import { transferParticipants, type AccountRef } from './transfer.js';

interface Transfer {
  readonly from: AccountRef;
  readonly to: AccountRef;
  readonly amount: number;
  readonly protocol?: '2pc' | '3pc';
  readonly interactive?: boolean;
}

interface AccountsReply {
  bank: string;
  accounts: { name: string; balance: number; held: number }[];
  total: number;
}

const SEED: Record<string, Record<string, number>> = {
  'bank-a': { alice: 1_000, carol: 500 },
  'bank-b': { bob: 300, dave: 200 },
};

async function main(): Promise<number> {
  let options: RunOptions;
  try {
    options = parseRunOptions(process.argv.slice(2));
  } catch (e) {
    say(`${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return 2;
  }
  const dataDir = options.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'ratify-bank-')) : resolve(options.dataDir);
  const children: Spawned[] = [];
  const stopAll = async (): Promise<void> => {
    for (const c of children.splice(0).reverse()) await c.stop().catch((e: unknown) => say(`stopping pid ${c.pid} failed: ${String(e)}`));
  };
  const onSignal = (): void => void stopAll().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let client: RatifyClient | null = null;
  try {
    await mkdir(dataDir, { recursive: true });
    say(`data and logs under ${dataDir}`);
    const cluster = await spawnCluster(join(dataDir, 'cluster'), join(dataDir, 'cluster.log'), options.basePort);
    children.push(cluster);
    say(`cluster starting (pid ${cluster.pid}) on ${cluster.urls.join(', ')}`);
    say(`leader elected: ${await waitForLeader(cluster.urls)}`);
    const banks: SpawnedBank[] = [];
    for (const name of Object.keys(SEED)) {
      const bank = await spawnBank({
        name,
        dataDir: join(dataDir, name),
        coordinators: cluster.urls,
        logFile: join(dataDir, `${name}.log`),
      });
      children.push(bank);
      banks.push(bank);
      say(`${name} listening on ${bank.url} (pid ${bank.pid})`);
    }
    await seed(banks);
    const before = await balances(banks);
    printBalances('before', before);
    client = new RatifyClient({ nodes: cluster.urls });
    const ok = await runTransfers(client, banks, before);
    return ok ? 0 : 1;
  } catch (e) {
    say(`failed: ${e instanceof Error ? e.message : String(e)}`);
    say(`logs: ${dataDir}`);
    return 1;
  } finally {
    await client?.close();
    say('stopping banks and cluster');
    await stopAll();
    if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
  }
}

async function runTransfers(client: RatifyClient, banks: SpawnedBank[], before: AccountsReply[]): Promise<boolean> {
  const acct = (bank: string, account: string): AccountRef => ({ bank: banks.find((b) => b.name === bank)!, account });
  const [alice, carol, bob, dave] = [acct('bank-a', 'alice'), acct('bank-a', 'carol'), acct('bank-b', 'bob'), acct('bank-b', 'dave')];
  const series: Transfer[] = [
    { from: alice, to: bob, amount: 100 },
    { from: bob, to: carol, amount: 50 },
    { from: dave, to: alice, amount: 500 }, // dave has 200: aborts
    { from: carol, to: dave, amount: 25, interactive: true },
    { from: alice, to: carol, amount: 10 }, // both accounts at bank-a
    { from: bob, to: alice, amount: 30, protocol: '3pc' },
    { from: carol, to: bob, amount: 10_000 }, // aborts
  ];
  say('\ntransfers, one at a time:');
  const ids: string[] = [];
  for (const [i, t] of series.entries()) ids.push(await runOne(client, i + 1, t));
  say('\n12 concurrent transfers of 90 each (some will not find the funds):');
  const pairs = [alice, bob, carol, dave];
  const concurrent = Array.from({ length: 12 }, (_, i) => ({ from: pairs[i % 4]!, to: pairs[(i + 1) % 4]!, amount: 90 }));
  ids.push(...(await Promise.all(concurrent.map((t, i) => runOne(client, series.length + i + 1, t)))));
  // Balances change when participants apply the decision (phase 2): wait until every
  // transaction is finished before comparing.
  const finished = await Promise.all(ids.map((id) => client.waitUntilFinished(id, { timeoutMs: 60_000 })));
  const after = await balances(banks);
  printBalances('after', after);
  const money = checkInvariants(before, after);
  const perTx = checkEachTransaction(finished, await bankRecords(banks));
  return money && perTx;
}

/** Every bank's part of every transaction ended as the coordinator's outcome says, and no bank has one in doubt. */
function checkEachTransaction(views: TransactionView[], records: LedgerTxRecord[]): boolean {
  const problems: string[] = [];
  for (const r of records.filter((x) => x.state === 'prepared')) problems.push(`${r.participant}/${r.txId} is still prepared`);
  for (const view of views) {
    for (const r of records.filter((x) => x.txId === view.id)) {
      if (r.state !== view.outcome) problems.push(`${r.participant}/${r.txId} is ${r.state} but the outcome is ${String(view.outcome)}`);
    }
  }
  say(`each transaction has one outcome at every bank, none in doubt: ${problems.length === 0 ? 'yes' : 'NO'}`);
  for (const p of problems) say(`  ${p}`);
  return problems.length === 0;
}

async function bankRecords(banks: SpawnedBank[]): Promise<LedgerTxRecord[]> {
  const out: LedgerTxRecord[] = [];
  for (const b of banks) {
    let cursor: string | null = null;
    do {
      const res = await request(`${b.url}/transactions${cursor === null ? '' : `?cursor=${cursor}`}`);
      const page = (await res.body.json()) as { transactions: LedgerTxRecord[]; nextCursor: string | null };
      out.push(...page.transactions);
      cursor = page.nextCursor;
    } while (cursor !== null);
  }
  return out;
}

async function runOne(client: RatifyClient, n: number, t: Transfer): Promise<string> {
  const participants = transferParticipants(t.from, t.to, t.amount);
  let view: TransactionView;
  if (t.interactive === true) {
    const created = await client.createTransaction({ protocol: t.protocol ?? '2pc' });
    for (const p of participants) await client.enlist(created.id, p);
    view = await client.commit(created.id);
  } else {
    view = await client.run({ participants, protocol: t.protocol ?? '2pc' });
  }
  const refusedBy = view.participants.filter((p) => p.vote === 'abort').map((p) => p.name);
  const how = `${t.protocol ?? '2pc'}${t.interactive === true ? ', interactive' : ''}`;
  const why = view.outcome === 'aborted' && refusedBy.length > 0 ? ` (vote abort from ${refusedBy.join(', ')})` : '';
  say(
    `  #${String(n).padStart(2)} ${label(t.from).padEnd(14)} -> ${label(t.to).padEnd(14)} ${String(t.amount).padStart(6)}  ` +
      `[${how}] ${view.outcome ?? view.state}${why}`,
  );
  return view.id;
}

function checkInvariants(before: AccountsReply[], after: AccountsReply[]): boolean {
  const sum = (r: AccountsReply[]): number => r.reduce((s, b) => s + b.total, 0);
  const held = after.flatMap((b) => b.accounts).reduce((s, a) => s + a.held, 0);
  const negative = after.flatMap((b) => b.accounts.filter((a) => a.balance < 0).map((a) => `${b.bank}/${a.name}`));
  const conserved = sum(before) === sum(after);
  say(`\ntotal before ${sum(before)}, after ${sum(after)}: money conserved: ${conserved ? 'yes' : 'NO'}`);
  say(`funds still held by undecided transfers: ${held}${held === 0 ? '' : ' (expected 0)'}`);
  if (negative.length > 0) say(`negative balances: ${negative.join(', ')}`);
  return conserved && held === 0 && negative.length === 0;
}

async function seed(banks: SpawnedBank[]): Promise<void> {
  for (const bank of banks) {
    const { kept } = await seedAccounts(bank.url, SEED[bank.name] ?? {});
    if (kept.length > 0) say(`${bank.name}: kept accounts ${kept.join(', ')} from an earlier run in this data directory`);
  }
}

async function balances(banks: SpawnedBank[]): Promise<AccountsReply[]> {
  return Promise.all(
    banks.map(async (b) => {
      const res = await request(`${b.url}/accounts`);
      return (await res.body.json()) as AccountsReply;
    }),
  );
}

function printBalances(when: string, replies: AccountsReply[]): void {
  say(`\nbalances ${when}:`);
  for (const r of replies) {
    const accounts = r.accounts.map((a) => `${a.name} ${a.balance}${a.held > 0 ? ` (held ${a.held})` : ''}`).join(', ');
    say(`  ${r.bank.padEnd(7)} ${accounts}   total ${r.total}`);
  }
}

function label(a: AccountRef): string {
  return `${a.account}@${a.bank.name}`;
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

process.exit(await main());
