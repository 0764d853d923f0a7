import fc from 'fast-check';
import { Packr, unpack } from 'msgpackr';
import { describe, expect, it, vi } from 'vitest';
import { RatifyError } from '../../src/errors.js';
import {
  COMPLETIONS_PER_ENTRY_MAX,
  encodeCommand,
  decodeCommand,
  type CompletedCommand,
  type TxCommand,
  type VoteEntry,
} from '../../src/tx/commands.js';
import { txConfigDefaults } from '../../src/tx/config.js';
import { createTxStateMachine, isBatchApplyResult } from '../../src/tx/state-machine.js';
import { assertTransition, canTransition } from '../../src/tx/transitions.js';
import { TX_STATES, type ApplyResult, type TxStateMachine } from '../../src/tx/types.js';
import { toView } from '../../src/tx/views.js';
import { TxTable } from '../../src/tx/tx-table.js';
import { keylessAbortCommand, oneShotCommand, oneShotRecord, type OneShotSpec } from '../../src/tx/one-shot.js';
import type { Decide } from '../../src/tx/protocol-rules.js';

const config = { ...txConfigDefaults, listLimitDefault: 2 };

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
  commitRequested: false,
  activeMax: 100,
  ...extra,
});

const commitVotes: VoteEntry[] = [
  { participant: 'a', vote: 'commit', reason: null, error: null },
  { participant: 'b', vote: 'commit', reason: null, error: null },
];

const decided = (txId: string, decision: 'commit' | 'abort', votes: VoteEntry[] = commitVotes, decidedAt = 2_000): TxCommand => ({
  type: 'decided',
  txId,
  decision,
  votes: decision === 'commit' ? votes : [],
  decidedAt,
  reason: 'test',
});

/** Runs one transaction to the end: created, prepared, decided, acknowledged, completed. */
function finish(apply: (c: TxCommand) => ApplyResult, txId: string, decision: 'commit' | 'abort', completedAt: number): void {
  apply(created(txId, { commitRequested: true }));
  apply(decided(txId, decision));
  apply({ type: 'acknowledged', txId, participant: 'a' });
  apply({ type: 'acknowledged', txId, participant: 'b' });
  expect(apply({ type: 'completed', txId, completedAt }).ok).toBe(true);
}

describe('transitions', () => {
  it('allows exactly the documented edges', () => {
    const legal = new Set([
      'active>preparing',
      'active>aborting',
      'preparing>precommitted',
      'preparing>committing',
      'preparing>aborting',
      'precommitted>committing',
      'committing>committed',
      'aborting>aborted',
    ]);
    for (const from of TX_STATES) {
      for (const to of TX_STATES) {
        expect(canTransition(from, to), `${from}>${to}`).toBe(legal.has(`${from}>${to}`));
      }
    }
  });

  it('throws on an illegal edge', () => {
    expect(() => assertTransition('committed', 'aborting')).toThrow(RatifyError);
    expect(() => assertTransition('aborting', 'committing')).toThrow(/illegal transaction state transition/);
    expect(() => assertTransition('active', 'committing')).toThrow(/active -> committing/);
  });
});

describe('commands', () => {
  it('round-trip through msgpack and reject malformed input', () => {
    const cmd = created('t1', { idempotencyKey: 'k', requestHash: 'h' });
    expect(decodeCommand(encodeCommand(cmd))).toEqual(cmd);
    expect(decodeCommand(new Uint8Array([0xc1]))).toBeNull();
    expect(decodeCommand(encodeCommand({ type: 'nope' } as unknown as TxCommand))).toBeNull();
    expect(decodeCommand(encodeCommand({ type: 'decided', txId: 't', decision: 'maybe' } as unknown as TxCommand))).toBeNull();
    const completed: TxCommand = { type: 'completed', txId: 't', completedAt: 5, acknowledged: ['a', 'b'] };
    expect(decodeCommand(encodeCommand(completed))).toEqual(completed);
    // entries written before `acknowledged` existed still decode
    expect(decodeCommand(encodeCommand({ type: 'completed', txId: 't', completedAt: 5 }))).toEqual({
      type: 'completed',
      txId: 't',
      completedAt: 5,
    });
    for (const acknowledged of ['a', [1], null]) {
      expect(
        decodeCommand(encodeCommand({ type: 'completed', txId: 't', completedAt: 5, acknowledged } as unknown as TxCommand)),
      ).toBeNull();
    }
  });
});

describe('tx state machine', () => {
  it('walks a 2PC transaction through its states', () => {
    const sm = createTxStateMachine(config);
    const apply = feeder(sm);
    expect(apply(created('t1')).ok).toBe(true);
    expect(sm.get('t1')?.state).toBe('active');
    expect(apply({ type: 'commitRequested', txId: 't1' }).ok).toBe(true);
    expect(sm.get('t1')?.state).toBe('preparing');
    apply({ type: 'voteRecorded', txId: 't1', participant: 'a', vote: 'commit', reason: null, error: null });
    expect(sm.get('t1')?.participants[0]?.vote).toBe('commit');
    apply(decided('t1', 'commit'));
    expect(sm.get('t1')).toMatchObject({ state: 'committing', decision: 'commit', decidedAt: 2_000 });
    // completing before every acknowledgement is refused
    expect(apply({ type: 'completed', txId: 't1', completedAt: 3_000 })).toMatchObject({ ok: false, code: 'INTERNAL' });
    apply({ type: 'acknowledged', txId: 't1', participant: 'a' });
    apply({ type: 'acknowledged', txId: 't1', participant: 'b' });
    apply({ type: 'completed', txId: 't1', completedAt: 3_000 });
    expect(sm.get('t1')).toMatchObject({ state: 'committed', completedAt: 3_000 });
    expect(sm.inFlight()).toEqual([]);
  });

  it('a completed entry can carry the acknowledgements itself (fast path: no acknowledged entries)', () => {
    const sm = createTxStateMachine(config);
    const apply = feeder(sm);
    apply(created('t1', { commitRequested: true }));
    apply({ type: 'participantFailing', txId: 't1', participant: 'a', error: 'prepare slow', failingSince: 1_500 });
    apply(decided('t1', 'commit'));
    apply({ type: 'participantFailing', txId: 't1', participant: 'a', error: 'down', failingSince: 2_500 });
    // refused, and nothing changes, when it misses a participant or names a stranger
    expect(apply({ type: 'completed', txId: 't1', completedAt: 3_000, acknowledged: ['a'] })).toMatchObject({
      ok: false,
      code: 'INTERNAL',
    });
    expect(apply({ type: 'completed', txId: 't1', completedAt: 3_000, acknowledged: ['a', 'b', 'z'] })).toMatchObject({
      ok: false,
      code: 'INTERNAL',
    });
    expect(sm.get('t1')?.participants.map((p) => p.acknowledged)).toEqual([false, false]);
    // one participant acknowledged on its own entry (slow path), the other in the completed entry
    apply({ type: 'acknowledged', txId: 't1', participant: 'b' });
    expect(apply({ type: 'completed', txId: 't1', completedAt: 3_000, acknowledged: ['a'] }).ok).toBe(true);
    const tx = sm.get('t1');
    expect(tx).toMatchObject({ state: 'committed', completedAt: 3_000 });
    expect(tx?.participants.map((p) => [p.vote, p.acknowledged, p.lastError, p.failingSince])).toEqual([
      ['commit', true, null, null],
      ['commit', true, null, null],
    ]);
    // a replay changes nothing
    expect(apply({ type: 'completed', txId: 't1', completedAt: 4_000, acknowledged: ['a', 'b'] })).toMatchObject({
      ok: true,
      existed: true,
    });
    expect(sm.get('t1')?.completedAt).toBe(3_000);
  });

  it('keeps the first decision applied; a later one changes nothing', () => {
    const sm = createTxStateMachine(config);
    const apply = feeder(sm);
    apply(created('t1', { commitRequested: true }));
    expect(apply(decided('t1', 'abort', [], 5))).toMatchObject({ ok: true, existed: false });
    const second = apply(decided('t1', 'commit', commitVotes, 6));
    expect(second).toMatchObject({ ok: true, existed: true });
    expect(second.tx).toMatchObject({ decision: 'abort', decidedAt: 5, state: 'aborting' });
    expect(sm.get('t1')).toMatchObject({ decision: 'abort', decidedAt: 5 });
  });

  it('refuses commit without every commit vote, or a 3PC commit before precommit', () => {
    const sm = createTxStateMachine(config);
    const apply = feeder(sm);
    apply(created('t1', { commitRequested: true }));
    expect(apply(decided('t1', 'commit', [commitVotes[0]!]))).toMatchObject({ ok: false, code: 'INTERNAL' });
    apply(created('t3', { commitRequested: true, protocol: '3pc' }));
    expect(apply(decided('t3', 'commit'))).toMatchObject({ ok: false, code: 'INTERNAL' });
    expect(apply({ type: 'precommitted', txId: 't3', votes: commitVotes }).ok).toBe(true);
    expect(apply(decided('t3', 'commit')).ok).toBe(true);
    expect(sm.get('t3')?.state).toBe('committing');
    // precommit is 3PC only
    expect(apply({ type: 'precommitted', txId: 't1', votes: commitVotes })).toMatchObject({ ok: false });
  });

  it('precommitted is irrevocable: an abort entry is refused with TX_PRECOMMITTED, and the view says committed from then on', () => {
    const sm = createTxStateMachine(config);
    const apply = feeder(sm);
    apply(created('t3', { commitRequested: true, protocol: '3pc' }));
    expect(toView(sm.get('t3')!)).toMatchObject({ state: 'preparing', outcome: null });
    expect(toView(sm.get('t3')!).decidedAt).toBeUndefined();
    apply({ type: 'precommitted', txId: 't3', votes: commitVotes, precommittedAt: 1_500 });
    expect(toView(sm.get('t3')!)).toMatchObject({ state: 'precommitted', outcome: 'committed', decidedAt: new Date(1_500).toISOString() });
    // A client abort, a deadline abort from a stale view, an old leader's entry: all refused alike.
    for (const reason of ['abort requested by a client', 'deadline passed before every participant voted']) {
      const refused = apply({ type: 'decided', txId: 't3', decision: 'abort', votes: [], decidedAt: 7, reason });
      expect(refused).toMatchObject({ ok: false, code: 'TX_PRECOMMITTED', tx: { state: 'precommitted', decision: null } });
    }
    expect(sm.get('t3')).toMatchObject({ state: 'precommitted', decision: null, decidedAt: 1_500 });
    // Commit goes through; the outcome's time stays the one it was fixed at.
    expect(apply(decided('t3', 'commit', commitVotes, 9_000))).toMatchObject({ ok: true, existed: false });
    expect(sm.get('t3')).toMatchObject({ state: 'committing', decision: 'commit', decidedAt: 1_500 });
    expect(toView(sm.get('t3')!)).toMatchObject({ outcome: 'committed', decidedAt: new Date(1_500).toISOString() });
  });

  it('a precommitted entry written before precommittedAt existed leaves decidedAt to the decision', () => {
    const sm = createTxStateMachine(config);
    const apply = feeder(sm);
    apply(created('t3', { commitRequested: true, protocol: '3pc' }));
    apply({ type: 'precommitted', txId: 't3', votes: commitVotes });
    expect(toView(sm.get('t3')!)).toMatchObject({ state: 'precommitted', outcome: 'committed' });
    expect(sm.get('t3')?.decidedAt).toBeNull();
    apply(decided('t3', 'commit', commitVotes, 9_000));
    expect(sm.get('t3')?.decidedAt).toBe(9_000);
    // and the guard accepts both shapes, and refuses a malformed time
    const base = { type: 'precommitted', txId: 't', votes: commitVotes } as const;
    expect(decodeCommand(encodeCommand(base))).toEqual(base);
    expect(decodeCommand(encodeCommand({ ...base, precommittedAt: 5 }))).toEqual({ ...base, precommittedAt: 5 });
    expect(decodeCommand(encodeCommand({ ...base, precommittedAt: 'soon' } as unknown as TxCommand))).toBeNull();
  });

  it('aborting an active transaction needs no acknowledgement: nobody was prepared', () => {
    const sm = createTxStateMachine(config);
    const apply = feeder(sm);
    apply(created('t1'));
    apply(decided('t1', 'abort'));
    expect(sm.get('t1')?.participants.every((p) => p.acknowledged)).toBe(true);
    expect(apply({ type: 'completed', txId: 't1', completedAt: 9 }).ok).toBe(true);
    expect(sm.get('t1')?.state).toBe('aborted');
  });

  it('enlists only while active, within the participant limit, idempotently', () => {
    const sm = createTxStateMachine(config);
    const apply = feeder(sm);
    apply(created('t1'));
    const c = { name: 'c', url: 'http://127.0.0.1:3', payload: 1 };
    expect(apply({ type: 'enlisted', txId: 't1', participant: c, participantsMax: 3 }).ok).toBe(true);
    expect(apply({ type: 'enlisted', txId: 't1', participant: c, participantsMax: 3 })).toMatchObject({ ok: true, existed: true });
    // The same payload with its keys in another order is the same payload (canonical JSON).
    const e = { name: 'e', url: 'http://127.0.0.1:5', payload: { x: 1, y: { p: 1, q: 2 } } };
    expect(apply({ type: 'enlisted', txId: 't1', participant: e, participantsMax: 9 }).ok).toBe(true);
    expect(
      apply({ type: 'enlisted', txId: 't1', participant: { ...e, payload: { y: { q: 2, p: 1 }, x: 1 } }, participantsMax: 9 }),
    ).toMatchObject({ ok: true, existed: true });
    expect(apply({ type: 'enlisted', txId: 't1', participant: { ...c, payload: 2 }, participantsMax: 3 })).toMatchObject({
      ok: false,
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    const d = { name: 'd', url: 'http://127.0.0.1:4', payload: null };
    expect(apply({ type: 'enlisted', txId: 't1', participant: d, participantsMax: 3 })).toMatchObject({
      ok: false,
      code: 'TOO_MANY_PARTICIPANTS',
    });
    apply({ type: 'commitRequested', txId: 't1' });
    expect(apply({ type: 'enlisted', txId: 't1', participant: d, participantsMax: 9 })).toMatchObject({ ok: false, code: 'TX_NOT_ACTIVE' });
    // a replay of an earlier enlist is refused too once the transaction is no longer active
    expect(apply({ type: 'enlisted', txId: 't1', participant: c, participantsMax: 9 })).toMatchObject({ ok: false, code: 'TX_NOT_ACTIVE' });
    expect(apply({ type: 'enlisted', txId: 'zz', participant: d, participantsMax: 9 })).toMatchObject({ ok: false, code: 'TX_NOT_FOUND' });
  });

  it('dedupes two creates with one idempotency key; a different request is refused', () => {
    const sm = createTxStateMachine(config);
    const apply = feeder(sm);
    expect(apply(created('t1', { idempotencyKey: 'k', requestHash: 'h1' })).ok).toBe(true);
    const again = apply(created('t2', { idempotencyKey: 'k', requestHash: 'h1' }));
    expect(again).toMatchObject({ ok: true, existed: true });
    expect(again.tx?.id).toBe('t1');
    expect(sm.get('t2')).toBeNull();
    expect(apply(created('t3', { idempotencyKey: 'k', requestHash: 'h2' }))).toMatchObject({ ok: false, code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(sm.findByIdempotencyKey('k', null)?.id).toBe('t1');
  });

  it('limits active transactions with the limit carried in the entry', () => {
    const sm = createTxStateMachine(config);
    const apply = feeder(sm);
    expect(apply(created('t1', { activeMax: 1 })).ok).toBe(true);
    expect(apply(created('t2', { activeMax: 1 }))).toMatchObject({ ok: false, code: 'TOO_MANY_PENDING' });
    expect(apply(created('t2', { activeMax: 2 })).ok).toBe(true);
  });

  it('answers a malformed entry without changing state', () => {
    const sm = createTxStateMachine(config);
    const before = sm.snapshot();
    expect(sm.apply({ index: 1, term: 1, data: new Uint8Array([1, 2, 3]) })).toMatchObject({ ok: false, code: 'INTERNAL' });
    expect(Buffer.from(sm.snapshot()).equals(Buffer.from(before))).toBe(true);
  });

  it('returns copies: mutating a read does not touch the table', () => {
    const sm = createTxStateMachine(config);
    feeder(sm)(created('t1'));
    const tx = sm.get('t1')!;
    tx.state = 'committed';
    tx.participants[0]!.acknowledged = true;
    expect(sm.get('t1')).toMatchObject({ state: 'active', participants: [{ acknowledged: false }, { acknowledged: false }] });
  });

  it('decisionOf reads the decision fields of a live or a finished transaction, as get() has them', () => {
    const sm = createTxStateMachine(config);
    const apply = feeder(sm);
    const fields = (id: string) => {
      const v = sm.decisionOf(id);
      return v === null ? null : { id: v.id, seq: v.seq, createdAt: v.createdAt, decision: v.decision, decidedAt: v.decidedAt };
    };
    const ofGet = (id: string) => {
      const tx = sm.get(id)!;
      return { id: tx.id, seq: tx.seq, createdAt: tx.createdAt, decision: tx.decision, decidedAt: tx.decidedAt };
    };
    apply(created('live'));
    expect(fields('live')).toEqual({ id: 'live', seq: 1, createdAt: 1_000, decision: null, decidedAt: null });
    apply(decided('live', 'abort', [], 2_500));
    expect(fields('live')).toEqual(ofGet('live'));
    expect(fields('live')).toMatchObject({ decision: 'abort', decidedAt: 2_500 });
    finish(apply, 'done', 'commit', 3_000);
    expect(sm.get('done')?.state).toBe('committed');
    expect(fields('done')).toEqual(ofGet('done'));
    expect(fields('done')).toMatchObject({ decision: 'commit', decidedAt: 2_000, createdAt: 1_000 });
    expect(sm.decisionOf('nope')).toBeNull();
  });

  it('retains finished transactions by time, then by count, through gc entries', () => {
    const sm = createTxStateMachine(config);
    const apply = feeder(sm);
    for (let i = 1; i <= 5; i++) finish(apply, `t${i}`, i % 2 === 0 ? 'abort' : 'commit', i * 100);
    apply(created('live', { idempotencyKey: 'live-key', requestHash: 'h' }));
    // time: completed at 100 and 200 are older than 250 ms at now=460
    apply({ type: 'gc', now: 460, retainFinishedMs: 250, retainFinishedMax: 100 });
    expect(['t1', 't2', 't3', 't4', 't5'].map((id) => sm.get(id) !== null)).toEqual([false, false, true, true, true]);
    // count: keep the newest two finished ones
    apply({ type: 'gc', now: 460, retainFinishedMs: 10_000, retainFinishedMax: 2 });
    expect(['t3', 't4', 't5'].map((id) => sm.get(id) !== null)).toEqual([false, true, true]);
    expect(sm.retentionStats()).toEqual({ finishedCount: 2, oldestCompletedAt: 400 });
    // unfinished ones are never removed
    apply({ type: 'gc', now: 1e9, retainFinishedMs: 0, retainFinishedMax: 0 });
    expect(sm.get('live')).not.toBeNull();
    expect(sm.findByIdempotencyKey('live-key', null)?.id).toBe('live');
    expect(sm.list({}).transactions.map((t) => t.id)).toEqual(['live']);
  });

  it('lists in creation order with a state filter and a cursor', () => {
    const sm = createTxStateMachine(config);
    const apply = feeder(sm);
    for (const id of ['a', 'b', 'c', 'd', 'e']) apply(created(id));
    apply(decided('b', 'abort'));
    const first = sm.list({ state: 'active' });
    expect(first.transactions.map((t) => t.id)).toEqual(['a', 'c']);
    const second = sm.list({ state: 'active', cursor: first.nextCursor! });
    expect(second.transactions.map((t) => t.id)).toEqual(['d', 'e']);
    expect(second.nextCursor).toBeNull();
    expect(sm.list({ limit: 100 }).transactions).toHaveLength(5);
    expect(() => sm.list({ cursor: 'garbage' })).toThrow(RatifyError);
  });

  it('snapshot/restore round-trips the table, indexes and orders', () => {
    const sm = createTxStateMachine(config);
    const apply = feeder(sm);
    finish(apply, 'done', 'commit', 50);
    apply(created('k1', { idempotencyKey: 'key-1', requestHash: 'h' }));
    apply(created('p1', { commitRequested: true }));
    apply({ type: 'participantFailing', txId: 'p1', participant: 'a', error: 'boom', failingSince: 1_500 });
    const bytes = sm.snapshot();
    const copy = createTxStateMachine(config);
    copy.restore(bytes);
    expect(Buffer.from(copy.snapshot()).equals(Buffer.from(bytes))).toBe(true);
    expect(copy.get('p1')).toEqual(sm.get('p1'));
    expect(copy.findByIdempotencyKey('key-1', null)?.id).toBe('k1');
    expect(copy.inFlight().map((t) => t.id)).toEqual(['k1', 'p1']);
    expect(copy.retentionStats()).toEqual({ finishedCount: 1, oldestCompletedAt: 50 });
    // a restored table keeps applying like the original
    const more: TxCommand = created('k2', { idempotencyKey: 'key-1', requestHash: 'h' });
    expect((copy.apply({ index: 99, term: 2, data: encodeCommand(more) }) as ApplyResult).tx?.id).toBe('k1');
    // restore replaces, not merges
    copy.restore(createTxStateMachine(config).snapshot());
    expect(copy.get('p1')).toBeNull();
    expect(copy.findByIdempotencyKey('key-1', null)).toBeNull();
  });

  it('restore tells listeners of every id of the old and the new table, once each', () => {
    const source = createTxStateMachine(config);
    const applySource = feeder(source);
    applySource(created('both'));
    applySource(created('arrives'));
    const sm = createTxStateMachine(config);
    const apply = feeder(sm);
    apply(created('leaves'));
    apply(created('both'));
    const notified: string[] = [];
    sm.onChange((txId) => notified.push(txId));
    sm.restore(source.snapshot());
    expect(notified).toEqual(['leaves', 'both', 'arrives']);
    // A listener reads the restored table.
    expect(sm.get('leaves')).toBeNull();
    expect(sm.get('arrives')?.id).toBe('arrives');
  });

  it('restore reuses the table checkSnapshot decoded from the same bytes, and only those', () => {
    const source = createTxStateMachine(config);
    const applySource = feeder(source);
    applySource(created('first'));
    const first = source.snapshot();
    applySource(created('second'));
    const second = source.snapshot();
    const decodes = vi.spyOn(TxTable.prototype, 'decodeInto');
    try {
      const sm = createTxStateMachine(config);
      // The install path: check, then restore the same bytes (here a copy of them): one decode.
      expect(sm.checkSnapshot!(first)).toBeNull();
      sm.restore(Uint8Array.from(first));
      expect(decodes).toHaveBeenCalledTimes(1);
      expect(sm.get('first')?.id).toBe('first');
      // Other bytes than the checked ones are decoded themselves, never replaced by the checked table.
      expect(sm.checkSnapshot!(first)).toBeNull();
      sm.restore(second);
      expect(decodes).toHaveBeenCalledTimes(3);
      expect(sm.get('second')?.id).toBe('second');
      // A checked table is handed out once, and an apply() in between drops it.
      sm.restore(first);
      expect(decodes).toHaveBeenCalledTimes(4);
      expect(sm.checkSnapshot!(second)).toBeNull();
      feeder(sm)(created('third'));
      sm.restore(second);
      expect(decodes).toHaveBeenCalledTimes(6);
      expect([sm.get('second')?.id, sm.get('third')]).toEqual(['second', null]);
      // A refused check keeps nothing: the next restore decodes its bytes.
      expect(sm.checkSnapshot!(new Uint8Array([0xc1]))).toEqual(expect.any(String));
      sm.restore(first);
      expect(decodes).toHaveBeenCalledTimes(8);
    } finally {
      decodes.mockRestore();
    }
  });

  it('rejects a corrupt snapshot and keeps its table', () => {
    const sm = createTxStateMachine(config);
    feeder(sm)(created('t1'));
    const isCorrupt = (fn: () => void): boolean => {
      try {
        fn();
      } catch (e) {
        return e instanceof RatifyError && e.code === 'DATA_CORRUPT';
      }
      return false;
    };
    expect(isCorrupt(() => sm.restore(encodeCommand({ type: 'gc', now: 1, retainFinishedMs: 1, retainFinishedMax: 1 })))).toBe(true);
    expect(isCorrupt(() => sm.restore(new Uint8Array([0xc1, 0xc1])))).toBe(true);
    const good = sm.snapshot();
    expect(isCorrupt(() => sm.restore(good.subarray(0, good.length - 3)))).toBe(true);
    expect(sm.get('t1')?.state).toBe('active');
  });

  it('every truncation of a snapshot is DATA_CORRUPT, never another error', () => {
    const sm = createTxStateMachine(config);
    const apply = feeder(sm);
    finish(apply, 'done', 'commit', 3_000);
    apply(created('k1', { idempotencyKey: 'key-1', requestHash: 'h' }));
    const good = sm.snapshot();
    for (let n = 0; n < good.length; n++) {
      const copy = createTxStateMachine(config);
      expect(() => copy.restore(good.subarray(0, n))).toThrow(expect.objectContaining({ code: 'DATA_CORRUPT' }));
    }
    const longer = new Uint8Array(good.length + 1);
    longer.set(good);
    expect(() => createTxStateMachine(config).restore(longer)).toThrow(expect.objectContaining({ code: 'DATA_CORRUPT' }));
  });

  it('keeps every time exactly, also ones no small offset reaches (fractions, far apart, before the previous row)', () => {
    const sm = createTxStateMachine(config);
    const apply = feeder(sm);
    const odd = [
      { id: 'frac', createdAt: 1_000.5, deadlineAt: 11_000.25, decidedAt: 1_001.5, completedAt: 1_002.75 },
      {
        id: 'far',
        createdAt: 1_764_000_000_000,
        deadlineAt: 1_764_000_000_000 + 2 ** 40,
        decidedAt: 1_764_000_000_000 + 2 ** 31,
        completedAt: 1_764_000_000_000 + 2 ** 30,
      },
      { id: 'back', createdAt: 5, deadlineAt: -(2 ** 33), decidedAt: 4, completedAt: 1e300 },
    ];
    for (const t of odd) {
      apply(created(t.id, { commitRequested: true, createdAt: t.createdAt, deadlineAt: t.deadlineAt }));
      apply(decided(t.id, 'commit', commitVotes, t.decidedAt));
      apply({ type: 'completed', txId: t.id, completedAt: t.completedAt, acknowledged: ['a', 'b'] });
    }
    apply(created('open', { createdAt: Number.MAX_SAFE_INTEGER, deadlineAt: 0.1 }));
    for (const t of odd) expect(sm.get(t.id)).toMatchObject({ ...t, state: 'committed' });
    const restored = createTxStateMachine(config);
    restored.restore(sm.snapshot());
    expect(restored.list({ limit: 10 })).toEqual(sm.list({ limit: 10 }));
    expect(restored.get('open')).toMatchObject({ createdAt: Number.MAX_SAFE_INTEGER, deadlineAt: 0.1 });
    expect(restored.retentionStats()).toEqual(sm.retentionStats());
    expect(Buffer.from(restored.snapshot()).equals(Buffer.from(sm.snapshot()))).toBe(true);
  });

  it('restores a version 2 snapshot (rows as arrays, finishedOrder as row positions)', () => {
    // What a node wrote before version 3: data directories and lagging followers may still hold it.
    const parts = (vote: string | null, acknowledged: boolean, lastError: string | null) => [
      'a',
      'http://127.0.0.1:1',
      { amount: 5 },
      vote,
      acknowledged,
      lastError,
      null,
      'b',
      'http://127.0.0.1:2',
      null,
      vote,
      acknowledged,
      null,
      1_500,
    ];
    const v2 = {
      version: 2,
      txs: [
        [
          't1',
          1,
          'committed',
          '2pc',
          parts('commit', true, null).map((v, i) => (i === 2 || i === 13 ? null : v)),
          1_000,
          11_000,
          'commit',
          'test',
          2_000,
          3_000,
          null,
          null,
        ],
        ['t2', 4, 'preparing', '3pc', parts(null, false, 'down'), 1_100, 11_100, null, null, null, null, 'k', 'h'],
      ],
      finishedOrder: [0],
    };
    const copy = createTxStateMachine(config);
    copy.restore(new Packr({ useRecords: false }).pack(v2));
    expect(copy.get('t1')).toMatchObject({
      state: 'committed',
      decision: 'commit',
      decisionReason: 'test',
      decidedAt: 2_000,
      completedAt: 3_000,
    });
    expect(copy.get('t1')?.participants.map((p) => [p.name, p.vote, p.acknowledged, p.payload])).toEqual([
      ['a', 'commit', true, null],
      ['b', 'commit', true, null],
    ]);
    expect(copy.get('t2')).toMatchObject({ seq: 4, state: 'preparing', protocol: '3pc', idempotencyKey: 'k', requestHash: 'h' });
    expect(copy.get('t2')?.participants.map((p) => [p.payload, p.lastError, p.failingSince])).toEqual([
      [{ amount: 5 }, 'down', null],
      [null, null, 1_500],
    ]);
    expect(copy.retentionStats()).toEqual({ finishedCount: 1, oldestCompletedAt: 3_000 });
    // Rewritten as version 3, and read back to the same table.
    const again = createTxStateMachine(config);
    again.restore(copy.snapshot());
    expect(again.list({ limit: 10 })).toEqual(copy.list({ limit: 10 }));
    expect(again.findByIdempotencyKey('k', null)?.id).toBe('t2');
  });

  it('restores a version 3 snapshot (rows without a principal)', () => {
    // What a node wrote before principals (version 4): data directories and lagging followers may still hold it.
    const v3 = {
      version: 3,
      strings: ['a', 'http://127.0.0.1:1', 'test'],
      txs: [
        ['t1', 1, TX_STATES.indexOf('committed'), 0, [0, 1, null, 0, true, null, null], 1_000, 10_000, 0, 2, 1_000, 2_000, 'k', 'h'],
        [
          't2',
          1,
          TX_STATES.indexOf('active'),
          1,
          [0, 1, { amount: 5 }, null, false, null, null],
          100,
          10_000,
          null,
          null,
          null,
          null,
          null,
          null,
        ],
      ],
      finishedOrder: [0],
    };
    const copy = createTxStateMachine(config);
    copy.restore(new Packr({ useRecords: false }).pack(v3));
    expect(copy.get('t1')).toMatchObject({
      state: 'committed',
      principal: null,
      idempotencyKey: 'k',
      decisionReason: 'test',
      completedAt: 3_000,
    });
    expect(copy.get('t2')).toMatchObject({
      seq: 2,
      state: 'active',
      protocol: '3pc',
      principal: null,
      participants: [{ payload: { amount: 5 } }],
    });
    expect(copy.findByIdempotencyKey('k', null)?.id).toBe('t1');
    // Rewritten as version 5, and read back to the same table.
    const again = createTxStateMachine(config);
    again.restore(copy.snapshot());
    expect((unpack(copy.snapshot()) as { version: number }).version).toBe(5);
    expect(again.list({ limit: 10 })).toEqual(copy.list({ limit: 10 }));
  });

  it('records the principal; idempotency keys and the principal filter of list are per principal', () => {
    const sm = createTxStateMachine(config);
    const apply = feeder(sm);
    expect(apply(created('p1', { idempotencyKey: 'k', requestHash: 'h', principal: 'payments' })).ok).toBe(true);
    // The same key and body from another principal is another transaction, never the first one's.
    expect(apply(created('r1', { idempotencyKey: 'k', requestHash: 'h', principal: 'refunds' }))).toMatchObject({
      ok: true,
      existed: false,
      tx: { id: 'r1' },
    });
    expect(apply(created('n1', { idempotencyKey: 'k', requestHash: 'h' })).tx?.id).toBe('n1');
    expect(apply(created('p2', { idempotencyKey: 'k', requestHash: 'h', principal: 'payments' }))).toMatchObject({
      ok: true,
      existed: true,
      tx: { id: 'p1' },
    });
    expect(apply(created('p3', { idempotencyKey: 'k', requestHash: 'other', principal: 'payments' }))).toMatchObject({
      ok: false,
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    expect(['payments', 'refunds', null].map((p) => sm.findByIdempotencyKey('k', p)?.id)).toEqual(['p1', 'r1', 'n1']);
    expect(sm.get('p1')?.principal).toBe('payments');
    expect(sm.list({ principal: 'refunds' }).transactions.map((t) => t.id)).toEqual(['r1']);
    expect(sm.list({ principal: null }).transactions.map((t) => t.id)).toEqual(['n1']);
    // A created entry written before principals existed has none, and still decodes.
    const legacy = new Packr({ useRecords: false }).pack(created('old'));
    expect(Object.keys(unpack(legacy) as object)).not.toContain('principal');
    expect(decodeCommand(legacy)).not.toBeNull();
    sm.apply({ index: 99, term: 1, data: legacy });
    expect(sm.get('old')?.principal).toBeNull();
    // Finished, compacted and snapshotted, the principal and the scoped keys survive.
    finish(apply, 'p9', 'commit', 5_000);
    const copy = createTxStateMachine(config);
    copy.restore(sm.snapshot());
    expect(['payments', 'refunds', null].map((p) => copy.findByIdempotencyKey('k', p)?.id)).toEqual(['p1', 'r1', 'n1']);
    expect(copy.list({ principal: 'payments', limit: 10 }).transactions.map((t) => t.id)).toEqual(['p1']);
  });

  it('failingSince: the earliest report wins across leaders; cleared by the acknowledgement and by the decision', () => {
    const sm = createTxStateMachine(config);
    const apply = feeder(sm);
    const failing = (txId: string, participant: string, failingSince: number): TxCommand => ({
      type: 'participantFailing',
      txId,
      participant,
      error: 'down',
      failingSince,
    });
    const since = (txId: string, name: string): number | null | undefined =>
      sm.get(txId)?.participants.find((p) => p.name === name)?.failingSince;
    apply(created('t1', { commitRequested: true, protocol: '3pc' }));
    expect(since('t1', 'a')).toBeNull();
    // precommit failing: the first leader reports at 5_000, the next one (its own count) at 9_000
    apply(failing('t1', 'a', 5_000));
    apply(failing('t1', 'a', 9_000));
    expect(since('t1', 'a')).toBe(5_000);
    expect(sm.failingParticipantCount()).toBe(1);
    // the decision starts phase 2: precommit failures no longer date the run
    apply({ type: 'precommitted', txId: 't1', votes: commitVotes });
    apply(decided('t1', 'commit'));
    expect(since('t1', 'a')).toBeNull();
    expect(sm.failingParticipantCount()).toBe(0);
    apply(failing('t1', 'a', 12_000));
    apply(failing('t1', 'b', 11_000));
    expect([since('t1', 'a'), since('t1', 'b')]).toEqual([12_000, 11_000]);
    expect(sm.failingParticipantCount()).toBe(2);
    apply({ type: 'acknowledged', txId: 't1', participant: 'a' });
    expect(sm.get('t1')?.participants.find((p) => p.name === 'a')).toMatchObject({ lastError: null, failingSince: null });
    expect(sm.failingParticipantCount()).toBe(1);
    // a late report for an acknowledged participant changes nothing
    apply(failing('t1', 'a', 13_000));
    expect(since('t1', 'a')).toBeNull();
    apply({ type: 'acknowledged', txId: 't1', participant: 'b' });
    apply({ type: 'completed', txId: 't1', completedAt: 14_000 });
    expect(sm.failingParticipantCount()).toBe(0);
  });

  it('restores a version 1 snapshot (field maps, ids in finishedOrder, participants without failingSince)', () => {
    // What a node wrote before snapshots became version 2: kept readable, as old data directories hold it.
    const participant = (name: string, extra: Record<string, unknown>) => ({
      name,
      url: `http://127.0.0.1:${name === 'a' ? 1 : 2}`,
      payload: { amount: 5 },
      vote: 'commit',
      acknowledged: true,
      lastError: null,
      ...extra,
    });
    const record = (id: string, seq: number, extra: Record<string, unknown>) => ({
      id,
      seq,
      state: 'committed',
      protocol: '2pc',
      participants: [participant('a', {}), participant('b', {})],
      createdAt: 1_000,
      deadlineAt: 11_000,
      decision: 'commit',
      decisionReason: 'test',
      decidedAt: 2_000,
      completedAt: 3_000,
      idempotencyKey: null,
      requestHash: null,
      ...extra,
    });
    const v1 = {
      version: 1,
      txs: [
        record('t1', 1, {}),
        record('t2', 2, {
          state: 'preparing',
          participants: [
            participant('a', { vote: null, acknowledged: false, lastError: 'down' }),
            participant('b', { vote: null, acknowledged: false }),
          ],
          decision: null,
          decisionReason: null,
          decidedAt: null,
          completedAt: null,
          idempotencyKey: 'k',
          requestHash: 'h',
        }),
      ],
      finishedOrder: ['t1'],
    };
    const copy = createTxStateMachine(config);
    copy.restore(new Packr({ useRecords: false }).pack(v1));
    expect(copy.get('t2')?.participants.map((p) => p.failingSince)).toEqual([null, null]);
    expect(copy.get('t2')?.participants[0]?.lastError).toBe('down');
    expect(copy.findByIdempotencyKey('k', null)?.id).toBe('t2');
    expect(copy.retentionStats()).toEqual({ finishedCount: 1, oldestCompletedAt: 3_000 });
    // A finished one keeps every field the view shows; its payloads are gone (prepare is over).
    const finished = (name: string) => participant(name, { payload: null, failingSince: null, abandoned: null });
    expect(copy.get('t1')).toEqual({ ...record('t1', 1, {}), participants: [finished('a'), finished('b')], principal: null });
    // Rewritten as version 2, and read back to the same table.
    const again = createTxStateMachine(config);
    again.restore(copy.snapshot());
    expect(again.list({ limit: 10 })).toEqual(copy.list({ limit: 10 }));
    expect(Buffer.from(again.snapshot()).equals(Buffer.from(copy.snapshot()))).toBe(true);
  });

  it('keeps a finished transaction in compact form with the same view; payloads go at the decision', () => {
    const sm = createTxStateMachine(config);
    const apply = feeder(sm);
    apply(created('t1', { commitRequested: true, idempotencyKey: 'k', requestHash: 'h', principal: 'payments' }));
    expect(sm.get('t1')?.participants[0]?.payload).toEqual({ amount: 5 });
    apply(decided('t1', 'commit'));
    expect(sm.get('t1')?.participants.map((p) => p.payload)).toEqual([null, null]);
    const beforeCompletion = sm.get('t1')!;
    apply({ type: 'completed', txId: 't1', completedAt: 3_000, acknowledged: ['a', 'b'] });
    const after = sm.get('t1')!;
    expect(after).toEqual({
      ...beforeCompletion,
      state: 'committed',
      completedAt: 3_000,
      participants: beforeCompletion.participants.map((p) => ({ ...p, acknowledged: true })),
    });
    // the snapshot row (version 5): every field of the record, names, urls, reasons and principals
    // as indexes into the shared strings, states and votes as codes, times as offsets
    const snap = unpack(sm.snapshot()) as { version: number; strings: string[]; txs: unknown[][] };
    expect(snap.version).toBe(5);
    expect(snap.strings).toEqual(['a', 'http://127.0.0.1:1', 'b', 'http://127.0.0.1:2', 'test', 'payments']);
    expect(snap.txs[0]).toEqual([
      after.id,
      after.seq, // from 0: the first row
      TX_STATES.indexOf('committed'),
      0, // 2pc
      [0, 1, null, 0, true, null, null, null, 2, 3, null, 0, true, null, null, null],
      1_000, // createdAt, from 0: the first row
      10_000, // deadlineAt - createdAt
      0, // commit
      4, // 'test'
      1_000, // decidedAt - createdAt
      2_000, // completedAt - createdAt
      'k',
      'h',
      5, // 'payments'
    ]);
    // reads are detached copies of the compact row
    after.participants[0]!.vote = 'abort';
    expect(sm.get('t1')?.participants[0]?.vote).toBe('commit');
    // an idempotent replay of the create still finds it and answers with the same record
    expect(apply(created('t9', { commitRequested: true, idempotencyKey: 'k', requestHash: 'h', principal: 'payments' }))).toMatchObject({
      ok: true,
      existed: true,
      tx: { id: 't1', state: 'committed', principal: 'payments' },
    });
    // a finished transaction that still shows an error (aborted while active, with a vote
    // carrying one) does not fit the compact form: it stays a full record, error included
    apply(created('t2'));
    apply({
      type: 'decided',
      txId: 't2',
      decision: 'abort',
      votes: [{ participant: 'a', vote: 'abort', reason: null, error: 'refused' }],
      decidedAt: 2_000,
      reason: 'test',
    });
    apply({ type: 'completed', txId: 't2', completedAt: 4_000 });
    expect(sm.get('t2')).toMatchObject({
      state: 'aborted',
      participants: [
        { name: 'a', vote: 'abort', lastError: 'refused' },
        { name: 'b', vote: null },
      ],
    });
    expect(sm.list({ limit: 10 }).transactions.map((t) => [t.id, t.state])).toEqual([
      ['t1', 'committed'],
      ['t2', 'aborted'],
    ]);
    const restored = createTxStateMachine(config);
    restored.restore(sm.snapshot());
    expect(restored.list({ limit: 10 })).toEqual(sm.list({ limit: 10 }));
  });
});

// ---- determinism: same entries, same bytes --------------------------------------

const ids = ['t1', 't2', 't3'];
const names = ['a', 'b'];
const arbCommand: fc.Arbitrary<TxCommand> = fc.oneof(
  fc
    .record({
      id: fc.constantFrom(...ids),
      key: fc.option(fc.constantFrom('k1', 'k2')),
      hash: fc.constantFrom('h1', 'h2'),
      commit: fc.boolean(),
      p3: fc.boolean(),
    })
    .map(({ id, key, hash, commit, p3 }) =>
      created(id, {
        idempotencyKey: key,
        requestHash: key === null ? null : hash,
        commitRequested: commit,
        protocol: p3 ? '3pc' : '2pc',
        activeMax: 2,
      }),
    ),
  fc.constantFrom(...ids).map((txId): TxCommand => ({ type: 'commitRequested', txId })),
  fc.record({ txId: fc.constantFrom(...ids), p: fc.constantFrom(...names), v: fc.constantFrom('commit' as const, 'abort' as const) }).map(
    ({ txId, p, v }): TxCommand => ({
      type: 'voteRecorded',
      txId,
      participant: p,
      vote: v,
      reason: null,
      error: v === 'abort' ? 'x' : null,
    }),
  ),
  fc.constantFrom(...ids).map((txId): TxCommand => ({ type: 'precommitted', txId, votes: commitVotes })),
  fc
    .record({ txId: fc.constantFrom(...ids), d: fc.constantFrom('commit' as const, 'abort' as const), at: fc.nat(1000) })
    .map(({ txId, d, at }) => decided(txId, d, commitVotes, at)),
  fc
    .record({ txId: fc.constantFrom(...ids), p: fc.constantFrom(...names) })
    .map(({ txId, p }): TxCommand => ({ type: 'acknowledged', txId, participant: p })),
  fc
    .record({ txId: fc.constantFrom(...ids), at: fc.nat(1000), acked: fc.option(fc.subarray([...names, 'stranger'])) })
    .map(
      ({ txId, at, acked }): TxCommand => ({ type: 'completed', txId, completedAt: at, ...(acked !== null && { acknowledged: acked }) }),
    ),
  fc
    .record({ txId: fc.constantFrom(...ids), p: fc.constantFrom(...names) })
    .map(({ txId, p }): TxCommand => ({ type: 'participantFailing', txId, participant: p, error: 'e', failingSince: 1_000 })),
  fc
    .record({ now: fc.nat(2000), ms: fc.nat(1000), max: fc.nat(3) })
    .map(({ now, ms, max }): TxCommand => ({ type: 'gc', now, retainFinishedMs: ms, retainFinishedMax: max })),
);

describe('one-shot decided entries (no created entry before them)', () => {
  const spec = (txId: string, key: string | null = null): OneShotSpec => ({
    txId,
    participants: [
      { name: 'a', url: 'http://127.0.0.1:1', payload: { amount: 5 } },
      { name: 'b', url: 'http://127.0.0.1:2', payload: null },
    ],
    protocol: '2pc',
    createdAt: 1_000,
    deadlineAt: 11_000,
    idempotencyKey: key,
    requestHash: key === null ? null : `hash-${key}`,
    principal: null,
  });
  const commit: Decide = { kind: 'decide', decision: 'commit', votes: commitVotes, reason: 'every participant voted commit' };
  const at = (sm: TxStateMachine, index: number, term: number, cmd: TxCommand): ApplyResult =>
    sm.apply({ index, term, data: encodeCommand(cmd) }) as ApplyResult;

  it('one entry adds the whole record, decided, with the same view a created entry and a decision give', () => {
    const sm = createTxStateMachine(config);
    const r = at(sm, 7, 3, oneShotCommand(oneShotRecord(spec('t1', 'k')), commit, 2_000, 3));
    expect(r.ok).toBe(true);
    const viaCreated = createTxStateMachine(config);
    const feed = feeder(viaCreated);
    feed(created('t1', { idempotencyKey: 'k', requestHash: 'hash-k', commitRequested: true }));
    feed({
      type: 'decided',
      txId: 't1',
      decision: 'commit',
      votes: commitVotes,
      decidedAt: 2_000,
      reason: 'every participant voted commit',
    });
    expect(sm.get('t1')).toEqual({ ...viaCreated.get('t1'), seq: 7 });
    expect(sm.findByIdempotencyKey('k', null)?.id).toBe('t1');
    expect(sm.finishingCount()).toBe(1);
    // and it survives a snapshot
    const restored = createTxStateMachine(config);
    restored.restore(sm.snapshot());
    expect(restored.get('t1')).toEqual(sm.get('t1'));
    expect(restored.findByIdempotencyKey('k', null)?.id).toBe('t1');
  });

  it('is refused in any term but the one its prepare was sent in, on every node alike', () => {
    const sm = createTxStateMachine(config);
    const r = at(sm, 1, 4, oneShotCommand(oneShotRecord(spec('t1')), commit, 2_000, 3));
    expect(r).toMatchObject({ ok: false, code: 'LEADERSHIP_LOST' });
    expect(sm.get('t1')).toBeNull();
  });

  it('one key, one transaction: a second decided entry for the key is refused, and its keyless abort is accepted', () => {
    const sm = createTxStateMachine(config);
    expect(at(sm, 1, 2, oneShotCommand(oneShotRecord(spec('first', 'k')), commit, 2_000, 2)).ok).toBe(true);
    // a retry that started anew under a newer leader, while the first attempt's entry was still on its way
    const second = oneShotCommand(oneShotRecord(spec('second', 'k')), commit, 3_000, 3);
    const refused = at(sm, 2, 3, second);
    expect(refused).toMatchObject({ ok: false, code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(refused.tx?.id).toBe('first');
    expect(sm.get('second')).toBeNull();
    expect(at(sm, 3, 3, keylessAbortCommand(second, 'first', 3_001)).ok).toBe(true);
    expect(sm.get('second')).toMatchObject({ state: 'aborting', decision: 'abort', idempotencyKey: null });
    expect(sm.findByIdempotencyKey('k', null)?.id).toBe('first');
    // a created entry for a key a one-shot transaction holds is the same request replayed, or refused
    expect(feeder(sm)(created('third', { idempotencyKey: 'k', requestHash: 'other' }))).toMatchObject({
      ok: false,
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
  });

  it('refuses a commit without every commit vote, and a 3PC commit (which needs precommitted first)', () => {
    const sm = createTxStateMachine(config);
    const oneVote = { ...commit, votes: commitVotes.slice(0, 1) };
    expect(at(sm, 1, 1, oneShotCommand(oneShotRecord(spec('t1')), oneVote, 2_000, 1))).toMatchObject({ ok: false, code: 'INTERNAL' });
    expect(at(sm, 2, 1, oneShotCommand(oneShotRecord({ ...spec('t2'), protocol: '3pc' }), commit, 2_000, 1))).toMatchObject({
      ok: false,
      code: 'INTERNAL',
    });
    expect(sm.get('t1')).toBeNull();
    expect(sm.get('t2')).toBeNull();
  });

  it('round-trips through msgpack; a malformed record is not a command', () => {
    const cmd = oneShotCommand(oneShotRecord(spec('t1', 'k')), commit, 2_000, 3);
    expect(decodeCommand(encodeCommand(cmd))).toEqual(cmd);
    const bad = { ...cmd, oneShot: { ...cmd.oneShot, preparedTerm: 'three' } };
    expect(decodeCommand(new Packr({ useRecords: false }).pack(bad))).toBeNull();
  });
});

describe('determinism', () => {
  it('the same entries give the same results and snapshot bytes, also across a snapshot', () => {
    fc.assert(
      fc.property(fc.array(arbCommand, { maxLength: 60 }), fc.nat(60), (cmds, cut) => {
        const a = createTxStateMachine(config);
        const b = createTxStateMachine(config);
        const entries = cmds.map((cmd, i) => ({ index: i + 1, term: 1, data: encodeCommand(cmd) }));
        for (const e of entries) expect(b.apply(e)).toEqual(a.apply(e));
        expect(Buffer.from(b.snapshot()).equals(Buffer.from(a.snapshot()))).toBe(true);
        // a node that restores a snapshot mid-way and applies the rest ends identical
        const c = createTxStateMachine(config);
        const d = createTxStateMachine(config);
        const split = Math.min(cut, entries.length);
        for (const e of entries.slice(0, split)) c.apply(e);
        d.restore(c.snapshot());
        for (const e of entries.slice(split)) d.apply(e);
        expect(Buffer.from(d.snapshot()).equals(Buffer.from(a.snapshot()))).toBe(true);
        // invariants: finished ones carry a decision; the first decision stands
        for (const tx of a.list({ limit: 1000 }).transactions) {
          if (tx.state === 'committed' || tx.state === 'aborted') expect(tx.decision).not.toBeNull();
          if (tx.decision !== null) expect(['committing', 'aborting', 'committed', 'aborted']).toContain(tx.state);
        }
      }),
      { numRuns: 300, seed: 42 },
    );
  });
});

describe('completedBatch entries (completion-queue.ts)', () => {
  const completed = (txId: string, completedAt: number): CompletedCommand => ({
    type: 'completed',
    txId,
    completedAt,
    acknowledged: ['a', 'b'],
  });
  /** Three transactions decided (one commit, one abort, one commit with an acknowledged entry), not yet completed. */
  function decidedThree(apply: (c: TxCommand) => ApplyResult): void {
    apply(created('t1', { commitRequested: true }));
    apply(decided('t1', 'commit'));
    apply(created('t2', { commitRequested: true }));
    apply(decided('t2', 'abort'));
    apply(created('t3', { commitRequested: true }));
    apply(decided('t3', 'commit'));
    apply({ type: 'acknowledged', txId: 't3', participant: 'a' });
  }

  it('applies each completion exactly as its own completed entry: same records, same snapshot bytes, one result each in order', () => {
    const one = createTxStateMachine(config);
    const applyOne = feeder(one);
    decidedThree(applyOne);
    const singleTransitions: string[] = [];
    one.onTransition((tx, from) => singleTransitions.push(`${tx.id} ${from}->${tx.state}`));
    const singles = [completed('t1', 5_000), completed('t2', 5_001), completed('t3', 5_002)].map((c) => applyOne(c));
    applyOne({ type: 'gc', now: 5_000, retainFinishedMs: 60_000, retainFinishedMax: 1_000 });

    const many = createTxStateMachine(config);
    const applyMany = feeder(many);
    decidedThree(applyMany);
    const notified: string[] = [];
    many.onChange((txId) => notified.push(txId));
    const transitions: string[] = [];
    many.onTransition((tx, from) => transitions.push(`${tx.id} ${from}->${tx.state}`));
    const batch = applyMany({
      type: 'completedBatch',
      completions: [completed('t1', 5_000), completed('t2', 5_001), completed('t3', 5_002)],
    });
    // The same number of entries, so the same indexes afterwards (seq comes from them).
    applyMany({ type: 'gc', now: 5_000, retainFinishedMs: 60_000, retainFinishedMax: 1_000 });
    applyMany({ type: 'gc', now: 5_000, retainFinishedMs: 60_000, retainFinishedMax: 1_000 });
    applyMany({ type: 'gc', now: 5_000, retainFinishedMs: 60_000, retainFinishedMax: 1_000 });

    expect(isBatchApplyResult(batch)).toBe(true);
    expect(isBatchApplyResult(batch) && batch.items).toEqual(singles);
    expect(notified).toEqual(['t1', 't2', 't3']);
    expect(transitions).toEqual(singleTransitions.slice(0, 3)); // before the gc entries
    expect(transitions).toHaveLength(3);
    for (const id of ['t1', 't2', 't3']) expect(many.get(id)).toEqual(one.get(id));
    expect(['t1', 't2', 't3'].map((id) => many.get(id)?.state)).toEqual(['committed', 'aborted', 'committed']);
    expect(many.finishingCount()).toBe(0);
    expect(many.retentionStats()).toEqual(one.retentionStats());
    expect(Buffer.from(many.snapshot()).equals(Buffer.from(one.snapshot()))).toBe(true);
  });

  it('a refused completion changes nothing and does not stop the others', () => {
    const sm = createTxStateMachine(config);
    const apply = feeder(sm);
    decidedThree(apply);
    const before = sm.get('t2');
    const result = apply({
      type: 'completedBatch',
      completions: [
        completed('t1', 5_000),
        { type: 'completed', txId: 't2', completedAt: 5_001, acknowledged: ['a'] }, // b never acknowledged
        completed('gone', 5_001),
        completed('t3', 5_002),
      ],
    });
    expect(isBatchApplyResult(result)).toBe(true);
    const items = isBatchApplyResult(result) ? result.items : [];
    expect(items.map((r) => (r.ok ? 'ok' : r.code))).toEqual(['ok', 'INTERNAL', 'TX_NOT_FOUND', 'ok']);
    expect(sm.get('t2')).toEqual(before);
    expect(sm.get('t1')?.state).toBe('committed');
    expect(sm.get('t3')?.state).toBe('committed');
    // Completing again is a no-op replay, as for a completed entry.
    const again = apply({ type: 'completedBatch', completions: [completed('t1', 6_000), completed('t3', 6_000)] });
    expect(isBatchApplyResult(again) && again.items.map((r) => r.ok && r.existed)).toEqual([true, true]);
    expect(sm.get('t1')?.completedAt).toBe(5_000);
  });

  it('round-trips through msgpack; the guard refuses an empty one, an oversized one and items that are not completions', () => {
    const cmd: TxCommand = { type: 'completedBatch', completions: [completed('t1', 1), completed('t2', 2)] };
    expect(decodeCommand(encodeCommand(cmd))).toEqual(cmd);
    const raw = (v: unknown): Uint8Array => new Packr({ useRecords: false }).pack(v);
    expect(decodeCommand(raw({ type: 'completedBatch', completions: [] }))).toBeNull();
    expect(decodeCommand(raw({ type: 'completedBatch' }))).toBeNull();
    expect(decodeCommand(raw({ type: 'completedBatch', completions: [{ type: 'commitRequested', txId: 't1' }] }))).toBeNull();
    expect(decodeCommand(raw({ type: 'completedBatch', completions: [{ type: 'completed', txId: 't1' }] }))).toBeNull();
    const many = Array.from({ length: COMPLETIONS_PER_ENTRY_MAX + 1 }, (_, i) => completed(`t${i}`, 1));
    expect(decodeCommand(raw({ type: 'completedBatch', completions: many }))).toBeNull();
    expect(decodeCommand(raw({ type: 'completedBatch', completions: many.slice(1) }))).not.toBeNull();
  });
});
