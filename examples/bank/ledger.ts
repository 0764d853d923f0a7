// The bank's accounts, in LevelDB. A transfer's part at this bank is a list of
// operations (account, delta). Prepare holds the debits, commit applies every
// operation, abort releases the hold. A reservation is keyed by
// "<txId>/<participant>", so each step is idempotent on its own as well.
//
// Keys: acct!<name> -> {balance, held}; resv!<key> -> {ops}.
import { Level } from 'level';

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

export class Ledger {
  private readonly db: Level<string, unknown>;
  /** One read-modify-write at a time: two prepares must not both see the same funds. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(dataDir: string) {
    this.db = new Level<string, unknown>(dataDir, { valueEncoding: 'json' });
  }

  open(): Promise<void> {
    return this.db.open();
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

  /** Holds the debits; votes abort (ok: false) on an unknown account or insufficient funds. */
  reserve(key: string, payload: unknown): Promise<ReserveResult> {
    return this.exclusive(async () => {
      const ops = parseOps(payload);
      if (typeof ops === 'string') return { ok: false, reason: ops };
      if ((await this.db.get(`resv!${key}`)) !== undefined) return { ok: true };
      const accounts = await this.load(ops);
      if (typeof accounts === 'string') return { ok: false, reason: accounts };
      for (const op of ops) {
        if (op.delta >= 0) continue;
        const a = accounts.get(op.account)!;
        if (a.balance - a.held < -op.delta) {
          return { ok: false, reason: `insufficient funds in ${op.account}: available ${a.balance - a.held}, needs ${-op.delta}` };
        }
        a.held += -op.delta;
      }
      await this.db.batch([...puts(accounts), { type: 'put', key: `resv!${key}`, value: { ops } }], { sync: true });
      return { ok: true };
    });
  }

  /** Applies a reservation; a second call finds none and does nothing. */
  apply(key: string): Promise<void> {
    return this.settle(key, (a, op) => {
      a.balance += op.delta;
      if (op.delta < 0) a.held -= -op.delta;
    });
  }

  /** Releases a reservation's holds; tolerates finding none (prepare never ran or voted abort). */
  release(key: string): Promise<void> {
    return this.settle(key, (a, op) => {
      if (op.delta < 0) a.held -= -op.delta;
    });
  }

  private settle(key: string, change: (a: Stored, op: LedgerOp) => void): Promise<void> {
    return this.exclusive(async () => {
      const resv = (await this.db.get(`resv!${key}`)) as { ops: LedgerOp[] } | undefined;
      if (resv === undefined) return;
      const accounts = await this.load(resv.ops);
      if (typeof accounts === 'string') throw new Error(`reservation ${key} names ${accounts}`);
      for (const op of resv.ops) change(accounts.get(op.account)!, op);
      await this.db.batch([...puts(accounts), { type: 'del', key: `resv!${key}` }], { sync: true });
    });
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
    if (typeof o?.account !== 'string' || o.account.length === 0 || o.account.length > ACCOUNT_NAME_CHARS_MAX) return 'every op needs an account name';
    if (typeof o.delta !== 'number' || !Number.isSafeInteger(o.delta) || o.delta === 0) return 'every op needs a non-zero integer delta';
  }
  return (ops as LedgerOp[]).map((o) => ({ account: o.account, delta: o.delta }));
}
