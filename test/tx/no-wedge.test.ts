// Issue 14, "No wedge", end to end on fake-log nodes with real HTTP
// participants: participant URLs that lead nowhere no longer make creates
// answer 429; an abort to a participant that never voted commit is given up
// after abandonAfterMs (and only to those); the admin routes list stuck
// transactions and force-finish one, audited, replicated, never against the
// outcome; the state gauges.
import { createServer } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientTokens } from '../../src/http/tokens.js';
import { decodeCommand } from '../../src/tx/commands.js';
import type { TxView } from '../../src/tx/types.js';
import { FakeCluster } from './fake-log.js';
import { FakeParticipant } from './fake-participant.js';
import { eventually, getView, participant, startLeader, startNode, type NodeOptions, type TestNode } from './harness.js';

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function leader(opts: NodeOptions = {}): Promise<TestNode> {
  const { node } = await startLeader(opts);
  closers.push(() => node.close());
  return node;
}

async function fake(): Promise<FakeParticipant> {
  const p = await FakeParticipant.start();
  closers.push(() => p.close());
  return p;
}

/** A loopback port with nothing listening (bound, then closed). */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/ratify`;
}

const oneShot = (node: TestNode, participants: Array<{ name: string; url: string }>) =>
  node.app.inject({ method: 'POST', url: '/v1/transactions', payload: { participants, commit: true } });

describe('the wedge of issue 14', () => {
  it('transactions whose participant leads nowhere stay aborting, but new creates are not refused (maxActiveTransactions counts undecided ones only)', async () => {
    const node = await leader({ config: { maxActiveTransactions: 3, maxStuckTransactions: 1_000, prepareMaxAttempts: 1 } });
    const nowhere = await deadUrl();
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await oneShot(node, [participant('p', nowhere)])).statusCode);
    // Each create answers once its abort is durable; without the separate quota the fourth would be 429.
    expect(statuses).toEqual(Array(12).fill(200));
    expect(node.sm.finishingCount()).toBe(12);
    expect(node.sm.undecidedCount()).toBe(0);
    const created = await node.app.inject({ method: 'POST', url: '/v1/transactions', payload: {} });
    expect(created.statusCode).toBe(201);
  });

  it('the stuck quota has its own bound and says so', async () => {
    const node = await leader({ config: { maxStuckTransactions: 2, prepareMaxAttempts: 1 } });
    const nowhere = await deadUrl();
    for (let i = 0; i < 2; i++) expect((await oneShot(node, [participant('p', nowhere)])).statusCode).toBe(200);
    const refused = await node.app.inject({ method: 'POST', url: '/v1/transactions', payload: {} });
    expect(refused.statusCode).toBe(429);
    expect(refused.json<{ error: { code: string; message: string } }>().error).toMatchObject({
      code: 'TOO_MANY_PENDING',
      message: expect.stringMatching(/maxStuckTransactions \(2\)/),
    });
  });
});

describe('presumed abort: abandoning participants that never voted commit', () => {
  it('a participant that never answered prepare is abandoned after abandonAfterMs; the transaction finishes aborted', async () => {
    const node = await leader({ config: { abandonAfterMs: 300, prepareMaxAttempts: 1 } });
    const a = await fake();
    const nowhere = await deadUrl();
    const res = await oneShot(node, [participant('a', a.url), participant('gone', nowhere)]);
    expect(res.json<TxView>()).toMatchObject({ outcome: 'aborted' });
    const id = res.json<TxView>().id;
    await eventually(() => node.sm.get(id)?.state === 'aborted', 'aborted');
    const view = await getView(node, id);
    // a answers, so it hears the abort (whatever its vote, which the failed prepare may have cut short).
    expect(view.participants.find((p) => p.name === 'a')).toMatchObject({ name: 'a', acknowledged: true });
    expect(view.participants.find((p) => p.name === 'a')?.abandoned).toBeUndefined();
    expect(view.participants.find((p) => p.name === 'gone')).toMatchObject({
      vote: 'abort',
      acknowledged: false,
      abandoned: 'presumed-abort',
    });
    const counter = await node.registry.getSingleMetric('ratify_tx_participants_abandoned_total')?.get();
    expect(counter?.values[0]?.value).toBe(1);
  });

  it('a participant that voted commit and then goes dark is never abandoned: the abort keeps going until it acknowledges', async () => {
    const node = await leader({ config: { abandonAfterMs: 50 } });
    const prepared = await fake();
    const refuser = await fake();
    refuser.vote = { vote: 'abort', reason: 'no funds' };
    prepared.setMode('down', ['abort']);
    const res = await oneShot(node, [participant('prepared', prepared.url), participant('refuser', refuser.url)]);
    const id = res.json<TxView>().id;
    const decidedAt = Date.parse(res.json<TxView>().decidedAt ?? '');
    // Calls made well after the bound (decision + 50 ms) still go out, and the transaction waits.
    await eventually(
      () => prepared.callsOf('abort', id).filter((c) => c.atMs - decidedAt > 500).length >= 3,
      'abort retried past the bound',
    );
    const view = await getView(node, id);
    expect(view.state).toBe('aborting');
    expect(view.participants.find((p) => p.name === 'prepared')).toMatchObject({ vote: 'commit', acknowledged: false });
    expect(view.participants.find((p) => p.name === 'prepared')?.abandoned).toBeUndefined();
    prepared.setMode('ok');
    await eventually(() => node.sm.get(id)?.state === 'aborted', 'aborted once it acknowledges');
    expect((await getView(node, id)).participants.map((p) => [p.name, p.acknowledged, p.abandoned])).toEqual([
      ['prepared', true, undefined],
      ['refuser', true, undefined],
    ]);
  });

  it('commit deliveries are never given up', async () => {
    const node = await leader({ config: { abandonAfterMs: 50 } });
    const a = await fake();
    a.setMode('down', ['commit']);
    const res = await oneShot(node, [participant('a', a.url)]);
    const id = res.json<TxView>().id;
    const decidedAt = Date.parse(res.json<TxView>().decidedAt ?? '');
    await eventually(() => a.callsOf('commit', id).filter((c) => c.atMs - decidedAt > 500).length >= 3, 'commit retried past the bound');
    expect(node.sm.get(id)?.state).toBe('committing');
  });
});

describe('admin: stuck transactions and force-finish', () => {
  const TOKENS = { payments: 'payments-token-0123456789', ops: 'ops-token-0123456789abcdef' };
  const tokens = ClientTokens.parse(`payments client ${TOKENS.payments}\nops admin ${TOKENS.ops}`, 'test');
  const as = (who: keyof typeof TOKENS) => ({ authorization: `Bearer ${TOKENS[who]}` });
  const SECRET = 'cluster-secret-0123456789';

  async function twoNodes() {
    const cluster = new FakeCluster();
    const lines: Record<string, unknown>[] = [];
    const appLogger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
    const opts: NodeOptions = { clientTokens: tokens, clusterSecret: SECRET, appLogger, config: { prepareMaxAttempts: 1 } };
    const n1 = await startNode(cluster, 'n1', opts);
    const n2 = await startNode(cluster, 'n2', opts);
    closers.push(
      () => n1.close(),
      () => n2.close(),
    );
    await n1.listen();
    cluster.elect('n1');
    return { n1, n2, audit: () => lines.filter((l) => l['msg'] === 'audit' && l['audit'] === 'tx.forceFinish') };
  }

  it('lists stuck transactions (admin only) with their age and last error, and force-finishes one after confirmation, audited and replicated', async () => {
    const { n1, n2, audit } = await twoNodes();
    const a = await fake();
    a.setMode('down', ['commit']);
    const created = await n1.app.inject({
      method: 'POST',
      url: '/v1/transactions',
      headers: as('payments'),
      payload: { participants: [participant('a', a.url)], commit: true },
    });
    const id = created.json<TxView>().id;
    await eventually(() => n1.sm.get(id)?.participants[0]?.lastError !== null && n1.sm.get(id), 'a failing');

    const list = (node: TestNode, who: keyof typeof TOKENS) =>
      node.app.inject({ method: 'GET', url: '/v1/admin/stuck-transactions?olderThanMs=0', headers: as(who) });
    expect((await list(n1, 'payments')).statusCode).toBe(403);
    expect((await n1.app.inject({ method: 'GET', url: '/v1/admin/stuck-transactions' })).statusCode).toBe(401);
    const listed = (await list(n2, 'ops')).json<{
      count: number;
      finishing: number;
      transactions: Array<{ ageMs: number; stuckForMs: number; tx: TxView }>;
    }>();
    expect(listed).toMatchObject({ count: 1, finishing: 1, transactions: [{ tx: { id, state: 'committing', outcome: 'committed' } }] });
    expect(listed.transactions[0]?.tx.participants[0]?.lastError).toMatch(/calls failed in a row/);
    expect(listed.transactions[0]?.ageMs).toBeGreaterThanOrEqual(listed.transactions[0]?.stuckForMs ?? -1);

    const forceFinish = (node: TestNode, who: keyof typeof TOKENS, payload?: unknown) =>
      node.app.inject({
        method: 'POST',
        url: `/v1/admin/stuck-transactions/${id}/force-finish`,
        headers: as(who),
        ...(payload === undefined ? {} : { payload: payload as object }),
      });
    expect((await forceFinish(n1, 'payments', { confirm: id })).statusCode).toBe(403);
    const unconfirmed = await forceFinish(n1, 'ops');
    expect([unconfirmed.statusCode, unconfirmed.json<{ error: { code: string } }>().error.code]).toEqual([400, 'CONFIRMATION_REQUIRED']);
    expect((await forceFinish(n1, 'ops', { confirm: 'another-id' })).json<{ error: { code: string } }>().error.code).toBe(
      'CONFIRMATION_REQUIRED',
    );
    // The decision was commit: it can only be finished committed.
    const conflict = await forceFinish(n1, 'ops', { confirm: id, outcome: 'aborted' });
    expect([conflict.statusCode, conflict.json<{ error: { code: string } }>().error.code]).toEqual([409, 'OUTCOME_CONFLICT']);
    expect(n1.sm.get(id)?.state).toBe('committing');

    // Through the follower: forwarded to the leader, which serves and audits it.
    const done = await forceFinish(n2, 'ops', { confirm: id });
    expect(done.statusCode, done.body).toBe(200);
    expect(done.json<TxView>()).toMatchObject({
      id,
      state: 'committed',
      outcome: 'committed',
      participants: [{ name: 'a', acknowledged: false, abandoned: 'force-finish' }],
    });
    await eventually(() => n2.sm.get(id)?.state === 'committed', 'the follower applied it');
    expect(n2.sm.get(id)?.participants[0]?.abandoned).toBe('force-finish');
    expect(audit().filter((l) => l['status'] === 200)).toEqual([
      expect.objectContaining({ principal: 'ops', role: 'admin', txId: id, status: 200, forwardedBy: 'n2' }),
    ]);
    expect(
      audit()
        .map((l) => l['status'])
        .sort(),
    ).toEqual([200, 400, 400, 403, 409]);
    // The entry in the log carries the principal.
    const entries = n1.log.cluster.entries.map((e) => decodeCommand(e.data));
    expect(entries.some((e) => e?.type === 'forceFinished' && e.principal === 'ops' && e.txId === id)).toBe(true);
    // Nothing left stuck, and the phase 2 run stopped calling.
    expect((await list(n1, 'ops')).json<{ count: number }>().count).toBe(0);
    const calls = a.callsOf('commit', id).length;
    await new Promise((r) => setTimeout(r, 200));
    expect(a.callsOf('commit', id).length).toBeLessThanOrEqual(calls + 1);
    // Survives a restart: a node restored from the snapshot holds the same record.
    const again = await startNode(new FakeCluster(), 'n9', { config: { prepareMaxAttempts: 1 } });
    closers.push(() => again.close());
    again.sm.restore(n1.sm.snapshot());
    expect(again.sm.get(id)).toEqual(n1.sm.get(id));
  });

  it('force-finishing an undecided transaction decides abort; its participants are told nothing more', async () => {
    const node = await leader();
    const a = await fake();
    a.setMode('hang', ['prepare']);
    const res = await node.app.inject({
      method: 'POST',
      url: '/v1/transactions',
      payload: { participants: [participant('a', a.url)], timeoutMs: 60_000 },
    });
    const id = res.json<TxView>().id;
    void node.app.inject({ method: 'POST', url: `/v1/transactions/${id}/commit` });
    await eventually(() => a.callsOf('prepare', id).length > 0, 'prepare sent');
    const conflict = await node.app.inject({
      method: 'POST',
      url: `/v1/admin/stuck-transactions/${id}/force-finish`,
      payload: { confirm: id, outcome: 'committed' },
    });
    expect(conflict.json<{ error: { code: string } }>().error.code).toBe('OUTCOME_CONFLICT');
    const done = await node.app.inject({
      method: 'POST',
      url: `/v1/admin/stuck-transactions/${id}/force-finish`,
      payload: { confirm: id },
    });
    expect(done.json<TxView>()).toMatchObject({ state: 'aborted', outcome: 'aborted', participants: [{ abandoned: 'force-finish' }] });
    a.releaseHanging();
    expect(a.callsOf('commit', id)).toEqual([]);
  });

  it("the state gauges: the oldest unfinished transaction's age and the count per state", async () => {
    let now = 1_000_000;
    const node = await leader({ now: () => now });
    await node.app.inject({ method: 'POST', url: '/v1/transactions', payload: {} });
    now += 5_000;
    await node.app.inject({ method: 'POST', url: '/v1/transactions', payload: {} });
    now += 2_000;
    const text = await node.registry.metrics();
    expect(text).toMatch(/^ratify_tx_oldest_unfinished_age_seconds 7$/m);
    expect(text).toMatch(/^ratify_tx_transactions\{state="active"\} 2$/m);
    expect(text).toMatch(/^ratify_tx_transactions\{state="committed"\} 0$/m);
  });
});
