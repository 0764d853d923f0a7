// apply() for issue 14's "No wedge": presumed-abort abandonment in the
// completed entry, the two quotas (undecided vs decided-but-unfinished), the
// forceFinished entry (never against the outcome), and snapshot format 5 with
// abandoned participants (format 4 still read).
import { Packr, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { encodeCommand, type TxCommand, type VoteEntry } from '../../src/tx/commands.js';
import { txConfigDefaults } from '../../src/tx/config.js';
import { createTxStateMachine } from '../../src/tx/state-machine.js';
import { TX_STATES, type ApplyResult, type TxStateMachine } from '../../src/tx/types.js';
import { toView } from '../../src/tx/views.js';

function feeder(sm: TxStateMachine) {
  let index = 0;
  return (cmd: TxCommand): ApplyResult => sm.apply({ index: ++index, term: 1, data: encodeCommand(cmd) }) as ApplyResult;
}

const created = (txId: string, extra: Partial<Extract<TxCommand, { type: 'created' }>> = {}): TxCommand => ({
  type: 'created',
  txId,
  participants: [
    { name: 'a', url: 'http://127.0.0.1:1', payload: { amount: 5 } },
    { name: 'b', url: 'http://127.0.0.1:2', payload: null },
  ],
  protocol: '2pc',
  createdAt: 1_000,
  deadlineAt: 11_000,
  idempotencyKey: null,
  requestHash: null,
  commitRequested: true,
  activeMax: 100,
  stuckMax: 100,
  ...extra,
});
const vote = (participant: string, v: 'commit' | 'abort', error: string | null = null): VoteEntry => ({
  participant,
  vote: v,
  reason: null,
  error,
});
const decided = (txId: string, decision: 'commit' | 'abort', votes: VoteEntry[]): TxCommand => ({
  type: 'decided',
  txId,
  decision,
  votes,
  decidedAt: 2_000,
  reason: 'test',
});
const force = (txId: string, outcome: 'committed' | 'aborted' | null = null): TxCommand => ({
  type: 'forceFinished',
  txId,
  outcome,
  principal: 'ops',
  at: 9_000,
});

describe('presumed abort: abandoned participants in the completed entry', () => {
  it('finishes an abort with a participant that never voted commit abandoned, shown on the view', () => {
    const sm = createTxStateMachine(txConfigDefaults);
    const apply = feeder(sm);
    apply(created('t'));
    apply(decided('t', 'abort', [vote('a', 'commit'), vote('b', 'abort', 'no answer from the participant')]));
    apply({ type: 'acknowledged', txId: 't', participant: 'a' });
    expect(apply({ type: 'completed', txId: 't', completedAt: 5_000, acknowledged: [], abandoned: ['b'] })).toMatchObject({
      ok: true,
      tx: { state: 'aborted' },
    });
    const view = toView(sm.get('t')!);
    expect(view.participants).toEqual([
      { name: 'a', url: 'http://127.0.0.1:1', vote: 'commit', acknowledged: true },
      {
        name: 'b',
        url: 'http://127.0.0.1:2',
        vote: 'abort',
        acknowledged: false,
        lastError: 'no answer from the participant',
        abandoned: 'presumed-abort',
      },
    ]);
    expect(sm.activeCount()).toBe(0);
  });

  it('refuses to abandon a participant that voted commit, or any participant of a commit, leaving the record as it was', () => {
    const sm = createTxStateMachine(txConfigDefaults);
    const apply = feeder(sm);
    apply(created('ab'));
    apply(decided('ab', 'abort', [vote('a', 'commit'), vote('b', 'abort')]));
    expect(apply({ type: 'completed', txId: 'ab', completedAt: 5_000, acknowledged: ['b'], abandoned: ['a'] })).toMatchObject({
      ok: false,
      code: 'INTERNAL',
    });
    expect(sm.get('ab')).toMatchObject({
      state: 'aborting',
      participants: [
        { acknowledged: false, abandoned: null },
        { acknowledged: false, abandoned: null },
      ],
    });
    apply(created('co'));
    apply(decided('co', 'commit', [vote('a', 'commit'), vote('b', 'commit')]));
    expect(apply({ type: 'completed', txId: 'co', completedAt: 5_000, acknowledged: ['a'], abandoned: ['b'] })).toMatchObject({
      ok: false,
      code: 'INTERNAL',
    });
    expect(sm.get('co')?.state).toBe('committing');
  });
});

describe('quotas: undecided transactions and decided-but-unfinished ones count apart', () => {
  it('stuck transactions do not refuse creates until maxStuckTransactions of them pile up', () => {
    const sm = createTxStateMachine(txConfigDefaults);
    const apply = feeder(sm);
    for (const id of ['s1', 's2', 's3']) {
      expect(apply(created(id, { activeMax: 1, stuckMax: 3 })).ok).toBe(true);
      apply(decided(id, 'abort', [vote('a', 'abort'), vote('b', 'abort')]));
    }
    expect([sm.undecidedCount(), sm.finishingCount(), sm.activeCount()]).toEqual([0, 3, 3]);
    // With 3 stuck, one undecided slot is still free under activeMax 1 (the old rule, every unfinished one, would refuse).
    expect(apply(created('new', { activeMax: 1, stuckMax: 4 })).ok).toBe(true);
    expect(apply(created('new2', { activeMax: 1, stuckMax: 4 }))).toMatchObject({
      ok: false,
      code: 'TOO_MANY_PENDING',
      message: expect.stringMatching(/maxActiveTransactions \(1\)/),
    });
    apply(decided('new', 'abort', [vote('a', 'abort')]));
    expect(apply(created('new3', { activeMax: 10, stuckMax: 4 }))).toMatchObject({
      ok: false,
      code: 'TOO_MANY_PENDING',
      message: expect.stringMatching(/maxStuckTransactions \(4\)/),
    });
    // An entry from before stuckMax keeps the old rule: activeMax bounds every unfinished transaction.
    const { stuckMax: _, ...old } = created('old', { activeMax: 4 }) as Extract<TxCommand, { type: 'created' }>;
    expect(apply(old)).toMatchObject({ ok: false, code: 'TOO_MANY_PENDING' });
    expect(apply({ ...old, activeMax: 5 }).ok).toBe(true);
  });

  it('precommitted counts as decided (its outcome is fixed); the counts survive a snapshot', () => {
    const sm = createTxStateMachine(txConfigDefaults);
    const apply = feeder(sm);
    apply(created('p', { protocol: '3pc' }));
    apply({ type: 'precommitted', txId: 'p', votes: [vote('a', 'commit'), vote('b', 'commit')], precommittedAt: 2_000 });
    apply(created('q', { commitRequested: false }));
    expect([sm.undecidedCount(), sm.finishingCount()]).toEqual([1, 1]);
    const copy = createTxStateMachine(txConfigDefaults);
    copy.restore(sm.snapshot());
    expect([copy.undecidedCount(), copy.finishingCount()]).toEqual([1, 1]);
    expect(copy.stats().byState()).toEqual({ ...Object.fromEntries(TX_STATES.map((s) => [s, 0])), precommitted: 1, active: 1 });
    expect(copy.stats().oldestUnfinishedCreatedAt()).toBe(1_000);
  });
});

describe('forceFinished', () => {
  const setup = (states: Array<[string, TxCommand[]]>) => {
    const sm = createTxStateMachine(txConfigDefaults);
    const apply = feeder(sm);
    for (const [id, cmds] of states) {
      apply(created(id, { protocol: cmds.some((c) => c.type === 'precommitted') ? '3pc' : '2pc' }));
      for (const c of cmds) apply(c);
    }
    return { sm, apply };
  };
  const commitVotes = [vote('a', 'commit'), vote('b', 'commit')];

  it('finishes a decided commit as committed, abandoning (force-finish) those that did not acknowledge; never as aborted', () => {
    const { sm, apply } = setup([['c', [decided('c', 'commit', commitVotes), { type: 'acknowledged', txId: 'c', participant: 'a' }]]]);
    expect(apply(force('c', 'aborted'))).toMatchObject({ ok: false, code: 'OUTCOME_CONFLICT' });
    expect(sm.get('c')?.state).toBe('committing');
    expect(apply(force('c'))).toMatchObject({ ok: true, tx: { state: 'committed', decision: 'commit', completedAt: 9_000 } });
    expect(sm.get('c')?.participants.map((p) => [p.acknowledged, p.abandoned])).toEqual([
      [true, null],
      [false, 'force-finish'],
    ]);
    expect(sm.finishingCount()).toBe(0);
    // A retry is a no-op; the other outcome still a conflict.
    expect(apply(force('c', 'committed'))).toMatchObject({ ok: true, existed: true });
    expect(apply(force('c', 'aborted'))).toMatchObject({ ok: false, code: 'OUTCOME_CONFLICT' });
  });

  it('finishes a precommitted 3PC transaction as committed (its only outcome), never aborted', () => {
    const { sm, apply } = setup([['p', [{ type: 'precommitted', txId: 'p', votes: commitVotes, precommittedAt: 2_000 }]]]);
    expect(apply(force('p', 'aborted'))).toMatchObject({ ok: false, code: 'OUTCOME_CONFLICT' });
    expect(apply(force('p'))).toMatchObject({ ok: true, tx: { state: 'committed', decision: 'commit', decidedAt: 2_000 } });
    expect(toView(sm.get('p')!).outcome).toBe('committed');
    expect(sm.get('p')?.participants.every((p) => p.abandoned === 'force-finish')).toBe(true);
  });

  it('decides an undecided one abort first (presumed abort); asking for committed is a conflict', () => {
    const { sm, apply } = setup([
      ['u', [{ type: 'voteRecorded', txId: 'u', ...vote('a', 'commit') }]],
      ['act', []],
    ]);
    expect(apply(force('u', 'committed'))).toMatchObject({ ok: false, code: 'OUTCOME_CONFLICT' });
    expect(sm.get('u')?.state).toBe('preparing');
    expect(apply(force('u', 'aborted'))).toMatchObject({ ok: true, tx: { state: 'aborted', decision: 'abort', decidedAt: 9_000 } });
    expect(sm.get('u')?.decisionReason).toMatch(/force-finished/);
    expect(sm.get('u')?.participants.map((p) => p.abandoned)).toEqual(['force-finish', 'force-finish']);
    // A decision arriving later (the run's, an old leader's) changes nothing.
    expect(apply(decided('u', 'commit', commitVotes))).toMatchObject({ ok: true, existed: true, tx: { state: 'aborted' } });
    // Never prepared (commit not requested): nobody to abandon.
    const { sm: sm2, apply: apply2 } = setup([]);
    apply2(created('act', { commitRequested: false }));
    expect(apply2(force('act')).ok).toBe(true);
    expect(sm2.get('act')?.participants.map((p) => [p.acknowledged, p.abandoned])).toEqual([
      [true, null],
      [true, null],
    ]);
  });

  it('keeps abandoned participants through a version 5 snapshot, and still reads version 4', () => {
    const { sm, apply } = setup([
      ['c', [decided('c', 'commit', commitVotes)]],
      ['x', [decided('x', 'abort', [vote('a', 'abort')])]],
    ]);
    apply(force('c'));
    apply({ type: 'completed', txId: 'x', completedAt: 5_000, acknowledged: ['b'], abandoned: ['a'] });
    const snap = sm.snapshot();
    expect((unpack(snap) as { version: number }).version).toBe(5);
    const copy = createTxStateMachine(txConfigDefaults);
    copy.restore(snap);
    expect(copy.list({ limit: 10 })).toEqual(sm.list({ limit: 10 }));
    expect(copy.get('x')?.participants.map((p) => p.abandoned)).toEqual(['presumed-abort', null]);
    expect(Buffer.from(copy.snapshot()).equals(Buffer.from(snap))).toBe(true);
    const v4 = {
      version: 4,
      strings: ['a', 'http://127.0.0.1:1', 'test', 'payments'],
      txs: [
        ['t1', 1, TX_STATES.indexOf('aborting'), 0, [0, 1, null, 1, false, 'down', 1_500], 1_000, 10_000, 1, 2, 1_000, null, null, null, 3],
      ],
      finishedOrder: [],
    };
    const old = createTxStateMachine(txConfigDefaults);
    old.restore(new Packr({ useRecords: false }).pack(v4));
    expect(old.get('t1')).toMatchObject({
      state: 'aborting',
      principal: 'payments',
      participants: [{ lastError: 'down', failingSince: 1_500, abandoned: null }],
    });
    expect(old.finishingCount()).toBe(1);
  });
});
