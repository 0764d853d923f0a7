// How the runner speaks to the example bank participants (examples/bank): accounts
// opened for this run only (named after the run, so a reused compose project's older
// accounts and transactions stay out of the checks), a transfer as one debit and one
// credit leg, each bank enlisted at {participantUrl} with payload {ops:[{account, delta}]},
// and balances read back from GET /accounts.
import { LevelParticipantStore } from '../../src/sdk/participant/level-store.js';
import type { AccountState, BankSnapshot, Leg, ParticipantRecord } from './evidence.js';
import { httpJson, isObject } from './http.js';
import type { Prng } from '../../src/util/random.js';

export interface BankEndpoint {
  /** The name the bank is enlisted under (its participant name). */
  readonly name: string;
  /** Where the runner reaches GET/POST /accounts. */
  readonly url: string;
  /** Where the coordinator reaches the participant routes (may differ inside a network). */
  readonly participantUrl: string;
}

/** The body of POST /v1/transactions's participants for a transfer. */
export interface ParticipantSpec {
  readonly name: string;
  readonly url: string;
  readonly payload: unknown;
}

const BANK_TIMEOUT_MS = 10_000;
const RECORDS_MAX = 1_000_000;

export class BankBook {
  /** bank name -> the accounts this run opened there. */
  readonly accounts: ReadonlyMap<string, readonly string[]>;

  constructor(
    readonly banks: readonly BankEndpoint[],
    runId: string,
    accountsPerBank: number,
  ) {
    this.accounts = new Map(banks.map((b) => [b.name, Array.from({ length: accountsPerBank }, (_, i) => `chaos-${runId}-${i}`)]));
  }

  /** Opens this run's accounts; fails loudly, since a run without them checks nothing. */
  async open(balance: number): Promise<void> {
    for (const bank of this.banks) {
      for (const account of this.accounts.get(bank.name)!) {
        const r = await httpJson('POST', `${bank.url}/accounts`, { body: { name: account, balance }, timeoutMs: BANK_TIMEOUT_MS });
        if (r.kind !== 'reply' || r.status !== 201) {
          throw new Error(
            `bank ${bank.name}: cannot open account ${account}: ${r.kind === 'reply' ? `${r.status} ${JSON.stringify(r.body)}` : r.error}`,
          );
        }
      }
    }
  }

  /** A random transfer between two of this run's accounts; mostly across banks. */
  randomLegs(rng: Prng, amountMax: number): Leg[] {
    const all = this.banks.flatMap((b) => this.accounts.get(b.name)!.map((account) => ({ bank: b.name, account })));
    const from = rng.pick(all);
    // Four in five transfers cross banks: those are the ones atomicity is about.
    const crossBank = this.banks.length > 1 && rng.chance(0.8);
    const pool = all.filter((a) => (a.bank !== from.bank) === crossBank && a.account !== from.account);
    const to = rng.pick(pool.length > 0 ? pool : all.filter((a) => a !== from));
    const amount = rng.int(1, amountMax);
    return [
      { bank: from.bank, account: from.account, delta: -amount },
      { bank: to.bank, account: to.account, delta: amount },
    ];
  }

  /** One participant per bank the legs touch; the key rides along as a trace for humans. */
  participants(key: string, legs: readonly Leg[]): ParticipantSpec[] {
    const banks = [...new Set(legs.map((l) => l.bank))];
    return banks.map((name) => ({
      name,
      url: this.endpoint(name).participantUrl,
      payload: { transferKey: key, ops: legs.filter((l) => l.bank === name).map((l) => ({ account: l.account, delta: l.delta })) },
    }));
  }

  /** Balances of this run's accounts at every bank (records are read separately). */
  async snapshot(): Promise<BankSnapshot[]> {
    return Promise.all(
      this.banks.map(async (b) => ({ bank: b.name, accounts: await this.readAccounts(b), records: null, recordsNote: 'not read yet' })),
    );
  }

  private async readAccounts(bank: BankEndpoint): Promise<Map<string, AccountState>> {
    const r = await httpJson('GET', `${bank.url}/accounts`, { timeoutMs: BANK_TIMEOUT_MS });
    if (r.kind !== 'reply' || r.status !== 200 || !isObject(r.body) || !Array.isArray(r.body['accounts'])) {
      throw new Error(`bank ${bank.name}: cannot read ${bank.url}/accounts: ${r.kind === 'reply' ? `${r.status}` : r.error}`);
    }
    const mine = new Set(this.accounts.get(bank.name));
    const out = new Map<string, AccountState>();
    for (const a of r.body['accounts'].filter(isObject)) {
      if (typeof a['name'] !== 'string' || !mine.has(a['name'])) continue;
      if (typeof a['balance'] !== 'number' || typeof a['held'] !== 'number')
        throw new Error(`bank ${bank.name}: malformed account ${JSON.stringify(a)}`);
      out.set(a['name'], { balance: a['balance'], held: a['held'] });
    }
    for (const name of mine) if (!out.has(name)) throw new Error(`bank ${bank.name}: account ${name} is gone`);
    return out;
  }

  private endpoint(name: string): BankEndpoint {
    const b = this.banks.find((x) => x.name === name);
    if (b === undefined) throw new Error(`no bank ${name}`);
    return b;
  }
}

/**
 * Every record in a participant's LevelDB store (the bank must be stopped: LevelDB
 * allows one process). Read through the store's own interface: the in-doubt records
 * it loads at open, and the finished ones through its age index.
 */
export async function readParticipantRecords(dir: string, sinceMs: number): Promise<ParticipantRecord[]> {
  const store = new LevelParticipantStore(dir);
  try {
    const loaded = await store.open();
    const byKey = new Map<string, ParticipantRecord>();
    // Older runs' records (a reused compose project) are not this run's business.
    for (const r of loaded.inDoubt) if (r.updatedAtMs >= sinceMs) byKey.set(`${r.participant}/${r.txId}`, { txId: r.txId, state: r.state });
    for (const ref of await store.finishedBefore(Number.MAX_SAFE_INTEGER, RECORDS_MAX)) {
      const r = await store.get(ref.key);
      if (r !== undefined && r.updatedAtMs >= sinceMs) byKey.set(`${r.participant}/${r.txId}`, { txId: r.txId, state: r.state });
    }
    return [...byKey.values()];
  } finally {
    await store.close();
  }
}
