// 3PC through a leader SIGKILL at each point of the protocol (prepare with some
// votes in; precommitted with some precommit acknowledgements in; decided;
// phase 2 with some acknowledgements in), three real node processes, two real
// HTTP participants on the participant SDK. Same end-state checks as the 2PC
// suite; once precommitted is replicated the outcome MUST be commit (and the view says so).
import { describe, expect, it } from 'vitest';
import { errorCode, type GatedParticipant } from './gated-participant.js';
import {
  expectSettled,
  expectStaleCallsFenced,
  getTx,
  killLeaderOf,
  postInBackground,
  restartAndExpect,
  waitForNewLeader,
  waitForView,
  type TxView,
} from './harness.js';
import { useFailoverSuite } from './suite.js';

const { c, watch, twoParticipants } = useFailoverSuite();

function run3pc(leaderId: string, a: GatedParticipant, b: GatedParticipant): Promise<Awaited<ReturnType<typeof postInBackground>>> {
  return postInBackground(c(), leaderId, '/v1/transactions', {
    participants: [a.spec(), b.spec()],
    protocol: '3pc',
    commit: true,
    timeoutMs: 120_000,
  });
}

describe('3PC: SIGKILL of the leader at each protocol point', () => {
  it('(b) during prepare with some votes in: a votes at once, b holds prepare until the kill', async () => {
    const [a, b] = await twoParticipants();
    const { leaderId, term } = await c().waitForLeader();
    const holdB = b.hold((call) => call.path === 'prepare' && call.term <= term);
    const answer = run3pc(leaderId, a, b);
    const { txId } = await holdB.arrived;
    const watcher = watch(txId);
    await a.answered('prepare', txId);
    const before = await waitForView(c(), leaderId, txId, (v) => v.participants[0]?.vote === 'commit', 'a vote to be recorded');
    expect(before).toMatchObject({ state: 'preparing', outcome: null, protocol: '3pc' });

    const killed = await killLeaderOf(c(), term);
    await waitForNewLeader(c(), term);
    const outcome = await expectSettled(c(), txId, [a, b]);
    console.log(`(b) 3PC: the new leader ended the transaction as ${outcome}`);

    const late = await holdB.release();
    expect(late.map((r) => [r.status, errorCode(r.body)])).toEqual([[409, 'STALE_TERM']]);
    expectStaleCallsFenced(a, txId);
    await expectSettled(c(), txId, [a, b], outcome);
    await answer;
    await restartAndExpect(c(), killed, new Map([[txId, outcome]]));
    expect(await watcher.stop(), 'linearizable reads seen').toBeGreaterThan(0);
  });

  it('after precommit is replicated, with some precommit acknowledgements in: the new leader must commit', async () => {
    const [a, b] = await twoParticipants();
    const { leaderId, term } = await c().waitForLeader();
    const holdB = b.hold((call) => call.path === 'precommit' && call.term <= term);
    const answer = run3pc(leaderId, a, b);
    const { txId } = await holdB.arrived;
    const watcher = watch(txId);
    await a.answered('precommit', txId);
    // precommitted is in the replicated table: no decision entry yet (b has not acknowledged
    // precommit), but the outcome is already fixed, and shown, as committed.
    const before = await getTx(c(), leaderId, txId);
    expect(before.body).toMatchObject({ state: 'precommitted', outcome: 'committed' });
    expect((await a.record(txId))?.state).toBe('precommitted');
    expect((await b.record(txId))?.state).toBe('prepared');

    const killed = await killLeaderOf(c(), term);
    await waitForNewLeader(c(), term);
    // Once precommitted, nothing can abort it: the new leader re-sends precommit and decides commit.
    await expectSettled(c(), txId, [a, b], 'committed');

    const late = await holdB.release();
    expect(late.map((r) => [r.status, errorCode(r.body)])).toEqual([[409, 'STALE_TERM']]);
    expectStaleCallsFenced(a, txId);
    await expectSettled(c(), txId, [a, b], 'committed');
    await answer;
    await restartAndExpect(c(), killed, new Map([[txId, 'committed']]));
    expect(await watcher.stop(), 'linearizable reads seen').toBeGreaterThan(0);
  });

  it('after the decision, before phase 2 completes: commit calls held at both, kill once GET shows committed', async () => {
    const [a, b] = await twoParticipants();
    const { leaderId, term } = await c().waitForLeader();
    const holds = [a, b].map((p) => p.hold((call) => call.path === 'commit' && call.term <= term));
    const answer = await run3pc(leaderId, a, b);
    if (answer instanceof Error) throw answer;
    expect(answer.status).toBe(200);
    const txId = (answer.body as TxView).id;
    const watcher = watch(txId);
    expect((answer.body as TxView).outcome).toBe('committed');
    await Promise.all(holds.map((h) => h.arrived));
    const before = await getTx(c(), leaderId, txId);
    expect(before.body).toMatchObject({ state: 'committing', outcome: 'committed' });
    expect(await Promise.all([a.record(txId), b.record(txId)]).then((rs) => rs.map((r) => r?.state))).toEqual([
      'precommitted',
      'precommitted',
    ]);

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

  it('during phase 2 with some acknowledgements in: a acknowledges commit, b holds it', async () => {
    const [a, b] = await twoParticipants();
    const { leaderId, term } = await c().waitForLeader();
    const holdB = b.hold((call) => call.path === 'commit' && call.term <= term);
    const answer = await run3pc(leaderId, a, b);
    if (answer instanceof Error) throw answer;
    expect(answer.status).toBe(200);
    const txId = (answer.body as TxView).id;
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
    const late = await holdB.release();
    expect(late.map((r) => [r.status, errorCode(r.body)])).toEqual([[409, 'STALE_TERM']]);
    await expectSettled(c(), txId, [a, b], 'committed');
    await restartAndExpect(c(), killed, new Map([[txId, 'committed']]));
    expect(await watcher.stop(), 'linearizable reads seen').toBeGreaterThan(0);
  });
});
