// The framework-free participant, driven through handle() directly: dedupe,
// durability across a restart, term fencing, and the protocol's odd orders.
import { describe, expect, it } from 'vitest';
import { createParticipant, MemoryParticipantStore, type Participant } from '../../src/sdk/participant/index.js';
import { callBody, ManualClock, prepareBody, quiet, recordingHandlers, withTempDir, type RecordingHandlers } from './helpers.js';

function memoryParticipant(h: RecordingHandlers, store = new MemoryParticipantStore(), extra: object = {}): Participant {
  return createParticipant({ name: 't', store, handlers: h, logger: quiet, ...extra });
}

describe('participant core: deduplication', () => {
  it('answers a repeated prepare with the recorded vote without calling the handler again', async () => {
    const h = recordingHandlers();
    const p = memoryParticipant(h);
    const first = await p.handle('prepare', prepareBody('tx1'));
    h.vote = { vote: 'abort', reason: 'would change' };
    const second = await p.handle('prepare', prepareBody('tx1'));
    expect(first).toEqual({ status: 200, body: { vote: 'commit' } });
    expect(second).toEqual(first);
    expect(h.count('prepare')).toBe(1);
    await p.close();
  });

  it('remembers an abort vote and its reason', async () => {
    const h = recordingHandlers();
    h.vote = { vote: 'abort', reason: 'insufficient funds' };
    const p = memoryParticipant(h);
    await p.handle('prepare', prepareBody('tx1'));
    const again = await p.handle('prepare', prepareBody('tx1'));
    expect(again.body).toEqual({ vote: 'abort', reason: 'insufficient funds' });
    // An abort vote reserved nothing: the abort that follows does not call the handler.
    expect((await p.handle('abort', callBody('tx1'))).status).toBe(200);
    expect(h.count('prepare')).toBe(1);
    expect(h.count('abort')).toBe(0);
    await p.close();
  });

  it('acknowledges a repeated commit or abort without calling the handler again', async () => {
    const h = recordingHandlers();
    const p = memoryParticipant(h);
    await p.handle('prepare', prepareBody('c'));
    await p.handle('prepare', prepareBody('a'));
    for (let i = 0; i < 3; i++) {
      expect(await p.handle('commit', callBody('c'))).toEqual({ status: 200, body: { ok: true, state: 'committed' } });
      expect(await p.handle('abort', callBody('a'))).toEqual({ status: 200, body: { ok: true, state: 'aborted' } });
    }
    expect(h.count('commit', 'c')).toBe(1);
    expect(h.count('abort', 'a')).toBe(1);
    expect(p.inDoubtCount()).toBe(0);
    await p.close();
  });

  it('runs concurrent duplicate prepares through the handler once', async () => {
    const h = recordingHandlers();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    h.vote = async () => {
      await gate;
      return { vote: 'commit' };
    };
    const p = memoryParticipant(h);
    const calls = [1, 2, 3].map(() => p.handle('prepare', prepareBody('tx1')));
    release();
    const results = await Promise.all(calls);
    expect(results.map((r) => r.body)).toEqual([{ vote: 'commit' }, { vote: 'commit' }, { vote: 'commit' }]);
    expect(h.count('prepare')).toBe(1);
    await p.close();
  });

  it('keeps one record per (txId, participant): one service enlisted twice in a tx', async () => {
    const h = recordingHandlers();
    const p = memoryParticipant(h);
    await p.handle('prepare', prepareBody('tx1', 1, { participant: 'debit', payload: 'a' }));
    await p.handle('prepare', prepareBody('tx1', 1, { participant: 'credit', payload: 'b' }));
    await p.handle('commit', callBody('tx1', 1, { participant: 'debit' }));
    await p.handle('commit', callBody('tx1', 1, { participant: 'credit' }));
    expect(h.calls.filter((c) => c.handler === 'commit').map((c) => [c.tx.participant, c.tx.payload])).toEqual([
      ['debit', 'a'],
      ['credit', 'b'],
    ]);
    await p.close();
  });
});

describe('participant core: protocol orders', () => {
  it('records an abort for a transaction never prepared, so a late prepare votes abort', async () => {
    const h = recordingHandlers();
    const p = memoryParticipant(h);
    expect(await p.handle('abort', callBody('tx1'))).toEqual({ status: 200, body: { ok: true, state: 'aborted' } });
    const late = await p.handle('prepare', prepareBody('tx1'));
    expect(late.status).toBe(200);
    expect(late.body).toMatchObject({ vote: 'abort' });
    expect(h.count('prepare')).toBe(0);
    expect(h.count('abort')).toBe(0);
    await p.close();
  });

  it('refuses commit after abort and abort after commit with 409, calling no handler', async () => {
    const h = recordingHandlers();
    const p = memoryParticipant(h);
    await p.handle('prepare', prepareBody('a'));
    await p.handle('abort', callBody('a'));
    await p.handle('prepare', prepareBody('c'));
    await p.handle('commit', callBody('c'));
    const commitAfterAbort = await p.handle('commit', callBody('a'));
    const precommitAfterAbort = await p.handle('precommit', callBody('a'));
    const abortAfterCommit = await p.handle('abort', callBody('c'));
    expect(commitAfterAbort).toMatchObject({ status: 409, body: { error: { code: 'TX_ALREADY_ABORTED' } } });
    expect(precommitAfterAbort).toMatchObject({ status: 409, body: { error: { code: 'TX_ALREADY_ABORTED' } } });
    expect(abortAfterCommit).toMatchObject({ status: 409, body: { error: { code: 'TX_ALREADY_COMMITTED' } } });
    expect(h.count('commit')).toBe(1);
    expect(h.count('abort')).toBe(1);
    await p.close();
  });

  it('refuses a commit for a transaction it never voted commit on', async () => {
    const h = recordingHandlers();
    const p = memoryParticipant(h);
    expect(await p.handle('commit', callBody('ghost'))).toMatchObject({ status: 404, body: { error: { code: 'TX_NOT_FOUND' } } });
    expect(h.count('commit')).toBe(0);
    await p.close();
  });

  it('runs 3PC through precommit, deduplicating it', async () => {
    const h = recordingHandlers();
    const p = memoryParticipant(h);
    await p.handle('prepare', prepareBody('t', 1, { protocol: '3pc' }));
    expect(await p.handle('precommit', callBody('t'))).toEqual({ status: 200, body: { ok: true, state: 'precommitted' } });
    expect(await p.handle('precommit', callBody('t'))).toEqual({ status: 200, body: { ok: true, state: 'precommitted' } });
    expect(await p.handle('commit', callBody('t'))).toEqual({ status: 200, body: { ok: true, state: 'committed' } });
    // A late precommit after commit says so: the coordinator then decides commit at once.
    expect(await p.handle('precommit', callBody('t'))).toEqual({ status: 200, body: { ok: true, state: 'committed' } });
    expect(h.calls.map((c) => c.handler)).toEqual(['prepare', 'precommit', 'commit']);
    await p.close();
  });

  it('votes abort when the prepare handler throws, and remembers it', async () => {
    const h = recordingHandlers();
    h.failNext.prepare = new Error('disk full');
    const p = memoryParticipant(h);
    const vote = await p.handle('prepare', prepareBody('tx1'));
    expect(vote).toEqual({ status: 200, body: { vote: 'abort', reason: 'prepare failed: disk full' } });
    expect((await p.handle('prepare', prepareBody('tx1'))).body).toEqual(vote.body);
    expect(h.count('prepare')).toBe(1);
    await p.close();
  });

  it('answers 500 when the commit handler throws, and runs it again on the retry', async () => {
    const h = recordingHandlers();
    const p = memoryParticipant(h);
    await p.handle('prepare', prepareBody('tx1'));
    h.failNext.commit = new Error('db busy');
    expect(await p.handle('commit', callBody('tx1'))).toMatchObject({ status: 500, body: { error: { code: 'INTERNAL' } } });
    expect(await p.handle('commit', callBody('tx1'))).toEqual({ status: 200, body: { ok: true, state: 'committed' } });
    expect(h.count('commit')).toBe(2);
    await p.close();
  });

  it('rejects malformed calls with 400 VALIDATION_FAILED', async () => {
    const p = memoryParticipant(recordingHandlers());
    const bad: unknown[] = [
      null,
      [],
      { participant: 'p1', term: 1, protocol: '2pc' },
      prepareBody('t', -1),
      prepareBody('t', 1.5),
      prepareBody('t', 1, { protocol: '4pc' }),
      prepareBody('', 1),
      prepareBody('x'.repeat(257), 1),
    ];
    for (const body of bad) {
      const r = await p.handle('prepare', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
    }
    await p.close();
  });

  it('votes abort once inDoubtMax transactions are in doubt', async () => {
    const h = recordingHandlers();
    const p = memoryParticipant(h, new MemoryParticipantStore(), { inDoubtMax: 2 });
    await p.handle('prepare', prepareBody('a'));
    await p.handle('prepare', prepareBody('b'));
    const third = await p.handle('prepare', prepareBody('c'));
    expect(third.body).toMatchObject({ vote: 'abort' });
    expect(h.count('prepare')).toBe(2);
    await p.close();
  });

  it('lets a call in progress finish before close() closes the store', async () => {
    const h = recordingHandlers();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    h.vote = async () => {
      await gate;
      return { vote: 'commit' };
    };
    const p = memoryParticipant(h);
    const pending = p.handle('prepare', prepareBody('slow'));
    await new Promise((r) => setTimeout(r, 10));
    const closing = p.close();
    release();
    expect(await pending).toEqual({ status: 200, body: { vote: 'commit' } });
    await closing;
  });

  it('answers 503 once closed', async () => {
    const p = memoryParticipant(recordingHandlers());
    await p.close();
    expect(await p.handle('prepare', prepareBody('a'))).toMatchObject({ status: 503, body: { error: { code: 'SHUTTING_DOWN' } } });
  });
});

describe('participant core: term fencing', () => {
  it('refuses a lower term with 409 STALE_TERM and accepts equal and higher ones', async () => {
    const h = recordingHandlers();
    const p = memoryParticipant(h);
    await p.handle('prepare', prepareBody('a', 5));
    const stale = await p.handle('commit', callBody('a', 4));
    expect(stale).toMatchObject({ status: 409, body: { error: { code: 'STALE_TERM', highestTerm: 5 } } });
    expect(h.count('commit')).toBe(0);
    expect((await p.handle('commit', callBody('a', 5))).status).toBe(200);
    expect((await p.handle('prepare', prepareBody('b', 7))).status).toBe(200);
    expect((await p.handle('abort', callBody('b', 6))).status).toBe(409);
    expect(p.highestTerm()).toBe(7);
    await p.close();
  });

  it('raises the term even from a call that only gets an ack', async () => {
    const store = new MemoryParticipantStore();
    const p = memoryParticipant(recordingHandlers(), store);
    await p.handle('abort', callBody('a', 2));
    await p.handle('abort', callBody('a', 9));
    await p.close();
    const again = memoryParticipant(recordingHandlers(), store);
    expect((await again.handle('abort', callBody('z', 8))).status).toBe(409);
    await again.close();
  });

  it('checks that the X-Ratify-Term header agrees with the body', async () => {
    const p = memoryParticipant(recordingHandlers());
    const ok = await p.handle('prepare', prepareBody('a', 3), { 'x-ratify-term': '3' });
    const bad = await p.handle('prepare', prepareBody('b', 3), { 'x-ratify-term': '2' });
    expect(ok.status).toBe(200);
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
    await p.close();
  });
});

describe('participant core: durability (LevelDB)', () => {
  it('keeps votes, outcomes and the highest term across close and reopen', async () => {
    await withTempDir(async (dir) => {
      const h1 = recordingHandlers();
      const p1 = createParticipant({ dataDir: dir, handlers: h1, logger: quiet });
      await p1.start();
      await p1.handle('prepare', prepareBody('prepared', 4));
      await p1.handle('prepare', prepareBody('committed', 4));
      await p1.handle('commit', callBody('committed', 4));
      await p1.handle('abort', callBody('never-prepared', 4));
      await p1.close();

      const h2 = recordingHandlers();
      const p2 = createParticipant({ dataDir: dir, handlers: h2, logger: quiet });
      await p2.start();
      expect(p2.inDoubtCount()).toBe(1);
      expect(p2.highestTerm()).toBe(4);
      expect((await p2.handle('prepare', prepareBody('prepared', 4))).body).toEqual({ vote: 'commit' });
      expect((await p2.handle('commit', callBody('committed', 4))).status).toBe(200);
      expect((await p2.handle('prepare', prepareBody('never-prepared', 4))).body).toMatchObject({ vote: 'abort' });
      expect((await p2.handle('abort', callBody('prepared', 3))).body).toMatchObject({ error: { code: 'STALE_TERM' } });
      expect(h2.calls).toEqual([]);
      // The payload survived too: commit sees what prepare saw.
      await p2.handle('commit', callBody('prepared', 4));
      expect(h2.calls.map((c) => [c.handler, c.tx.payload])).toEqual([['commit', { n: 1 }]]);
      await p2.close();
    });
  });

  it('aborts a prepare interrupted by a crash, calling abort to clean up', async () => {
    const clock = new ManualClock();
    const store = new MemoryParticipantStore();
    await store.open();
    await store.write({
      records: [
        {
          txId: 'half',
          participant: 'p1',
          state: 'preparing',
          protocol: '2pc',
          payload: { n: 1 },
          vote: null,
          reason: null,
          preparedTerm: 1,
          updatedAtMs: clock.ms,
        },
      ],
    });
    await store.close();
    const h = recordingHandlers();
    const p = memoryParticipant(h, store, { now: clock.now });
    const vote = await p.handle('prepare', prepareBody('half'));
    expect(vote.body).toMatchObject({ vote: 'abort' });
    expect(h.calls.map((c) => [c.handler, c.tx.source])).toEqual([['abort', 'recovery']]);
    await p.close();
  });
});

describe('participant core: retention', () => {
  it('forgets finished records after finishedRetentionMs, and never in-doubt ones', async () => {
    const clock = new ManualClock();
    const store = new MemoryParticipantStore();
    const h = recordingHandlers();
    const p = memoryParticipant(h, store, { now: clock.now, finishedRetentionMs: 1_000, resolveAfterMs: 1e6 });
    await p.handle('prepare', prepareBody('done'));
    await p.handle('commit', callBody('done'));
    await p.handle('prepare', prepareBody('doubt'));
    clock.advance(999);
    expect((await p.resolvePending()).pruned).toBe(0);
    clock.advance(2);
    expect((await p.resolvePending()).pruned).toBe(1);
    expect(await store.finishedBefore(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
    expect(p.inDoubtCount()).toBe(1);
    await p.close();
  });
});

describe('participant core: listing records', () => {
  const states = (l: { records: readonly { txId: string; state: string }[] }): string[] =>
    l.records.map((r) => `${r.txId}=${r.state}`).sort();

  it('lists every record, in doubt and finished, updated at or after sinceMs, and says when the scan was cut short', async () => {
    const clock = new ManualClock();
    const p = memoryParticipant(recordingHandlers(), new MemoryParticipantStore(), { now: clock.now, resolveAfterMs: 1e6 });
    await p.handle('prepare', prepareBody('old'));
    await p.handle('commit', callBody('old'));
    clock.advance(10);
    const since = clock.ms;
    await p.handle('prepare', prepareBody('committed'));
    await p.handle('commit', callBody('committed'));
    await p.handle('abort', callBody('never-prepared'));
    await p.handle('prepare', prepareBody('doubt'));
    expect(states(await p.listRecords(0, 100))).toEqual([
      'committed=committed',
      'doubt=prepared',
      'never-prepared=aborted',
      'old=committed',
    ]);
    const recent = await p.listRecords(since, 100);
    expect(states(recent)).toEqual(['committed=committed', 'doubt=prepared', 'never-prepared=aborted']);
    expect(recent.complete).toBe(true);
    // Three finished records, a scan of two: the oldest two are read, and the listing says it is not complete.
    const cut = await p.listRecords(0, 2);
    expect(cut.complete).toBe(false);
    expect(states(cut)).toEqual(['committed=committed', 'doubt=prepared', 'old=committed']);
    await p.close();
    await expect(p.listRecords(0, 100)).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });

  it("lists a LevelDB participant's records after a restart, the in-doubt ones included", async () => {
    await withTempDir(async (dir) => {
      const first = createParticipant({ name: 't', dataDir: dir, handlers: recordingHandlers(), logger: quiet });
      await first.handle('prepare', prepareBody('c'));
      await first.handle('commit', callBody('c'));
      await first.handle('prepare', prepareBody('p'));
      await first.close();
      const again = createParticipant({ name: 't', dataDir: dir, handlers: recordingHandlers(), logger: quiet, resolveAfterMs: 1e6 });
      expect(states(await again.listRecords(0, 10))).toEqual(['c=committed', 'p=prepared']);
      await again.close();
    });
  });
});
