// Participant-side faults against three real node processes: a participant down
// during prepare or during commit, duplicated and reordered calls (deduplicated
// by the participant SDK, visible as handler call counts), a deposed leader
// (SIGSTOP) fenced by term, and Idempotency-Key retries across a leader kill.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RatifyClient } from '../../src/sdk/client.js';
import { httpJson } from '../helpers/http.js';
import { waitUntil } from '../helpers/wait.js';
import { errorCode, type GatedParticipant } from './gated-participant.js';
import {
  expectSettled,
  expectStaleCallsFenced,
  killLeaderOf,
  post,
  postInBackground,
  restartAndExpect,
  SETTLE_TIMEOUT_MS,
  waitForNewLeader,
  waitForView,
  type TxView,
} from './harness.js';
import { useFailoverSuite } from './suite.js';

const { c, participant, watch, onCleanup } = useFailoverSuite();

const oneShot = (ps: readonly GatedParticipant[], extra: Record<string, unknown> = {}) => ({
  participants: ps.map((p) => p.spec()),
  commit: true,
  timeoutMs: 120_000,
  ...extra,
});

describe('participant faults', () => {
  it('a participant down during prepare: the transaction aborts, and the abort reaches it once it is back', async () => {
    const a = await participant('a');
    const b = await participant('b');
    await b.crash();
    const { leaderId } = await c().waitForLeader();
    const res = await post<TxView>(c(), leaderId, '/v1/transactions', oneShot([a, b]));
    expect(res.status).toBe(200);
    const txId = res.body.id;
    expect(res.body.outcome).toBe('aborted');
    expect(res.body.participants.find((p) => p.name === 'b')?.vote).toBe('abort');
    // b cannot acknowledge yet: phase 2 keeps trying.
    const waiting = await waitForView(c(), leaderId, txId, (v) => v.participants[0]?.acknowledged === true, 'a to acknowledge abort');
    expect(waiting.state).toBe('aborting');
    expect(waiting.participants[1]?.acknowledged).toBe(false);

    await b.restart();
    await expectSettled(c(), txId, [a, b], 'aborted');
    // a prepared and released; b never prepared (its record is the abort alone).
    expect([a.handlerCount('prepare', txId), a.handlerCount('abort', txId)]).toEqual([1, 1]);
    expect([b.handlerCount('prepare', txId), b.handlerCount('abort', txId)]).toEqual([0, 0]);
  });

  it('a participant down during commit: committing, reported as failing, then committed once it returns', async () => {
    const a = await participant('a');
    const b = await participant('b');
    const holdB = b.hold((call) => call.path === 'commit');
    const { leaderId } = await c().waitForLeader();
    const res = await post<TxView>(c(), leaderId, '/v1/transactions', oneShot([a, b]));
    expect([res.status, res.body.outcome]).toEqual([200, 'committed']);
    const txId = res.body.id;
    await holdB.arrived;
    expect((await b.record(txId))?.state).toBe('prepared');
    await b.crash(); // drops the commit it held, unanswered
    const failing = await waitForView(
      c(),
      leaderId,
      txId,
      (v) => v.participants[1]?.lastError !== undefined,
      'b to be reported as failing',
    );
    expect(failing).toMatchObject({ state: 'committing', outcome: 'committed' });
    expect(failing.participants.map((p) => p.acknowledged)).toEqual([true, false]);

    await b.restart();
    await expectSettled(c(), txId, [a, b], 'committed');
  });

  it('duplicated and reordered calls: every call delivered twice, then all replayed in reverse; each handler runs once', async () => {
    const a = await participant('a', { duplicate: true });
    const b = await participant('b', { duplicate: true });
    const { leaderId } = await c().waitForLeader();
    const res = await post<TxView>(c(), leaderId, '/v1/transactions', oneShot([a, b]));
    expect(res.status).toBe(200);
    const txId = res.body.id;
    await expectSettled(c(), txId, [a, b], 'committed');
    for (const p of [a, b]) {
      const dups = p.callsOf(txId).filter((x) => x.via === 'duplicate');
      expect(dups.map((d) => d.path).sort()).toEqual(['commit', 'prepare']);
      // A duplicate gets the same answer as the original.
      for (const d of dups) {
        const original = p.callsOf(txId, d.path).find((x) => x.via === 'direct')!;
        expect([d.status, d.body]).toEqual([original.status, original.body]);
      }
      // Replayed in reverse: commit arrives before prepare.
      const replayed = await p.replay(txId);
      expect(replayed.map((r) => [r.path, r.status])).toEqual([
        ['commit', 200],
        ['prepare', 200],
      ]);
      expect(replayed[1]?.body).toEqual({ vote: 'commit' });
    }
    await expectSettled(c(), txId, [a, b], 'committed');
  });

  it('reordered: an abort that overtakes prepare is remembered, and the late prepare votes abort without running the handler', async () => {
    const a = await participant('a', { vote: () => ({ vote: 'abort', reason: 'no funds' }) });
    const b = await participant('b');
    const holdB = b.hold((call) => call.path === 'prepare');
    const { leaderId } = await c().waitForLeader();
    const res = await post<TxView>(c(), leaderId, '/v1/transactions', oneShot([a, b]));
    expect([res.status, res.body.outcome]).toEqual([200, 'aborted']);
    const txId = res.body.id;
    await holdB.arrived;
    await expectSettled(c(), txId, [a, b], 'aborted');
    expect((await b.record(txId))?.vote).toBeNull();

    const late = await holdB.release();
    expect(late.map((r) => [r.path, r.status, r.body])).toEqual([['prepare', 200, { vote: 'abort', reason: 'aborted before prepare' }]]);
    expect(b.handlerCount('prepare', txId)).toBe(0);
    await expectSettled(c(), txId, [a, b], 'aborted');
  });

  it("a deposed leader (SIGSTOP) is fenced: the new leader finishes, the old one's calls carry its old term and are refused", async () => {
    const a = await participant('a');
    const b = await participant('b');
    const { leaderId: oldId, term: oldTerm } = await c().waitForLeader();
    const holdB = b.hold((call) => call.path === 'prepare' && call.term <= oldTerm);
    // 3PC keeps its created entry before prepare, so the survivors know the transaction and finish it
    // (a 2PC one-shot one lives in the stopped leader's memory only: kill-points-2pc.test.ts (b')).
    const answer = postInBackground(c(), oldId, '/v1/transactions', oneShot([a, b], { protocol: '3pc' }));
    const { txId } = await holdB.arrived;
    const watcher = watch(txId);
    await a.answered('prepare', txId);

    const pid = c().node(oldId).proc?.pid;
    if (pid === undefined) throw new Error(`${oldId} has no pid`);
    process.kill(pid, 'SIGSTOP');
    onCleanup(async () => void process.kill(pid, 'SIGCONT'));
    const survivors = c()
      .nodes.map((n) => n.id)
      .filter((id) => id !== oldId);
    const next = await waitUntil(
      async () => {
        const l = await c().waitForLeader({ among: survivors, timeoutMs: 5_000 });
        return l.term > oldTerm ? l : undefined;
      },
      { timeoutMs: SETTLE_TIMEOUT_MS, what: 'a new leader among the survivors' },
    );
    const outcome = await expectSettled(c(), txId, [a, b], undefined, survivors);

    // The call b held reaches it now, from the stopped leader's term: refused.
    const late = await holdB.release();
    expect(late.map((r) => [r.term, r.status, errorCode(r.body)])).toEqual([[oldTerm, 409, 'STALE_TERM']]);

    const callsBefore = a.calls.length + b.calls.length;
    process.kill(pid, 'SIGCONT');
    const deposed = await waitUntil(
      async () => {
        const v = await c().view(oldId);
        return v.role !== 'leader' && v.term >= next.term ? v : undefined;
      },
      { timeoutMs: SETTLE_TIMEOUT_MS, what: `${oldId} to learn it was deposed` },
    );
    expect(deposed.leaderId).not.toBe(oldId);
    // Whatever the woken leader sent before it stepped down carried its old term and was refused.
    const fenced = expectStaleCallsFenced(a, txId) + expectStaleCallsFenced(b, txId);
    expect(fenced).toBeGreaterThanOrEqual(1);
    const oldTermCalls = [...a.calls, ...b.calls].slice(callsBefore).filter((x) => x.term === oldTerm);
    console.log(`deposed leader ${oldId} (term ${oldTerm}) sent ${oldTermCalls.length} call(s) after SIGCONT; all refused`);
    for (const x of oldTermCalls) expect([x.status, errorCode(x.body)]).toEqual([409, 'STALE_TERM']);

    // Outcomes agree everywhere, the old leader included.
    await expectSettled(c(), txId, [a, b], outcome);
    const first = await answer;
    if (!(first instanceof Error) && first.status === 200) expect(first.body.outcome).toBe(outcome);
    expect(await watcher.stop(), 'linearizable reads seen').toBeGreaterThan(0);
  });

  it('an Idempotency-Key retried on another node after the leader is killed returns the same transaction; only one ran', async () => {
    const a = await participant('a');
    const b = await participant('b');
    const key = `failover-${randomUUID()}`;
    // 3PC: the created entry is in the log before prepare, so the retry finds it (a 2PC one-shot
    // transaction killed before its decision starts anew: kill-points-2pc.test.ts (b')).
    const body = oneShot([a, b], { protocol: '3pc' });
    const { leaderId, term } = await c().waitForLeader();
    const holdB = b.hold((call) => call.path === 'prepare' && call.term <= term);
    const first = postInBackground(c(), leaderId, '/v1/transactions', body, { 'idempotency-key': key });
    const { txId } = await holdB.arrived;
    const watcher = watch(txId);

    const killed = await killLeaderOf(c(), term);
    expect(await first).toBeInstanceOf(Error); // its node died before answering
    await waitForNewLeader(c(), term);
    const other = c().live()[0]!.id;
    const retry = await waitUntil(
      async () => {
        const r = await post<TxView>(c(), other, '/v1/transactions', body, { 'idempotency-key': key });
        return r.status === 200 ? r : undefined;
      },
      { timeoutMs: SETTLE_TIMEOUT_MS, what: 'the retry with the same Idempotency-Key to be answered' },
    );
    expect(retry.body.id).toBe(txId);
    const outcome = await expectSettled(c(), txId, [a, b]);
    expect(retry.body.outcome).toBe(outcome);
    await holdB.release();

    // Only one transaction ran: participants heard of one id, the cluster lists one with them.
    expect([...a.txIdsSeen()]).toEqual([txId]);
    expect([...b.txIdsSeen()]).toEqual([txId]);
    const list = await httpJson<{ transactions: TxView[] }>('GET', `${c().url(other)}/v1/transactions?limit=1000`);
    expect(list.body.transactions.filter((t) => t.participants.some((p) => p.url === a.url)).map((t) => t.id)).toEqual([txId]);
    // The same key with a different body is refused rather than run.
    const reused = await post(c(), other, '/v1/transactions', { ...body, timeoutMs: 60_000 }, { 'idempotency-key': key });
    expect([reused.status, errorCode(reused.body)]).toEqual([409, 'IDEMPOTENCY_KEY_REUSED']);

    await restartAndExpect(c(), killed, new Map([[txId, outcome]]));
    const again = await post<TxView>(c(), killed, '/v1/transactions', body, { 'idempotency-key': key });
    expect([again.status, again.body.id]).toEqual([200, txId]);
    expect(await watcher.stop(), 'linearizable reads seen').toBeGreaterThan(0);
  });

  it('the client SDK retries run() across a leader kill with its idempotency key; one transaction runs', async () => {
    const a = await participant('a');
    const b = await participant('b');
    const client = new RatifyClient({ nodes: c().nodes.map((n) => n.url), timeoutMs: 10_000, retries: 20, backoffMaxMs: 1_000 });
    onCleanup(() => client.close());
    const { term } = await c().waitForLeader();
    const holdB = b.hold((call) => call.path === 'prepare' && call.term <= term);
    // 3PC, as above: its created entry is durable before prepare.
    const running = client.run({
      participants: [a.spec(), b.spec()],
      protocol: '3pc',
      timeoutMs: 120_000,
      idempotencyKey: `sdk-${randomUUID()}`,
    });
    running.catch(() => undefined);
    const { txId } = await holdB.arrived;
    const killed = await killLeaderOf(c(), term);
    const view = await running;
    expect(view.id).toBe(txId);
    const outcome = await expectSettled(c(), txId, [a, b]);
    expect(view.outcome).toBe(outcome);
    await holdB.release();
    expect([...a.txIdsSeen(), ...b.txIdsSeen()].every((id) => id === txId)).toBe(true);
    await restartAndExpect(c(), killed, new Map([[txId, outcome]]));
  });

  it('the client SDK retries run() across a leader kill during a 2PC one-shot prepare: nothing was recorded, the retry commits once, the first attempt aborts', async () => {
    const a = await participant('a');
    const b = await participant('b');
    const client = new RatifyClient({ nodes: c().nodes.map((n) => n.url), timeoutMs: 10_000, retries: 20, backoffMaxMs: 1_000 });
    onCleanup(() => client.close());
    const { term } = await c().waitForLeader();
    const holdB = b.hold((call) => call.path === 'prepare' && call.term <= term);
    const running = client.run({ participants: [a.spec(), b.spec()], timeoutMs: 120_000, idempotencyKey: `sdk-${randomUUID()}` });
    running.catch(() => undefined);
    const { txId } = await holdB.arrived;
    await a.answered('prepare', txId);
    const killed = await killLeaderOf(c(), term);
    const view = await running;
    expect(view.id).not.toBe(txId);
    expect(view.outcome).toBe('committed');
    await expectSettled(c(), view.id, [a, b], 'committed');
    await waitUntil(async () => (await a.record(txId))?.state === 'aborted', { timeoutMs: SETTLE_TIMEOUT_MS, what: `a to abort ${txId}` });
    expect(a.handlerCount('commit', txId)).toBe(0);
    const late = await holdB.release();
    expect(late.map((r) => [r.status, errorCode(r.body)])).toEqual([[409, 'STALE_TERM']]);
    await restartAndExpect(c(), killed, new Map([[view.id, 'committed']]));
  });
});
