// 2PC through a leader SIGKILL at each point of the protocol, with three real
// node processes and two real HTTP participants (participant SDK, LevelDB).
// A participant holds a call of the leader's term (before it reaches the SDK)
// so the kill lands at an exact point; calls of later terms pass. After each
// kill: a new leader is elected, every live node reports one finished outcome,
// every participant applied it, nothing is in doubt; then the killed node is
// restarted and reports it too. Held calls are finally delivered late and must
// be fenced by term.
import { describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/wait.js';
import { errorCode } from './gated-participant.js';
import {
  expectSettled,
  expectStaleCallsFenced,
  getTx,
  killLeaderOf,
  post,
  postInBackground,
  restartAndExpect,
  txUrl,
  waitForNewLeader,
  waitForView,
  type TxView,
} from './harness.js';
import { useFailoverSuite } from './suite.js';

const { c, watch, twoParticipants } = useFailoverSuite();

describe('2PC: SIGKILL of the leader at each protocol point', () => {
  it('(a) after created: an active transaction survives; commit on the new leader commits it, an abandoned one is aborted at its deadline', async () => {
    const [a, b] = await twoParticipants();
    const { leaderId, term } = await c().waitForLeader();

    // Interactive flow, on the leader: create with one participant, enlist the second.
    const created = await post<TxView>(c(), leaderId, '/v1/transactions', { participants: [a.spec()], timeoutMs: 120_000 });
    expect(created.status).toBe(201);
    expect(created.body.state).toBe('active');
    const kept = created.body.id;
    const watcher = watch(kept);
    const enlisted = await post<TxView>(c(), leaderId, `${txUrl(kept)}/participants`, b.spec());
    expect(enlisted.status).toBe(200);
    // A second one that nobody will commit: presumed abort at its deadline, by whichever leader is then in charge.
    const abandoned = await post<TxView>(c(), leaderId, '/v1/transactions', { participants: [a.spec(), b.spec()], timeoutMs: 5_000 });
    expect(abandoned.status).toBe(201);
    expect(a.calls.length + b.calls.length).toBe(0);

    const killed = await killLeaderOf(c(), term);
    const next = await waitForNewLeader(c(), term);
    for (const n of c().live()) {
      const v = await waitForView(c(), n.id, kept, () => true, `the new leader's cluster to know ${kept}`);
      expect(v.participants.map((p) => p.name)).toEqual(['a', 'b']);
    }
    // Commit through a node that is not the leader: it forwards.
    const via = c()
      .live()
      .find((n) => n.id !== next.leaderId)!.id;
    const committed = await post<TxView>(c(), via, `${txUrl(kept)}/commit`);
    expect(committed.status).toBe(200);
    const keptOutcome = await expectSettled(c(), kept, [a, b], 'committed');
    expect(committed.body.outcome).toBe(keptOutcome);
    await expectSettled(c(), abandoned.body.id, [a, b], 'aborted');
    // Aborted while active: prepare was never sent, so neither participant ever heard of it.
    expect([a.txIdsSeen().has(abandoned.body.id), b.txIdsSeen().has(abandoned.body.id)]).toEqual([false, false]);
    // Every call after the failover carried the new leader's term (or later).
    for (const p of [a, b]) for (const call of p.calls) expect(call.term).toBeGreaterThan(term);

    await restartAndExpect(
      c(),
      killed,
      new Map([
        [kept, 'committed'],
        [abandoned.body.id, 'aborted'],
      ]),
    );
    expect(await watcher.stop(), 'linearizable reads seen').toBeGreaterThan(0);
  });

  it('(b) during prepare with some votes in: a votes at once, b holds prepare until the kill', async () => {
    const [a, b] = await twoParticipants();
    const { leaderId, term } = await c().waitForLeader();
    const holdB = b.hold((call) => call.path === 'prepare' && call.term <= term);
    // Interactive (created, then commit): a one-shot transaction has no record before its decision; (b') is that case.
    const created = await post<TxView>(c(), leaderId, '/v1/transactions', { participants: [a.spec(), b.spec()], timeoutMs: 120_000 });
    expect(created.status).toBe(201);
    const answer = postInBackground(c(), leaderId, `${txUrl(created.body.id)}/commit`, undefined);

    const { txId } = await holdB.arrived;
    const watcher = watch(txId);
    await a.answered('prepare', txId);
    // "Some votes in": a's vote is in the replicated table, b's is not, and nothing is decided.
    const before = await waitForView(c(), leaderId, txId, (v) => v.participants[0]?.vote === 'commit', 'a vote to be recorded');
    expect(before).toMatchObject({ state: 'preparing', outcome: null });
    expect(before.participants[1]?.vote).toBeNull();

    const killed = await killLeaderOf(c(), term);
    await waitForNewLeader(c(), term);
    const outcome = await expectSettled(c(), txId, [a, b]);
    console.log(`(b) 2PC: the new leader ended the transaction as ${outcome}`);

    // The held prepare reaches b late, from the dead leader's term: fenced, no handler runs.
    const late = await holdB.release();
    expect(late.map((r) => [r.status, errorCode(r.body)])).toEqual([[409, 'STALE_TERM']]);
    expect(expectStaleCallsFenced(b, txId)).toBeGreaterThan(0);
    expectStaleCallsFenced(a, txId);
    await expectSettled(c(), txId, [a, b], outcome);
    await answer; // its node died: an error, never a hang

    await restartAndExpect(c(), killed, new Map([[txId, outcome]]));
    expect(await watcher.stop(), 'linearizable reads seen').toBeGreaterThan(0);
  });

  it("(b') one-shot, between prepare and the decided entry, under a one-shot load: nothing was recorded, every participant aborts it, each key's retry commits once", async () => {
    const [a, b] = await twoParticipants();
    const { leaderId, term } = await c().waitForLeader();
    const body = { participants: [a.spec(), b.spec()], commit: true, timeoutMs: 120_000 };
    // The transaction the kill lands on: a votes at once, b holds its prepare until the kill.
    let target: string | null = null;
    const holdB = b.hold((call) => call.path === 'prepare' && call.term <= term && (target ??= call.txId) === call.txId);
    const held = postInBackground(c(), leaderId, '/v1/transactions', body, { 'idempotency-key': 'kill-held' });
    const { txId } = await holdB.arrived;
    await a.answered('prepare', txId);
    // In the leader's memory only: it shows it as preparing; no other node knows it.
    expect((await getTx(c(), leaderId, txId)).body).toMatchObject({ state: 'preparing', outcome: null });
    const follower = c()
      .live()
      .find((n) => n.id !== leaderId)!.id;
    expect((await getTx(c(), follower, txId)).status).toBe(404);
    // A one-shot load alongside, each with its own key, some of it in flight at the kill.
    const keys = Array.from({ length: 12 }, (_, i) => `load-${i}`);
    const load = keys.map(async (key, i) => {
      await new Promise((r) => setTimeout(r, i * 5));
      return postInBackground(c(), leaderId, '/v1/transactions', body, { 'idempotency-key': key });
    });
    await new Promise((r) => setTimeout(r, 20));

    const killed = await killLeaderOf(c(), term);
    const next = await waitForNewLeader(c(), term);
    await held;
    await Promise.all(load);
    // The new leader never heard of it: a's resolver reads 404 under a newer term (presumed abort) and aborts.
    await waitUntil(async () => (await a.record(txId))?.state === 'aborted', { what: `a to abort ${txId} on its own`, timeoutMs: 45_000 });
    expect(a.handlerCount('commit', txId)).toBe(0);
    for (const n of c().live()) expect((await getTx(c(), n.id, txId)).status).toBe(404);

    // Every key retried on the new leader: one transaction per key, committed; a second retry finds the same.
    const finals = new Map<string, string>();
    for (const key of ['kill-held', ...keys]) {
      const retry = await post<TxView>(c(), next.leaderId, '/v1/transactions', body, { 'idempotency-key': key });
      expect([key, retry.status, retry.body.outcome]).toEqual([key, 200, 'committed']);
      const again = await post<TxView>(c(), next.leaderId, '/v1/transactions', body, { 'idempotency-key': key });
      expect(again.body.id).toBe(retry.body.id);
      finals.set(key, retry.body.id);
    }
    expect(finals.get('kill-held')).not.toBe(txId);
    // The held prepare reaches b late, after the new leader's calls raised its fence: refused, no handler runs.
    const late = await holdB.release();
    expect(late.map((r) => [r.status, errorCode(r.body)])).toEqual([[409, 'STALE_TERM']]);
    expect(b.handlerCount('prepare', txId)).toBe(0);
    for (const id of finals.values()) await expectSettled(c(), id, [a, b], 'committed');
    // Every other attempt any participant heard of ends aborted there, never committed: no key commits twice.
    const finalIds = new Set(finals.values());
    for (const p of [a, b]) {
      for (const id of p.txIdsSeen()) {
        if (finalIds.has(id)) continue;
        await waitUntil(
          async () => {
            const r = await p.record(id);
            return r === undefined || r.state === 'aborted';
          },
          { what: `${p.name} to end the attempt ${id} aborted`, timeoutMs: 45_000 },
        );
        expect(p.handlerCount('commit', id), `${p.name} committed a superseded attempt ${id}`).toBe(0);
      }
    }
    await restartAndExpect(c(), killed, new Map([...finalIds].map((id) => [id, 'committed' as const])));
  });

  it('(c) after the decision, before phase 2 completes: commit calls held at both, kill once GET shows committed', async () => {
    const [a, b] = await twoParticipants();
    const { leaderId, term } = await c().waitForLeader();
    const holds = [a, b].map((p) => p.hold((call) => call.path === 'commit' && call.term <= term));
    const answer = await postInBackground(c(), leaderId, '/v1/transactions', {
      participants: [a.spec(), b.spec()],
      commit: true,
      timeoutMs: 120_000,
    });
    if (answer instanceof Error) throw answer;
    // commit: true answers once the decision is durable.
    expect(answer.status).toBe(200);
    const txId = answer.body.id;
    const watcher = watch(txId);
    expect(answer.body.outcome).toBe('committed');
    await Promise.all(holds.map((h) => h.arrived));
    const before = await getTx(c(), leaderId, txId);
    expect(before.body).toMatchObject({ state: 'committing', outcome: 'committed' });
    expect(before.body.participants.map((p) => p.acknowledged)).toEqual([false, false]);
    expect(a.handlerCount('commit', txId) + b.handlerCount('commit', txId)).toBe(0);

    const killed = await killLeaderOf(c(), term);
    await waitForNewLeader(c(), term);
    await expectSettled(c(), txId, [a, b], 'committed');

    for (const h of holds) {
      const late = await h.release();
      expect(late.map((r) => [r.status, errorCode(r.body)])).toEqual([[409, 'STALE_TERM']]);
    }
    await expectSettled(c(), txId, [a, b], 'committed');
    await restartAndExpect(c(), killed, new Map([[txId, 'committed']]));
    expect(await watcher.stop(), 'linearizable reads seen').toBeGreaterThan(0);
  });

  it('(d) during phase 2 with some acknowledgements in: a acknowledges commit, b holds it', async () => {
    const [a, b] = await twoParticipants();
    const { leaderId, term } = await c().waitForLeader();
    const holdB = b.hold((call) => call.path === 'commit' && call.term <= term);
    const answer = await postInBackground(c(), leaderId, '/v1/transactions', {
      participants: [a.spec(), b.spec()],
      commit: true,
      timeoutMs: 120_000,
    });
    if (answer instanceof Error) throw answer;
    expect(answer.status).toBe(200);
    const txId = answer.body.id;
    const watcher = watch(txId);
    await holdB.arrived;
    await a.answered('commit', txId);
    const before = await waitForView(
      c(),
      leaderId,
      txId,
      (v) => v.participants[0]?.acknowledged === true,
      'a acknowledgement to be recorded',
    );
    expect(before).toMatchObject({ state: 'committing', outcome: 'committed' });
    expect(before.participants[1]?.acknowledged).toBe(false);

    const killed = await killLeaderOf(c(), term);
    await waitForNewLeader(c(), term);
    await expectSettled(c(), txId, [a, b], 'committed');
    // a's acknowledgement was in the log, so its commit ran once (a repeat would have been deduped).
    expect(a.handlerCount('commit', txId)).toBe(1);

    const late = await holdB.release();
    expect(late.map((r) => [r.status, errorCode(r.body)])).toEqual([[409, 'STALE_TERM']]);
    await expectSettled(c(), txId, [a, b], 'committed');
    await restartAndExpect(c(), killed, new Map([[txId, 'committed']]));
    expect(await watcher.stop(), 'linearizable reads seen').toBeGreaterThan(0);
  });

  it('two leaders killed in a row during phase 2: the third finishes; the commit re-sent by all three runs once, stale ones are fenced', async () => {
    const [a, b] = await twoParticipants();
    const first = await c().waitForLeader();
    const holdB = b.hold((call) => call.path === 'commit');
    const answer = await postInBackground(c(), first.leaderId, '/v1/transactions', {
      participants: [a.spec(), b.spec()],
      commit: true,
      timeoutMs: 120_000,
    });
    if (answer instanceof Error) throw answer;
    expect([answer.status, answer.body.outcome]).toEqual([200, 'committed']);
    const txId = answer.body.id;
    const watcher = watch(txId);
    const parkedFrom = (term: number) =>
      waitUntil(() => holdB.parked().some((x) => x.term === term), { what: `b to hold a commit of term ${term}` });
    await parkedFrom(first.term);

    await killLeaderOf(c(), first.term);
    const second = await waitForNewLeader(c(), first.term);
    await parkedFrom(second.term);
    await killLeaderOf(c(), second.term);
    // One node left: no quorum until the first leader comes back, behind on the log.
    await c().startNode(first.leaderId);
    const third = await waitForNewLeader(c(), second.term);
    await parkedFrom(third.term);
    expect((await getTx(c(), third.leaderId, txId)).body).toMatchObject({ state: 'committing', outcome: 'committed' });

    // Newest first: the third leader's commit runs the handler, the two older ones are fenced.
    const delivered = await holdB.release('newest-first');
    const byTerm = new Map(delivered.map((r) => [r.term, [r.status, errorCode(r.body) ?? 'ok']]));
    expect(byTerm.get(third.term)).toEqual([200, 'ok']);
    expect(byTerm.get(first.term)).toEqual([409, 'STALE_TERM']);
    expect(byTerm.get(second.term)).toEqual([409, 'STALE_TERM']);
    await expectSettled(c(), txId, [a, b], 'committed');
    await restartAndExpect(c(), second.leaderId, new Map([[txId, 'committed']]));
    expect(await watcher.stop(), 'linearizable reads seen').toBeGreaterThan(0);
  });
});
