// The transaction view explains a stuck transaction (issue 16): its deadline, the
// decision's reason as a code (driven here through each path that decides), the
// leader's attempts and next retry per participant, and a lastError that carries
// the participant's own message, bounded and without network detail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decisionReason } from '../../src/tx/decision-reason.js';
import { ParticipantAttempts } from '../../src/tx/participant-attempts.js';
import { answerError, PARTICIPANT_MESSAGE_CHARS_MAX } from '../../src/tx/participant-error.js';
import type { TxView } from '../../src/tx/types.js';
import type { FakeCluster } from './fake-log.js';
import { FakeParticipant } from './fake-participant.js';
import { eventually, getView, participant, startLeader, type TestNode } from './harness.js';

let cluster: FakeCluster;
let node: TestNode;
let a: FakeParticipant;
let b: FakeParticipant;

beforeAll(async () => {
  ({ cluster, node } = await startLeader({
    config: { participantFailingThreshold: 2, phase2BackoffBaseMs: 200, phase2BackoffCapMs: 400 },
  }));
  a = await FakeParticipant.start();
  b = await FakeParticipant.start();
});
afterAll(async () => {
  await node.close();
  await a.close();
  await b.close();
  void cluster;
});

async function create(body: Record<string, unknown>): Promise<TxView> {
  const res = await node.app.inject({ method: 'POST', url: '/v1/transactions', payload: body });
  expect([200, 201]).toContain(res.statusCode);
  return res.json<TxView>();
}

const decided = (id: string): Promise<TxView> =>
  eventually(async () => {
    const v = await getView(node, id);
    return v.decisionReason === undefined ? undefined : v;
  }, `decision of ${id}`);

describe('the decision reason', () => {
  it('all-voted-commit (2PC) and all-acknowledged-precommit (3PC)', async () => {
    const two = await create({ participants: [participant('a', a.url), participant('b', b.url)], commit: true });
    expect((await decided(two.id)).decisionReason).toEqual({ code: 'all-voted-commit', message: 'every participant voted commit' });
    const three = await create({ participants: [participant('a', a.url)], protocol: '3pc', commit: true });
    expect((await decided(three.id)).decisionReason?.code).toBe('all-acknowledged-precommit');
  });

  it('participant-voted-abort names the participant and keeps its own reason', async () => {
    b.vote = { vote: 'abort', reason: 'insufficient funds' };
    try {
      const tx = await create({ participants: [participant('a', a.url), participant('b b', b.url)], commit: true });
      expect((await decided(tx.id)).decisionReason).toEqual({
        code: 'participant-voted-abort',
        participant: 'b b',
        message: 'participant b b voted abort: insufficient funds',
      });
    } finally {
      b.vote = { vote: 'commit' };
    }
  });

  it('participant-failed: a prepare that keeps failing counts as an abort vote, with the participant own message', async () => {
    b.setMode('error', ['prepare']);
    try {
      const tx = await create({ participants: [participant('b', b.url)], commit: true });
      const view = await decided(tx.id);
      expect(view.decisionReason).toMatchObject({ code: 'participant-failed', participant: 'b' });
      expect(view.participants[0]?.lastError).toBe('prepare answered HTTP 500');
    } finally {
      b.setMode('ok');
    }
  });

  it('client-abort and deadline', async () => {
    const open = await create({ participants: [participant('a', a.url)] });
    expect((await node.app.inject({ method: 'POST', url: `/v1/transactions/${open.id}/abort` })).statusCode).toBe(200);
    expect((await decided(open.id)).decisionReason).toEqual({ code: 'client-abort', message: 'abort requested by a client' });
    const expiring = await create({ participants: [participant('a', a.url)], timeoutMs: 50 });
    expect((await decided(expiring.id)).decisionReason?.code).toBe('deadline');
    expect(Date.parse(expiring.deadlineAt) - Date.parse(expiring.createdAt)).toBe(50);
  });

  it('is read from the replicated sentence: the same on every node, unknown sentences are other', () => {
    expect(decisionReason('participant x had aborted on its own (3PC timeout) before precommit', ['x'])).toMatchObject({
      code: 'participant-aborted-on-own',
      participant: 'x',
    });
    expect(decisionReason('participant x had committed on its own (3PC timeout after precommit)', ['x'])).toMatchObject({
      code: 'participant-committed-on-own',
    });
    expect(decisionReason('deadline passed before every participant acknowledged precommit', [])).toMatchObject({ code: 'deadline' });
    // The sentences of the 3PC rules now (protocol-rules.ts): precommitted is irrevocable.
    expect(
      decisionReason("participant x had already committed (3PC timeout after precommit, or the cluster's answer)", ['x']),
    ).toMatchObject({ code: 'participant-committed-on-own', participant: 'x' });
    expect(
      decisionReason('every participant answered precommit; x refused it (PROTOCOL VIOLATION: aborted on its own after voting commit)', [
        'x',
      ]),
    ).toMatchObject({ code: 'all-acknowledged-precommit' });
    // The longest enlisted name that fits, since names are free text.
    expect(decisionReason('participant a b voted abort', ['a', 'a b'])).toMatchObject({ participant: 'a b' });
    expect(decisionReason('participant z voted abort', ['a'])).toEqual({ code: 'other', message: 'participant z voted abort' });
    expect(decisionReason('a future reason', ['a'])).toEqual({ code: 'other', message: 'a future reason' });
  });
});

describe("the leader's attempts and lastError in phase 2", () => {
  it('shows the call, its attempts, the next retry and the participant own error, then drops them once acknowledged', async () => {
    b.setMode('already-aborted', ['commit']);
    let tx: TxView;
    try {
      tx = await create({ participants: [participant('a', a.url), participant('b', b.url)], commit: true });
      const stuck = await eventually(async () => {
        const v = await getView(node, tx.id);
        const p = v.participants.find((x) => x.name === 'b');
        return p?.lastError !== undefined && (p.attempts ?? 0) >= 2 && p.nextRetryAt !== undefined ? v : undefined;
      }, 'b failing, with attempts and a next retry');
      const pb = stuck.participants.find((x) => x.name === 'b')!;
      expect(stuck.state).toBe('committing');
      expect(pb.call).toBe('commit');
      // The other outcome is a protocol violation: the view says so rather than relay the answer.
      expect(pb.lastError).toMatch(/calls failed in a row; last: PROTOCOL VIOLATION: commit refused with TX_ALREADY_ABORTED/);
      expect(Date.parse(pb.nextRetryAt!)).toBeGreaterThanOrEqual(Date.parse(pb.lastAttemptAt!));
      const pa = stuck.participants.find((x) => x.name === 'a')!;
      expect(pa.acknowledged).toBe(true);
      expect(pa.attempts).toBeUndefined();
    } finally {
      b.setMode('ok');
    }
    const done = await eventually(async () => {
      const v = await getView(node, tx.id);
      return v.state === 'committed' ? v : undefined;
    }, 'completion');
    for (const p of done.participants) {
      expect(p.attempts).toBeUndefined();
      expect(p.nextRetryAt).toBeUndefined();
    }
  });

  it('keeps attempts per term and call: another term (a node not leading it) sees none', () => {
    const log = new ParticipantAttempts(2);
    log.called('t1', 'a', 'commit', 5, 1000);
    log.called('t1', 'a', 'commit', 5, 1100);
    log.retryAt('t1', 'a', 1500);
    expect(log.of('t1', 5).get('a')).toEqual({
      participant: 'a',
      call: 'commit',
      term: 5,
      attempts: 2,
      lastAttemptAt: 1100,
      nextRetryAt: 1500,
    });
    expect(log.of('t1', 6).size).toBe(0);
    expect(log.of('t1', null).size).toBe(0);
    log.called('t1', 'a', 'commit', 6, 1200); // a new term counts anew
    expect(log.of('t1', 6).get('a')?.attempts).toBe(1);
    log.called('t2', 'a', 'prepare', 6, 1);
    log.called('t3', 'a', 'prepare', 6, 1); // bounded: the oldest transaction goes
    expect(log.size).toBe(2);
    expect(log.of('t1', 6).size).toBe(0);
  });
});

describe('lastError: the participant own words', () => {
  it('takes code and message from the error shape or the top level, bounded, one line', () => {
    expect(answerError('commit', 503, { error: { code: 'DB_DOWN', message: 'database\nis down' } })).toEqual({
      error: 'commit answered HTTP 503 DB_DOWN: database is down',
      code: 'DB_DOWN',
    });
    expect(answerError('prepare', 400, { message: 'bad payload' }).error).toBe('prepare answered HTTP 400: bad payload');
    expect(answerError('abort', 500, 'not json').error).toBe('abort answered HTTP 500');
    expect(answerError('abort', 500, { error: { code: 'has spaces in it' } })).toEqual({ error: 'abort answered HTTP 500', code: null });
    const long = answerError('commit', 500, { error: { message: 'x'.repeat(5000) } }).error;
    expect(long.length).toBe('commit answered HTTP 500: '.length + PARTICIPANT_MESSAGE_CHARS_MAX);
  });
});
