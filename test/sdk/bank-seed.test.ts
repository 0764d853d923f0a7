// The bank example reruns on the same --data (issue 16: seeding answered 409 on the
// accounts the first run had opened, and the rerun stopped there).
import { describe, expect, it } from 'vitest';
import { startBank } from '../../examples/bank/bank-service.js';
import { seedAccounts } from '../../examples/bank/seed.js';
import { quiet, withTempDir } from './helpers.js';

describe('seeding the bank example', () => {
  it('opens missing accounts and keeps existing ones, across a restart of the bank', async () => {
    await withTempDir(async (dir) => {
      const first = await startBank({ name: 'bank-a', dataDir: dir, logger: quiet as never });
      try {
        expect(await seedAccounts(first.url, { alice: 1000, carol: 500 })).toEqual({ created: ['alice', 'carol'], kept: [] });
        await first.ledger.createAccount('dave', 1); // as if a transfer had changed things meanwhile
      } finally {
        await first.close();
      }
      const again = await startBank({ name: 'bank-a', dataDir: dir, logger: quiet as never });
      try {
        expect(await seedAccounts(again.url, { alice: 1000, carol: 500, erin: 7 })).toEqual({
          created: ['erin'],
          kept: ['alice', 'carol'],
        });
        const accounts = (await (await fetch(`${again.url}/accounts`)).json()) as { accounts: { name: string; balance: number }[] };
        expect(accounts.accounts.find((a) => a.name === 'alice')?.balance).toBe(1000);
        await expect(seedAccounts(again.url, { bad: -1 })).rejects.toThrow(/opening account bad at .* answered 400/);
      } finally {
        await again.close();
      }
    });
  });
});
