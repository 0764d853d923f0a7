// The bank's accounts and its per-transaction records, in LevelDB. A transfer's
// part at this bank is a list of operations (account, delta). Prepare holds the
// debits, commit applies every operation, abort releases the hold. Each
// (txId, participant) has one record whose state moves prepared -> committed or
// prepared -> aborted (or straight to aborted when the bank votes abort), written
// in the same batch as the balances it changes: the records are the bank's own
// account of every transaction, for checkers to hold against the coordinator.
//
// Keys: acct!<name> -> {balance, held}
//       txn!<recordKey> -> LedgerTxRecord
//       open!<recordKey> -> 1            index of prepared (undecided) records
//       fin!<seq>        -> <recordKey>  finished records in finishing order, for retention
import { Level } from 'level';
import {
  encodeCursor,
  finishedKey,
  listRange,
  openKey,
  recordKey,
  txKey,
  type LedgerTxRecord,
  type LedgerTxState,
  type TxPage,
  type TxQuery,
} from './ledger-records.js';

export interface Account {
  readonly name: string;
  readonly balance: number;
  /** Funds held by prepared, undecided transfers; available = balance - held. */
  readonly held: number;
}

export interface LedgerOp {
  readonly account: string;
  /** Negative for a debit, positive for a credit; whole units. */
  readonly delta: number;
}

export type ReserveResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

type Stored = { balance: number; held: number };
type Batch = ({ type: 'put'; key: string; value: unknown } | { type: 'del'; key: string })[];

const OPS_MAX = 16;
const ACCOUNT_NAME_CHARS_MAX = 64;
export const TRANSACTIONS_RETAIN_MAX_DEFAULT = 100_000;
const TRANSACTIONS_RETAIN_LIMIT = 10_000_000;

export class Ledger {
  private readonly db: Level<string, unknown>;
  /** One read-modify-write at a time: two prepares must not both see the same funds. */
  private tail: Promise<unknown> = Promise.resolve();
  /** Finished records kept, and the sequence number of the last one (loaded at open). */
  private finishedCount = 0;
  private finishedSeq = 0;

  /** Keeps at most `transactionsRetainMax` finished records (oldest removed first); prepared ones are always kept. */
  constructor(
    dataDir: string,
    private readonly transactionsRetainMax = TRANSACTIONS_RETAIN_MAX_DEFAULT,
  ) {
    if (!Number.isSafeInteger(transactionsRetainMax) || transactionsRetainMax < 1 || transactionsRetainMax > TRANSACTIONS_RETAIN_LIMIT) {
      throw new RangeError(
        `transactionsRetainMax (${transactionsRetainMax}) must be an integer between 1 and ${TRANSACTIONS_RETAIN_LIMIT}`,
      );
    }
    this.db = new Level<string, unknown>(dataDir, { valueEncoding: 'json' });
  }

  async open(): Promise<void> {
    await this.db.open();
    for await (const key of this.db.keys({ gt: 'fin!', lt: 'fin"' })) {
      this.finishedCount += 1;
      this.finishedSeq = Number(key.slice(4));
    }
  }

  close(): Promise<void> {
    return this.db.close();
  }

  createAccount(name: string, balance: number): Promise<boolean> {
    return this.exclusive(async () => {
      if ((await this.db.get(`acct!${name}`)) !== undefined) return false;
      await this.db.put(`acct!${name}`, { balance, held: 0 }, { sync: true });
      return true;
    });
  }

  async accounts(): Promise<Account[]> {
    const out: Account[] = [];
    for await (const [key, value] of this.db.iterator({ gt: 'acct!', lt: 'acct"' })) {
      const v = value as Stored;
      out.push({ name: key.slice(5), balance: v.balance, held: v.held });
    }
    return out;
  }

  /**
   * Holds the debits and records the transaction as prepared. Votes abort (ok:
   * false, recorded as aborted) on a malformed payload, an unknown account or
   * insufficient funds. A repeated prepare answers as the record stands.
   */
  reserve(txId: string, participant: string, payload: unknown): Promise<ReserveResult> {
    return this.exclusive(async () => {
      const key = recordKey(txId, participant);
      const existing = await this.record(key);
      if (existing !== undefined)
        return existing.state === 'aborted' ? { ok: false, reason: existing.reason ?? 'aborted earlier' } : { ok: true };
      const ops = parseOps(payload);
      if (typeof ops === 'string') return this.refuse(txId, participant, [], ops);
      const accounts = await this.load(ops);
      if (typeof accounts === 'string') return this.refuse(txId, participant, ops, accounts);
      for (const op of ops) {
        if (op.delta >= 0) continue;
        const a = accounts.get(op.account)!;
        if (a.balance - a.held < -op.delta) {
          return this.refuse(
            txId,
            participant,
            ops,
            `insufficient funds in ${op.account}: available ${a.balance - a.held}, needs ${-op.delta}`,
          );
        }
        a.held += -op.delta;
      }
      const record: LedgerTxRecord = { txId, participant, state: 'prepared', ops };
      await this.db.batch(
        [...puts(accounts), { type: 'put', key: txKey(key), value: record }, { type: 'put', key: openKey(key), value: 1 }],
        { sync: true },
      );
      return { ok: true };
    });
  }

  /** Applies a prepared transaction; a second call does nothing. Throws if it was aborted here or never prepared. */
  apply(txId: string, participant: string): Promise<void> {
    return this.settle(txId, participant, 'committed', (a, op) => {
      a.balance += op.delta;
      if (op.delta < 0) a.held -= -op.delta;
    });
  }

  /** Releases a prepared transaction's holds; a second call, or one for a transaction never prepared here, just records the abort. */
  release(txId: string, participant: string): Promise<void> {
    return this.settle(txId, participant, 'aborted', (a, op) => {
      if (op.delta < 0) a.held -= -op.delta;
    });
  }

  /** Records in key order, filtered; `nextCursor` continues the listing (null at the end). `afterKey` comes from a cursor. */
  async transactions(q: TxQuery, afterKey: string | null): Promise<TxPage> {
    // Prepared records have their own index: "is anything in doubt?" reads only those.
    const prefix = q.state === 'prepared' ? 'open!' : 'txn!';
    const transactions: LedgerTxRecord[] = [];
    let lastKey: string | null = null;
    for await (const dbKey of this.db.keys(listRange(prefix, q.txId, afterKey))) {
      const key = dbKey.slice(prefix.length);
      const record = await this.record(key);
      if (record === undefined || (q.state !== undefined && record.state !== q.state)) continue;
      if (transactions.length === q.limit) return { transactions, nextCursor: encodeCursor(lastKey!) };
      transactions.push(record);
      lastKey = key;
    }
    return { transactions, nextCursor: null };
  }

  private async refuse(txId: string, participant: string, ops: LedgerOp[], reason: string): Promise<ReserveResult> {
    await this.writeFinished(recordKey(txId, participant), { txId, participant, state: 'aborted', ops, reason });
    return { ok: false, reason };
  }

  private settle(txId: string, participant: string, to: 'committed' | 'aborted', change: (a: Stored, op: LedgerOp) => void): Promise<void> {
    return this.exclusive(async () => {
      const key = recordKey(txId, participant);
      const record = await this.record(key);
      if (record?.state === to) return;
      if (record === undefined && to === 'aborted') {
        // Prepare never held anything here (interrupted, or it never arrived): only the outcome is recorded.
        return this.writeFinished(key, { txId, participant, state: 'aborted', ops: [], reason: 'aborted before anything was held' });
      }
      if (record?.state !== 'prepared') {
        // The coordinator's decision contradicts what this bank did: never paper over it.
        throw new Error(
          `PROTOCOL VIOLATION: ${to === 'committed' ? 'commit' : 'abort'} of ${participant}/${txId}, which is ${record?.state ?? 'unknown'} here`,
        );
      }
      const accounts = await this.load(record.ops);
      if (typeof accounts === 'string') throw new Error(`reservation ${participant}/${txId} names ${accounts}`);
      for (const op of record.ops) change(accounts.get(op.account)!, op);
      return this.writeFinished(key, { ...record, state: to }, puts(accounts));
    });
  }

  /** Writes a finished record with `extra` in one synced batch, dropping the oldest finished records beyond the retention limit. */
  private async writeFinished(
    key: string,
    record: LedgerTxRecord & { state: Exclude<LedgerTxState, 'prepared'> },
    extra: Batch = [],
  ): Promise<void> {
    const seq = this.finishedSeq + 1;
    const batch: Batch = [
      ...extra,
      { type: 'put', key: txKey(key), value: record },
      { type: 'del', key: openKey(key) },
      { type: 'put', key: finishedKey(seq), value: key },
    ];
    const excess = Math.max(0, this.finishedCount + 1 - this.transactionsRetainMax);
    if (excess > 0) {
      for await (const [finKey, oldKey] of this.db.iterator({ gt: 'fin!', lt: 'fin"', limit: excess })) {
        batch.push({ type: 'del', key: finKey }, { type: 'del', key: txKey(oldKey as string) });
      }
    }
    await this.db.batch(batch, { sync: true });
    this.finishedSeq = seq;
    this.finishedCount += 1 - excess;
  }

  private async record(key: string): Promise<LedgerTxRecord | undefined> {
    return (await this.db.get(txKey(key))) as LedgerTxRecord | undefined;
  }

  private async load(ops: readonly LedgerOp[]): Promise<Map<string, Stored> | string> {
    const accounts = new Map<string, Stored>();
    for (const op of ops) {
      if (accounts.has(op.account)) continue;
      const v = (await this.db.get(`acct!${op.account}`)) as Stored | undefined;
      if (v === undefined) return `unknown account ${op.account}`;
      accounts.set(op.account, { ...v });
    }
    return accounts;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

function puts(accounts: Map<string, Stored>): Batch {
  return [...accounts].map(([name, v]) => ({ type: 'put', key: `acct!${name}`, value: v }));
}

/** The payload from the coordinator is untrusted input: a reason string when malformed. */
export function parseOps(payload: unknown): LedgerOp[] | string {
  const ops = (payload as { ops?: unknown } | null)?.ops;
  if (!Array.isArray(ops) || ops.length === 0 || ops.length > OPS_MAX) return `payload.ops must be an array of 1 to ${OPS_MAX} operations`;
  for (const op of ops as unknown[]) {
    const o = op as { account?: unknown; delta?: unknown } | null;
    if (typeof o?.account !== 'string' || o.account.length === 0 || o.account.length > ACCOUNT_NAME_CHARS_MAX)
      return 'every op needs an account name';
    if (typeof o.delta !== 'number' || !Number.isSafeInteger(o.delta) || o.delta === 0) return 'every op needs a non-zero integer delta';
  }
  return (ops as LedgerOp[]).map((o) => ({ account: o.account, delta: o.delta }));
}
