// Opening accounts for the example, idempotently: a rerun with the same --data finds
// the accounts of the earlier run (with the balances its transfers left) and keeps
// them. Creating them again answered 409 ACCOUNT_EXISTS and stopped the rerun.
import { request } from 'undici';

export interface SeedResult {
  /** Accounts opened now. */
  readonly created: string[];
  /** Accounts that existed already; their balances are left as they are. */
  readonly kept: string[];
}

/** Opens each account at `bankUrl` that does not exist yet. Throws on any answer but 201 or 409 ACCOUNT_EXISTS. */
export async function seedAccounts(bankUrl: string, accounts: Readonly<Record<string, number>>): Promise<SeedResult> {
  const created: string[] = [];
  const kept: string[] = [];
  for (const [name, balance] of Object.entries(accounts)) {
    const res = await request(`${bankUrl}/accounts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, balance }),
    });
    const text = await res.body.text();
    if (res.statusCode === 201) created.push(name);
    else if (res.statusCode === 409 && errorCode(text) === 'ACCOUNT_EXISTS') kept.push(name);
    else throw new Error(`opening account ${name} at ${bankUrl} answered ${res.statusCode}: ${text}`);
  }
  return { created, kept };
}

function errorCode(text: string): unknown {
  try {
    return (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
  } catch {
    return undefined;
  }
}
