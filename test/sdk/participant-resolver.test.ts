// Cooperative termination against a fake coordinator, and the 3PC timeout rule,
// driven by a manual clock and explicit resolver passes (no timing asserted).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createParticipant, MemoryParticipantStore, type Participant } from '../../src/sdk/participant/index.js';
import { refusedUrl, startFakeCoordinator, type FakeCoordinator } from './fake-coordinator.js';
import { callBody, eventually, ManualClock, prepareBody, quiet, recordingHandlers, type RecordingHandlers } from './helpers.js';

const RESOLVE_AFTER_MS = 10_000;
const THREE_PC_MS = 30_000;

let clock: ManualClock;
let h: RecordingHandlers;
const open: Participant[] = [];

function participant(coordinatorUrls: string[] = [], store = new MemoryParticipantStore()): Participant {
  const p = createParticipant({
    store,
    handlers: h,
    logger: quiet,
    now: clock.now,
    coordinatorUrls,
    resolveAfterMs: RESOLVE_AFTER_MS,
    threePcTimeoutMs: THREE_PC_MS,
    inquiryTimeoutMs: 5_000,
  });
  open.push(p);
  return p;
}

beforeEach(() => {
  clock = new ManualClock();
  h = recordingHandlers();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.close()));
});

const handled = (): string[] => h.calls.filter((c) => c.handler !== 'prepare').map((c) => `${c.handler}:${c.tx.source}`);

describe('3PC timeout rule (no coordinator urls)', () => {
  it('never aborts a prepared 3PC tx on its own: with nobody to ask it waits, like 2PC, and precommit still works', async () => {
    const p = participant();
    await p.handle('prepare', prepareBody('t', 1, { protocol: '3pc' }));
    for (let i = 0; i < 10; i++) {
      clock.advance(THREE_PC_MS);
      expect(await p.resolvePending()).toMatchObject({ aborted: 0, committed: 0 });
    }
    expect(handled()).toEqual([]);
    expect(p.inDoubtCount()).toBe(1);
    // The coordinator's late precommit is acknowledged: we kept our commit vote.
    expect(await p.handle('precommit', callBody('t'))).toEqual({ status: 200, body: { ok: true, state: 'precommitted' } });
  });

  it('commits a precommitted 3PC tx that hears nothing within threePcTimeoutMs', async () => {
    const p = participant();
    await p.handle('prepare', prepareBody('t', 1, { protocol: '3pc' }));
    clock.advance(THREE_PC_MS - 5);
    await p.handle('precommit', callBody('t'));
    clock.advance(THREE_PC_MS - 1);
    expect((await p.resolvePending()).examined).toBe(0);
    clock.advance(1);
    expect(await p.resolvePending()).toMatchObject({ committed: 1 });
    expect(handled()).toEqual(['precommit:coordinator', 'commit:timeout']);
    expect((await p.handle('commit', callBody('t'))).status).toBe(200);
    expect(h.count('commit')).toBe(1);
  });

  it('restarts the quiet period on any coordinator call about the tx', async () => {
    const p = participant();
    await p.handle('prepare', prepareBody('t', 1, { protocol: '3pc' }));
    await p.handle('precommit', callBody('t'));
    clock.advance(THREE_PC_MS - 1);
    await p.handle('precommit', callBody('t'));
    clock.advance(THREE_PC_MS - 1);
    expect((await p.resolvePending()).examined).toBe(0);
    clock.advance(1);
    expect(await p.resolvePending()).toMatchObject({ committed: 1 });
  });

  it('never applies the timeout rule to a 2PC tx: it waits for the coordinator', async () => {
    const p = participant();
    await p.handle('prepare', prepareBody('t'));
    clock.advance(10 * THREE_PC_MS);
    expect(await p.resolvePending()).toMatchObject({ examined: 1, waiting: 1, committed: 0, aborted: 0 });
    expect(handled()).toEqual([]);
    expect(p.inDoubtCount()).toBe(1);
  });

  it('applies the rule after a restart from the record time', async () => {
    const store = new MemoryParticipantStore();
    const p1 = participant([], store);
    await p1.handle('prepare', prepareBody('t', 1, { protocol: '3pc' }));
    await p1.handle('precommit', callBody('t'));
    await p1.close();
    clock.advance(THREE_PC_MS);
    const p2 = participant([], store);
    expect(await p2.resolvePending()).toMatchObject({ committed: 1 });
  });
});

describe('cooperative termination (fake coordinator)', () => {
  let fake: FakeCoordinator;
  beforeEach(async () => {
    fake = await startFakeCoordinator();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('does not ask before resolveAfterMs, then follows a commit outcome', async () => {
    const p = participant([fake.url]);
    await p.handle('prepare', prepareBody('tx1'));
    fake.txs.set('tx1', { outcome: 'committed', state: 'committing' });
    clock.advance(RESOLVE_AFTER_MS - 1);
    await p.resolvePending();
    expect(fake.seen).toEqual([]);
    clock.advance(1);
    expect(await p.resolvePending()).toMatchObject({ committed: 1 });
    expect(handled()).toEqual(['commit:resolver']);
    expect(fake.seen).toEqual(['/v1/transactions/tx1']);
  });

  it('follows an abort outcome', async () => {
    const p = participant([fake.url]);
    await p.handle('prepare', prepareBody('tx1'));
    fake.txs.set('tx1', { outcome: 'aborted', state: 'aborting' });
    clock.advance(RESOLVE_AFTER_MS);
    expect(await p.resolvePending()).toMatchObject({ aborted: 1 });
    expect(handled()).toEqual(['abort:resolver']);
  });

  it('keeps waiting while the outcome is null, then follows it', async () => {
    const p = participant([fake.url]);
    await p.handle('prepare', prepareBody('tx1'));
    fake.txs.set('tx1', { outcome: null, state: 'preparing' });
    clock.advance(RESOLVE_AFTER_MS);
    expect(await p.resolvePending()).toMatchObject({ waiting: 1 });
    // Postponed: no second question within the next quiet period.
    clock.advance(RESOLVE_AFTER_MS - 1);
    expect((await p.resolvePending()).examined).toBe(0);
    fake.txs.set('tx1', { outcome: 'committed', state: 'committed' });
    clock.advance(1);
    expect(await p.resolvePending()).toMatchObject({ committed: 1 });
  });

  it('treats 404 as abort only after seeing a leader with a newer term than the prepare', async () => {
    const p = participant([fake.url]);
    await p.handle('prepare', prepareBody('tx1', 4));
    fake.cluster = { term: 4, leaderId: 'n1' };
    clock.advance(RESOLVE_AFTER_MS);
    expect(await p.resolvePending()).toMatchObject({ waiting: 1 });
    fake.cluster = { term: 5, leaderId: null };
    clock.advance(RESOLVE_AFTER_MS);
    expect(await p.resolvePending()).toMatchObject({ waiting: 1 });
    fake.cluster = { term: 5, leaderId: 'n2' };
    clock.advance(RESOLVE_AFTER_MS);
    expect(await p.resolvePending()).toMatchObject({ aborted: 1 });
    expect(handled()).toEqual(['abort:resolver']);
    // The confirming read came after the cluster read.
    expect(fake.seen.slice(-3)).toEqual(['/v1/transactions/tx1', '/v1/cluster', '/v1/transactions/tx1']);
  });

  it('does not take a 404 without TX_NOT_FOUND (a wrong URL) for a missing transaction', async () => {
    const p = participant([`${fake.url}/wrong-prefix`]);
    await p.handle('prepare', prepareBody('tx1', 1));
    fake.cluster = { term: 9, leaderId: 'n2' };
    clock.advance(RESOLVE_AFTER_MS);
    expect(await p.resolvePending()).toMatchObject({ waiting: 1 });
    expect(handled()).toEqual([]);
  });

  it('tries the next url when one refuses the connection', async () => {
    const p = participant([await refusedUrl(), fake.url]);
    await p.handle('prepare', prepareBody('tx1'));
    fake.txs.set('tx1', { outcome: 'committed', state: 'committed' });
    clock.advance(RESOLVE_AFTER_MS);
    expect(await p.resolvePending()).toMatchObject({ committed: 1 });
  });

  it('waits when no node answers', async () => {
    const p = participant([await refusedUrl()]);
    await p.handle('prepare', prepareBody('tx1'));
    clock.advance(RESOLVE_AFTER_MS);
    expect(await p.resolvePending()).toMatchObject({ waiting: 1 });
  });

  it('a coordinator call that arrives after the resolver decided is deduplicated', async () => {
    const p = participant([fake.url]);
    await p.handle('prepare', prepareBody('tx1'));
    fake.txs.set('tx1', { outcome: 'committed', state: 'committing' });
    clock.advance(RESOLVE_AFTER_MS);
    await p.resolvePending();
    expect(await p.handle('commit', callBody('tx1'))).toEqual({ status: 200, body: { ok: true, state: 'committed' } });
    expect(h.count('commit')).toBe(1);
  });

  it('retries a resolution whose handler failed', async () => {
    const p = participant([fake.url]);
    await p.handle('prepare', prepareBody('tx1'));
    fake.txs.set('tx1', { outcome: 'committed', state: 'committing' });
    h.failNext.commit = new Error('db busy');
    clock.advance(RESOLVE_AFTER_MS);
    expect(await p.resolvePending()).toMatchObject({ failed: 1 });
    clock.advance(RESOLVE_AFTER_MS);
    expect(await p.resolvePending()).toMatchObject({ committed: 1 });
  });

  it('start() runs passes in the background on real timers', async () => {
    const p = createParticipant({
      store: new MemoryParticipantStore(),
      handlers: h,
      logger: quiet,
      coordinatorUrls: [fake.url],
      resolveAfterMs: 50,
    });
    open.push(p);
    await p.start();
    await p.handle('prepare', prepareBody('bg'));
    fake.txs.set('bg', { outcome: 'committed', state: 'committed' });
    await eventually(() => h.count('commit', 'bg') === 1, 'the background resolver to commit');
  });
});

describe('3PC with coordinator urls: the cluster first, the timeout rule only when no node answers for a whole window', () => {
  let fake: FakeCoordinator;
  beforeEach(async () => {
    fake = await startFakeCoordinator();
  });
  afterEach(async () => {
    await fake.close();
  });

  /** 'p' prepared and 'pc' precommitted: the timeout rule commits 'pc'; 'p' only ever follows the cluster. */
  async function preparedAndPrecommitted(): Promise<Participant> {
    const p = participant([fake.url]);
    await p.handle('prepare', prepareBody('p', 1, { protocol: '3pc' }));
    await p.handle('prepare', prepareBody('pc', 1, { protocol: '3pc' }));
    await p.handle('precommit', callBody('pc'));
    return p;
  }
  const undecided = (): void => {
    fake.txs.set('p', { outcome: null, state: 'precommitted' });
    fake.txs.set('pc', { outcome: null, state: 'precommitted' });
  };

  it('asks after resolveAfterMs and follows a decided outcome against what the timeout rule would do', async () => {
    const p = await preparedAndPrecommitted();
    fake.txs.set('p', { outcome: 'committed', state: 'committing' });
    fake.txs.set('pc', { outcome: 'aborted', state: 'aborting' });
    clock.advance(RESOLVE_AFTER_MS);
    expect(await p.resolvePending()).toMatchObject({ committed: 1, aborted: 1 });
    expect(handled().sort()).toEqual(['abort:resolver', 'commit:resolver', 'precommit:coordinator']);
  });

  it('while a node answers, it waits through any number of windows instead of applying the rule', async () => {
    const p = await preparedAndPrecommitted();
    undecided();
    for (let i = 0; i < 10; i++) {
      clock.advance(THREE_PC_MS);
      // Undecided, then not known yet, then no leader (503 in the API's error shape): each is a node answering.
      if (i === 3) fake.txs.clear();
      if (i === 6) fake.mode = 'no-leader';
      expect(await p.resolvePending()).toMatchObject({ examined: 2, waiting: 2, committed: 0, aborted: 0 });
    }
    expect(handled()).toEqual(['precommit:coordinator']);
    fake.mode = 'up';
    fake.txs.set('p', { outcome: 'aborted', state: 'aborted' });
    fake.txs.set('pc', { outcome: 'aborted', state: 'aborted' });
    clock.advance(RESOLVE_AFTER_MS);
    expect(await p.resolvePending()).toMatchObject({ aborted: 2 });
    // The SDK follows whatever the cluster says, even for the precommitted one (a
    // cluster that keeps the 3PC invariant never says aborted there).
    expect(handled().sort()).toEqual(['abort:resolver', 'abort:resolver', 'precommit:coordinator']);
  });

  it('commits a precommitted tx once every inquiry for a whole threePcTimeoutMs reached no node; a prepared one keeps waiting', async () => {
    const p = await preparedAndPrecommitted();
    fake.mode = 'down';
    // First failed inquiry at resolveAfterMs; then one every resolveAfterMs, until the window is full.
    for (let elapsed = 0; elapsed < THREE_PC_MS; elapsed += RESOLVE_AFTER_MS) {
      clock.advance(RESOLVE_AFTER_MS);
      expect(await p.resolvePending()).toMatchObject({ examined: 2, waiting: 2 });
    }
    clock.advance(RESOLVE_AFTER_MS);
    expect(await p.resolvePending()).toMatchObject({ committed: 1, aborted: 0, waiting: 1 });
    expect(handled().sort()).toEqual(['commit:timeout', 'precommit:coordinator']);
    for (let i = 0; i < 10; i++) {
      clock.advance(THREE_PC_MS);
      expect(await p.resolvePending()).toMatchObject({ examined: 1, waiting: 1 });
    }
    expect(fake.seen.length).toBeGreaterThan(0);
    // Once the cluster answers again, the prepared one follows it.
    fake.mode = 'up';
    fake.txs.set('p', { outcome: 'committed', state: 'committing' });
    clock.advance(RESOLVE_AFTER_MS);
    expect(await p.resolvePending()).toMatchObject({ committed: 1 });
    expect(handled().sort()).toEqual(['commit:resolver', 'commit:timeout', 'precommit:coordinator']);
  });

  it('a node answering, or a coordinator call, starts the window again', async () => {
    const p = await preparedAndPrecommitted();
    fake.mode = 'down';
    clock.advance(RESOLVE_AFTER_MS);
    await p.resolvePending(); // the unreachable run starts
    clock.advance(RESOLVE_AFTER_MS);
    await p.resolvePending();
    // One answer in between resets the run.
    fake.mode = 'up';
    undecided();
    clock.advance(RESOLVE_AFTER_MS);
    expect(await p.resolvePending()).toMatchObject({ waiting: 2 });
    fake.mode = 'down';
    for (let i = 0; i < 3; i++) {
      clock.advance(RESOLVE_AFTER_MS);
      expect(await p.resolvePending()).toMatchObject({ waiting: 2 });
    }
    // A coordinator call (a retried precommit of 'pc') resets that record's run too.
    await p.handle('precommit', callBody('pc'));
    clock.advance(RESOLVE_AFTER_MS);
    expect(await p.resolvePending()).toMatchObject({ examined: 2, committed: 0, waiting: 2 });
    for (let elapsed = 0; elapsed < THREE_PC_MS; elapsed += RESOLVE_AFTER_MS) {
      clock.advance(RESOLVE_AFTER_MS);
      await p.resolvePending();
    }
    expect(handled()).toEqual(['precommit:coordinator', 'commit:timeout']);
  });
});
