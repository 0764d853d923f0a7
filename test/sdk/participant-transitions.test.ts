// The whole call-by-state table of transitions.ts, checked directly.
import { describe, expect, it } from 'vitest';
import { assertTransition, fenceTerm, planCall } from '../../src/sdk/participant/transitions.js';
import type { CallPath, ParticipantTxRecord, ParticipantTxState } from '../../src/sdk/participant/types.js';

function rec(
  state: ParticipantTxState,
  vote: ParticipantTxRecord['vote'] = state === 'preparing' ? null : 'commit',
  reason: string | null = null,
): ParticipantTxRecord {
  return { txId: 't', participant: 'p', state, protocol: '2pc', payload: null, vote, reason, preparedTerm: 1, updatedAtMs: 0 };
}

type Row = [string, ParticipantTxRecord | undefined, CallPath, string];
const table: Row[] = [
  ['none', undefined, 'prepare', 'run-prepare'],
  ['none', undefined, 'precommit', 'refuse:TX_NOT_FOUND'],
  ['none', undefined, 'commit', 'refuse:TX_NOT_FOUND'],
  ['none', undefined, 'abort', 'record-abort'],
  ['preparing', rec('preparing'), 'prepare', 'abort-interrupted'],
  ['preparing', rec('preparing'), 'precommit', 'refuse:TX_NOT_FOUND'],
  ['preparing', rec('preparing'), 'commit', 'refuse:TX_NOT_FOUND'],
  ['preparing', rec('preparing'), 'abort', 'run-abort'],
  ['prepared', rec('prepared'), 'prepare', 'reply-vote:commit'],
  ['prepared', rec('prepared'), 'precommit', 'run-precommit'],
  ['prepared', rec('prepared'), 'commit', 'run-commit'],
  ['prepared', rec('prepared'), 'abort', 'run-abort'],
  ['precommitted', rec('precommitted'), 'prepare', 'reply-vote:commit'],
  ['precommitted', rec('precommitted'), 'precommit', 'ack'],
  ['precommitted', rec('precommitted'), 'commit', 'run-commit'],
  ['precommitted', rec('precommitted'), 'abort', 'run-abort'],
  ['committed', rec('committed'), 'prepare', 'reply-vote:commit'],
  ['committed', rec('committed'), 'precommit', 'ack'],
  ['committed', rec('committed'), 'commit', 'ack'],
  ['committed', rec('committed'), 'abort', 'refuse:TX_ALREADY_COMMITTED'],
  ['aborted', rec('aborted', 'abort', 'no'), 'prepare', 'reply-vote:abort'],
  ['aborted', rec('aborted'), 'precommit', 'refuse:TX_ALREADY_ABORTED'],
  ['aborted', rec('aborted'), 'commit', 'refuse:TX_ALREADY_ABORTED'],
  ['aborted', rec('aborted'), 'abort', 'ack'],
];

describe('planCall', () => {
  it.each(table)('%s + %s -> %s', (_s, record, path, expected) => {
    const plan = planCall(record, path);
    const summary =
      plan.kind === 'refuse' ? `refuse:${plan.code}` : plan.kind === 'reply-vote' ? `reply-vote:${plan.vote.vote}` : plan.kind;
    expect(summary).toBe(expected);
  });

  it('logs every refusal as a protocol violation, a precommit after an abort included (the SDK never aborts on its own after voting commit)', () => {
    const refusals = table.flatMap(([state, record, path]) => {
      const plan = planCall(record, path);
      return plan.kind === 'refuse' ? [[`${state} + ${path}`, plan.violation]] : [];
    });
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals.filter(([, violation]) => !violation)).toEqual([]);
    expect(refusals.map(([row]) => row)).toContain('aborted + precommit');
  });

  it('replays the recorded abort reason', () => {
    expect(planCall(rec('aborted', 'abort', 'no funds'), 'prepare')).toEqual({
      kind: 'reply-vote',
      vote: { vote: 'abort', reason: 'no funds' },
    });
  });
});

describe('fenceTerm', () => {
  it('refuses a call from a term lower than one seen, and raises the term otherwise', () => {
    expect(fenceTerm(5, 4)).toBeNull();
    expect(fenceTerm(5, 5)).toBe(5);
    expect(fenceTerm(5, 9)).toBe(9);
    expect(fenceTerm(0, 0)).toBe(0);
  });
});

describe('assertTransition', () => {
  it('allows the edges of the diagram and throws on any other', () => {
    expect(() => assertTransition('none', 'preparing', 't')).not.toThrow();
    expect(() => assertTransition('prepared', 'committed', 't')).not.toThrow();
    expect(() => assertTransition('committed', 'aborted', 't')).toThrow(/illegal participant transition committed -> aborted/);
    expect(() => assertTransition('aborted', 'committed', 't')).toThrow();
    expect(() => assertTransition('none', 'committed', 't')).toThrow();
    expect(() => assertTransition('preparing', 'precommitted', 't')).toThrow();
  });
});
