// How the chaos suite speaks to the example bank participants (examples/bank/bank-service):
// one account per bank, a transfer as one debit leg and one credit leg, each bank enlisted
// at {bank}/ratify with payload {ops: [{account, delta}]}, and the evidence read back from
// GET /accounts (balance and held per account). The only file that knows the bank's API.
import { getJson, isObject, requestJson } from './http-json.js';
import type { BankSpec } from './container-cluster.js';
import type { AccountState, BankState, Leg } from './invariants.js';
import type { TransferShape } from './transfer-workload.js';

export const BANKS: readonly BankSpec[] = [
  { name: 'A', alias: 'bank-a', port: 8001 },
  { name: 'B', alias: 'bank-b', port: 8002 },
];
const ACCOUNT_OF: Readonly<Record<string, string>> = { A: 'alice', B: 'bob' };
/** Small enough that random transfers now and then meet insufficient funds: aborts happen too. */
export const INITIAL_BALANCE = 100;
const PARTICIPANT_PREFIX = '/ratify';

function accountOf(bank: string): string {
  const a = ACCOUNT_OF[bank];
  if (a === undefined) throw new Error(`no account for bank ${bank}`);
  return a;
}

export function transferShape(networkUrl: (bank: string) => string): TransferShape {
  return {
    banks: BANKS.map((b) => b.name),
    legs: (from, to, amount): Leg[] => [
      { bank: from, account: accountOf(from), delta: -amount },
      { bank: to, account: accountOf(to), delta: amount },
    ],
    participants: (key, legs) => {
      const banks = [...new Set(legs.map((l) => l.bank))];
      return banks.map((bank) => ({
        name: bank,
        url: `${networkUrl(bank)}${PARTICIPANT_PREFIX}`,
        // transferKey is not read by the bank; it ties the bank's copy back to the workload.
        payload: { transferKey: key, ops: legs.filter((l) => l.bank === bank).map((l) => ({ account: l.account, delta: l.delta })) },
      }));
    },
  };
}

/** Opens the bank's account (idempotent: an existing account is left as it is). */
export async function setupBank(bankUrl: string, bank: string): Promise<void> {
  const r = await requestJson('POST', `${bankUrl}/accounts`, { body: { name: accountOf(bank), balance: INITIAL_BALANCE }, timeoutMs: 10_000 });
  if (r.kind === 'reply' && (r.status === 201 || r.status === 409)) return;
  throw new Error(`bank ${bank}: cannot open account: ${r.kind === 'reply' ? `${r.status} ${JSON.stringify(r.body)}` : r.error}`);
}

export async function readBank(bankUrl: string, bank: string): Promise<BankState> {
  const r = await getJson(`${bankUrl}/accounts`, 10_000);
  if (r.kind !== 'reply' || r.status !== 200 || !isObject(r.body) || !Array.isArray(r.body['accounts'])) {
    throw new Error(`bank ${bank}: cannot read ${bankUrl}/accounts: ${r.kind === 'reply' ? r.status : r.error}`);
  }
  const accounts = new Map<string, AccountState>();
  for (const a of r.body['accounts'].filter(isObject)) {
    if (typeof a['name'] !== 'string' || typeof a['balance'] !== 'number' || typeof a['held'] !== 'number') {
      throw new Error(`bank ${bank}: malformed account ${JSON.stringify(a)}`);
    }
    accounts.set(a['name'], { balance: a['balance'], held: a['held'] });
  }
  // The bank lists no per-transaction records; atomicity is checked on its money.
  return { name: bank, accounts, records: null };
}
