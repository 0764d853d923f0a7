// The bank invariant through a leader SIGKILL: three real node processes, the
// example's two bank services as real processes (participant SDK + LevelDB
// ledger), concurrent cross-bank transfers through RatifyClient (2PC and 3PC,
// some without the funds), and the leader killed mid-stream. Afterwards:
// - every client call got an answer, and the cluster ran exactly one
//   transaction per call (idempotent retries across the failover);
// - every transaction is finished, with one outcome, on every node (the
//   restarted one included);
// - each bank's durable participant record agrees with that outcome, so no
//   transfer is committed at one bank and aborted at the other, and nothing
//   is in doubt at either bank;
// - balances equal the seed plus exactly the committed transfers, nothing is
//   still held, and the total is conserved.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transferParticipants, type AccountRef } from '../../examples/bank/transfer.js';
import { Prng } from '../../src/util/random.js';
import { RatifyClient } from '../../src/sdk/client.js';
import { LevelParticipantStore } from '../../src/sdk/participant/level-store.js';
import { recordKey } from '../../src/sdk/participant/record.js';
import type { TestCluster } from '../helpers/cluster.js';
import { httpJson } from '../helpers/http.js';
import { waitUntil } from '../helpers/wait.js';
import { seedKnob } from '../helpers/env-knob.js';
import { spawnBankProcess, type BankProcess } from './bank-process.js';
import { isFinished, SETTLE_TIMEOUT_MS, startTxCluster, waitForNewLeader, type Outcome, type TxView } from './harness.js';

const BANKS = ['bank-a', 'bank-b'] as const;
const ACCOUNTS_PER_BANK = 4;
const OPENING_BALANCE = 1_000;
const WORKERS = 6;
const TRANSFERS_PER_WORKER = 10;
/** The leader is killed once this many transfers have been answered. */
const KILL_AFTER = 20;
const BANK_SEED_DEFAULT = 20261204;
const AMOUNT_MAX = 700;

interface Transfer {
  readonly id: string;
  readonly from: AccountRef;
  readonly to: AccountRef;
  readonly amount: number;
  readonly outcome: Outcome | null;
}

interface AccountsReply {
  bank: string;
  accounts: { name: string; balance: number; held: number }[];
  total: number;
}

let cluster: TestCluster | null = null;
let root: string | null = null;
const banks: BankProcess[] = [];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'ratify-bank-failover-'));
  cluster = await startTxCluster();
  const coordinators = cluster.nodes.map((n) => n.url);
  for (const name of BANKS) {
    const bank = await spawnBankProcess({ name, dataDir: join(root, name), coordinators });
    banks.push(bank);
    for (let i = 0; i < ACCOUNTS_PER_BANK; i++) {
      const res = await httpJson('POST', `${bank.url}/accounts`, { body: { name: accountName(name, i), balance: OPENING_BALANCE } });
      if (res.status !== 201) throw new Error(`seeding ${name}: ${res.status} ${JSON.stringify(res.body)}`);
    }
  }
});

afterAll(async () => {
  await Promise.all(banks.splice(0).map((b) => b.stop().catch(() => undefined)));
  await cluster?.cleanup();
  if (root !== null) rmSync(root, { recursive: true, force: true });
});

function c(): TestCluster {
  if (cluster === null) throw new Error('cluster not started');
  return cluster;
}

function accountName(bank: string, i: number): string {
  return `${bank.slice(-1)}${i}`;
}

async function listAll(nodeId: string): Promise<TxView[]> {
  const out: TxView[] = [];
  let cursor: string | null = null;
  do {
    const qs: string = cursor === null ? 'limit=1000' : `limit=1000&cursor=${encodeURIComponent(cursor)}`;
    const res = await httpJson<{ transactions: TxView[]; nextCursor: string | null }>('GET', `${c().url(nodeId)}/v1/transactions?${qs}`);
    if (res.status !== 200) throw new Error(`list on ${nodeId}: ${res.status} ${JSON.stringify(res.body)}`);
    out.push(...res.body.transactions);
    cursor = res.body.nextCursor;
  } while (cursor !== null);
  return out;
}

/** Polls one node's list until every transaction is finished; returns id -> outcome. */
function settledOn(nodeId: string, count: number): Promise<Map<string, Outcome>> {
  let last = '';
  return waitUntil(
    async () => {
      const all = await listAll(nodeId);
      const open = all.filter((t) => !isFinished(t));
      last = `${all.length} transactions, unfinished: ${JSON.stringify(open.slice(0, 3))}`;
      if (all.length !== count || open.length > 0) return undefined;
      return new Map(all.map((t) => [t.id, t.outcome!]));
    },
    { timeoutMs: SETTLE_TIMEOUT_MS * 2, intervalMs: 250, what: `every transaction finished on ${nodeId} (${last})` },
  );
}

async function balances(): Promise<AccountsReply[]> {
  return Promise.all(
    banks.map(async (b) => {
      const res = await request(`${b.url}/accounts`);
      return (await res.body.json()) as AccountsReply;
    }),
  );
}

/** Each bank's participant records preparing, prepared or precommitted (the SDK's own count). */
async function inDoubtAtBanks(): Promise<number[]> {
  return Promise.all(
    banks.map(async (b) => {
      const res = await request(`${b.url}/transactions?limit=1`);
      const body = (await res.body.json()) as { participantInDoubt?: unknown };
      return typeof body.participantInDoubt === 'number' ? body.participantInDoubt : Number.NaN;
    }),
  );
}

describe('bank invariant under concurrent transfers and a leader kill', () => {
  it('conserves money, and no transfer is committed at one bank and aborted at the other', async ({ onTestFailed }) => {
    onTestFailed(() => {
      console.error(c().dumpLogs());
      for (const b of banks) console.error(`---- ${b.name} ----\n${b.logs.slice(-200).join('\n')}`);
    });
    // A fixed seed, so a CI failure replays exactly; RATIFY_BANK_SEED explores others.
    const seed = seedKnob('RATIFY_BANK_SEED', BANK_SEED_DEFAULT);
    console.log(`bank workload seed ${seed} (set RATIFY_BANK_SEED to replay or vary the workload)`);
    const random = new Prng(seed).asFunction();
    const client = new RatifyClient({ nodes: c().nodes.map((n) => n.url), timeoutMs: 10_000, retries: 30, backoffMaxMs: 1_000 });
    const transfers: Transfer[] = [];
    const errors: string[] = [];
    let answered = 0;
    let killed: { id: string; term: number } | null = null;

    const pick = (bank: BankProcess): AccountRef => ({ bank, account: accountName(bank.name, Math.floor(random() * ACCOUNTS_PER_BANK)) });
    const plan = Array.from({ length: WORKERS }, () =>
      Array.from({ length: TRANSFERS_PER_WORKER }, (_, i) => {
        const fromBank = random() < 0.5 ? 0 : 1;
        return {
          from: pick(banks[fromBank]!),
          to: pick(banks[1 - fromBank]!),
          amount: 1 + Math.floor(random() * AMOUNT_MAX),
          protocol: i % 3 === 2 ? ('3pc' as const) : ('2pc' as const),
        };
      }),
    );
    const killer = (async () => {
      await waitUntil(() => answered >= KILL_AFTER, {
        timeoutMs: SETTLE_TIMEOUT_MS * 2,
        intervalMs: 10,
        what: `${KILL_AFTER} transfers answered`,
      });
      const { leaderId, term } = await c().waitForLeader();
      await c().stopNode(leaderId, 'SIGKILL');
      killed = { id: leaderId, term };
      console.log(`SIGKILLed leader ${leaderId} (term ${term}) after ${answered} transfers were answered`);
    })();
    try {
      await Promise.all(
        plan.map(async (series) => {
          for (const t of series) {
            try {
              const view = await client.run({
                participants: transferParticipants(t.from, t.to, t.amount),
                protocol: t.protocol,
                timeoutMs: 60_000,
              });
              transfers.push({ id: view.id, from: t.from, to: t.to, amount: t.amount, outcome: view.outcome });
            } catch (e) {
              errors.push(e instanceof Error ? e.message : String(e));
            }
            answered++;
          }
        }),
      );
      await killer;
    } finally {
      await client.close();
    }
    const k = killed as { id: string; term: number } | null;
    if (k === null) throw new Error('the leader was never killed');
    expect(errors, 'every client call is answered despite the failover').toEqual([]);
    await waitForNewLeader(c(), k.term);

    // Exactly one transaction per client call: retries with the same key made no second one.
    const liveIds = c()
      .live()
      .map((n) => n.id);
    const outcomes = await settledOn(liveIds[0]!, transfers.length);
    expect([...outcomes.keys()].sort()).toEqual(transfers.map((t) => t.id).sort());
    for (const id of liveIds.slice(1)) expect(await settledOn(id, transfers.length)).toEqual(outcomes);
    await c().startNode(k.id);
    expect(await settledOn(k.id, transfers.length)).toEqual(outcomes);
    // What each client was told (the durable decision) is the outcome.
    for (const t of transfers) expect({ id: t.id, outcome: outcomes.get(t.id) }).toEqual({ id: t.id, outcome: t.outcome });
    const committed = transfers.filter((t) => outcomes.get(t.id) === 'committed');
    console.log(`${transfers.length} transfers: ${committed.length} committed, ${transfers.length - committed.length} aborted`);
    expect(committed.length).toBeGreaterThan(0);

    // Balances: the seed plus exactly the committed transfers; nothing held; money conserved.
    // A client retry after the kill may start anew: the first attempt's one-shot prepares, which
    // its leader never recorded, are settled by each bank on its own resolve timer (README,
    // "Participant protocol"), so holds may linger for resolveAfterMs plus an inquiry per node.
    // So may prepared records that hold no money (the credit side of a transfer): the banks'
    // own count of records in doubt must reach 0 too before their stores are read below.
    const noneHeld = (bs: AccountsReply[]): boolean => bs.every((r) => r.accounts.every((a) => a.held === 0));
    const after = await waitUntil(
      async () => {
        const bs = await balances();
        return noneHeld(bs) && (await inDoubtAtBanks()).every((n) => n === 0) ? bs : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'no money held and nothing in doubt at any bank' },
    ).catch(() => balances());
    const expected = new Map<string, number>();
    for (const b of BANKS) for (let i = 0; i < ACCOUNTS_PER_BANK; i++) expected.set(`${b}/${accountName(b, i)}`, OPENING_BALANCE);
    for (const t of committed) {
      const from = `${t.from.bank.name}/${t.from.account}`;
      const to = `${t.to.bank.name}/${t.to.account}`;
      expected.set(from, expected.get(from)! - t.amount);
      expected.set(to, expected.get(to)! + t.amount);
    }
    const actual = new Map(after.flatMap((r) => r.accounts.map((a) => [`${r.bank}/${a.name}`, a.balance] as const)));
    expect(actual).toEqual(expected);
    expect(after.flatMap((r) => r.accounts.filter((a) => a.held !== 0))).toEqual([]);
    expect(after.reduce((s, r) => s + r.total, 0)).toBe(BANKS.length * ACCOUNTS_PER_BANK * OPENING_BALANCE);

    // Each bank's durable records: the coordinator's outcome, at both banks, nothing in doubt.
    await Promise.all(banks.splice(0).map((b) => b.stop()));
    const perBank = new Map<string, Map<string, string | undefined>>();
    for (const name of BANKS) {
      const store = new LevelParticipantStore(join(root!, name, 'participant'));
      const loaded = await store.open();
      try {
        expect(
          loaded.inDoubt.map((r) => `${r.txId} ${r.state}`),
          `${name}: transactions in doubt`,
        ).toEqual([]);
        const states = new Map<string, string | undefined>();
        for (const t of transfers) states.set(t.id, (await store.get(recordKey(t.id, name)))?.state);
        perBank.set(name, states);
      } finally {
        await store.close();
      }
    }
    const split = transfers.filter((t) => perBank.get('bank-a')!.get(t.id) !== perBank.get('bank-b')!.get(t.id));
    expect(
      split.map((t) => [t.id, perBank.get('bank-a')!.get(t.id), perBank.get('bank-b')!.get(t.id)]),
      'committed at one bank, not at the other',
    ).toEqual([]);
    for (const t of transfers) expect({ id: t.id, bank: perBank.get('bank-a')!.get(t.id) }).toEqual({ id: t.id, bank: outcomes.get(t.id) });
  }, 150_000);
});
