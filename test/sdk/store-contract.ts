// The participant store contract: every ParticipantStore (LevelDB, in-memory,
// PostgreSQL) must pass the same suite. `withStore` hands the suite a factory that
// opens the same underlying storage again, to simulate a restart.
import { describe, expect, it } from 'vitest';
import type { ParticipantStore, ParticipantTxRecord } from '../../src/sdk/participant/index.js';
import { recordKey } from '../../src/sdk/participant/record.js';

export type Reopen = (fn: (open: () => ParticipantStore) => Promise<void>) => Promise<void>;

function rec(txId: string, state: ParticipantTxRecord['state'], updatedAtMs = 1000, participant = 'p'): ParticipantTxRecord {
  const voted = state === 'prepared' || state === 'precommitted' || state === 'committed';
  return {
    txId,
    participant,
    state,
    protocol: '2pc',
    payload: { txId },
    vote: voted ? 'commit' : state === 'aborted' ? 'abort' : null,
    reason: null,
    preparedTerm: 3,
    updatedAtMs,
  };
}

export function participantStoreContract(name: string, withStore: Reopen): void {
  describe(`participant store contract (${name})`, () => {
    it('keeps the term fence of each cluster incarnation apart from the legacy one, raised only', async () => {
      await withStore(async (open) => {
        const s1 = open();
        await s1.open();
        await s1.write({
          highestTerm: 9,
          fences: [
            { scope: 'ratify/aaaa', term: 4 },
            { scope: 'other.cluster/bbbb', term: 9 },
          ],
        });
        await s1.write({ records: [rec('x', 'prepared')], fences: [{ scope: 'ratify/aaaa', term: 5 }] });
        await s1.close();
        const s2 = open();
        const loaded = await s2.open();
        expect(loaded.highestTerm).toBe(9);
        const fences = [...(loaded.fences ?? [])].sort((a, b) => (a.scope < b.scope ? -1 : 1));
        expect(fences).toEqual([
          { scope: 'other.cluster/bbbb', term: 9 },
          { scope: 'ratify/aaaa', term: 5 },
        ]);
        await s2.close();
      });
    });

    it('keeps which cluster incarnation prepared a record, and reads records without it as before', async () => {
      await withStore(async (open) => {
        const s1 = open();
        await s1.open();
        const scoped: ParticipantTxRecord = { ...rec('scoped', 'prepared'), preparedBy: { clusterId: 'beta', incarnation: 'b1b1' } };
        await s1.write({ records: [scoped, rec('plain', 'prepared')] });
        await expect(
          s1.write({ records: [{ ...rec('bad', 'prepared'), preparedBy: { clusterId: 'a/b', incarnation: 'x' } }] }),
        ).rejects.toThrow(/preparedBy/);
        await s1.close();
        const s2 = open();
        const loaded = await s2.open();
        expect(loaded.inDoubt.find((r) => r.txId === 'scoped')?.preparedBy).toEqual({ clusterId: 'beta', incarnation: 'b1b1' });
        expect(await s2.get(recordKey('plain', 'p'))).toEqual(rec('plain', 'prepared'));
        expect('preparedBy' in ((await s2.get(recordKey('plain', 'p'))) ?? {})).toBe(false);
        await s2.close();
      });
    });

    it('round-trips records and reloads the in-doubt ones and the term after reopening', async () => {
      await withStore(async (open) => {
        const s1 = open();
        expect(await s1.open()).toEqual({ highestTerm: 0, fences: [], inDoubt: [] });
        await s1.write({ records: [rec('a', 'prepared'), rec('b', 'committed'), rec('c', 'preparing')], highestTerm: 7 });
        await s1.write({ records: [rec('a', 'precommitted')] });
        await s1.close();
        const s2 = open();
        const loaded = await s2.open();
        expect(loaded.highestTerm).toBe(7);
        expect(loaded.inDoubt.map((r) => `${r.txId}:${r.state}`).sort()).toEqual(['a:precommitted', 'c:preparing']);
        expect(await s2.get(recordKey('b', 'p'))).toEqual(rec('b', 'committed'));
        expect(await s2.get(recordKey('zz', 'p'))).toBeUndefined();
        await s2.close();
      });
    });

    it('keeps records of different participants of one transaction apart', async () => {
      await withStore(async (open) => {
        const s = open();
        await s.open();
        await s.write({ records: [rec('t', 'prepared', 1, 'x'), rec('t', 'aborted', 1, 'y')] });
        expect((await s.get(recordKey('t', 'x')))?.state).toBe('prepared');
        expect((await s.get(recordKey('t', 'y')))?.state).toBe('aborted');
        await s.close();
      });
    });

    it('lists finished records by age and prunes them', async () => {
      await withStore(async (open) => {
        const s = open();
        await s.open();
        await s.write({
          records: [rec('old', 'committed', 100), rec('mid', 'aborted', 200), rec('new', 'committed', 300), rec('open', 'prepared', 50)],
        });
        const due = await s.finishedBefore(300, 10);
        expect(due).toEqual([
          { key: recordKey('old', 'p'), finishedAtMs: 100 },
          { key: recordKey('mid', 'p'), finishedAtMs: 200 },
        ]);
        expect(await s.finishedBefore(300, 1)).toEqual([due[0]]);
        await s.write({ prune: due });
        expect(await s.get(recordKey('old', 'p'))).toBeUndefined();
        expect(await s.get(recordKey('new', 'p'))).toBeDefined();
        expect(await s.get(recordKey('open', 'p'))).toBeDefined();
        expect(await s.finishedBefore(1e15, 10)).toEqual([{ key: recordKey('new', 'p'), finishedAtMs: 300 }]);
        await s.close();
      });
    });

    it('refuses to write a record that breaks its invariants', async () => {
      await withStore(async (open) => {
        const s = open();
        await s.open();
        const bad = { ...rec('x', 'committed'), vote: 'abort' as const };
        await expect(s.write({ records: [bad] })).rejects.toMatchObject({ code: 'INTERNAL' });
        expect(await s.get(recordKey('x', 'p'))).toBeUndefined();
        await s.close();
      });
    });

    it('lands concurrent writes (group commit) and they are all readable', async () => {
      await withStore(async (open) => {
        const s = open();
        await s.open();
        await Promise.all(Array.from({ length: 200 }, (_, i) => s.write({ records: [rec(`t${i}`, 'prepared')], highestTerm: i })));
        const loaded = await (async () => {
          await s.close();
          const again = open();
          const l = await again.open();
          await again.close();
          return l;
        })();
        expect(loaded.inDoubt).toHaveLength(200);
        expect(loaded.highestTerm).toBe(199);
      });
    });
  });
}
