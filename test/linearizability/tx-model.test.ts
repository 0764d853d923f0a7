// The checker with the transaction model on hand-written histories, one per rule of the
// API: an outcome never changes, a decided commit refuses abort with 409, the answer to
// commit carries the outcome, a created transaction is found, the coordinator may
// decide abort on its own at the deadline, and precommitted exists only in 3PC.
import { describe, expect, it } from 'vitest';
import { checkHistory } from './check.js';
import { txModel, type TxInput, type TxOperation, type TxOutput, type TxPhase } from './tx-model.js';

let nextId = 0;
function op(input: TxInput, output: TxOutput | null, callMs: number, returnMs: number): TxOperation {
  return { id: nextId++, client: 'c', input, output, callMs, returnMs: output === null ? Infinity : returnMs };
}
function view(state: TxPhase, id = 'T1'): TxOutput {
  const outcome =
    state === 'precommitted' || state === 'committing' || state === 'committed'
      ? 'committed'
      : state === 'aborting' || state === 'aborted'
        ? 'aborted'
        : null;
  return { kind: 'view', id, state, outcome };
}
const error = (status: number, code: string): TxOutput => ({ kind: 'error', status, code });
const create = (
  out: TxOutput | null,
  t: [number, number],
  o: { commit?: boolean; protocol?: '2pc' | '3pc'; key?: string } = {},
): TxOperation => op({ op: 'create', key: o.key ?? 'k1', protocol: o.protocol ?? '2pc', commit: o.commit ?? false }, out, ...t);
const commit = (out: TxOutput | null, t: [number, number], id = 'T1'): TxOperation => op({ op: 'commit', key: 'k1', id }, out, ...t);
const abort = (out: TxOutput | null, t: [number, number], id = 'T1'): TxOperation => op({ op: 'abort', key: 'k1', id }, out, ...t);
const get = (out: TxOutput | null, t: [number, number], id = 'T1'): TxOperation => op({ op: 'get', key: 'k1', id }, out, ...t);
const verdict = (h: TxOperation[]): string => checkHistory(txModel, h).verdict;

describe('transaction model', () => {
  it('accepts the one-shot flow and reads of it', () => {
    expect(
      verdict([
        create(view('committing'), [0, 10], { commit: true }),
        get(view('committed'), [11, 12]),
        abort(error(409, 'TX_ALREADY_COMMITTED'), [13, 14]),
      ]),
    ).toBe('yes');
  });

  it('accepts the interactive flow with reads during phase 2 on any node', () => {
    const h = [
      create(view('active'), [0, 1]),
      get(view('active'), [2, 3]),
      commit(view('committing'), [4, 20]),
      get(view('preparing'), [5, 6]),
      get(view('committing'), [21, 22]),
      get(view('committed'), [23, 24]),
    ];
    expect(verdict(h)).toBe('yes');
  });

  it('rejects an outcome that changes', () => {
    expect(
      verdict([create(view('committing'), [0, 10], { commit: true }), get(view('committed'), [11, 12]), get(view('aborted'), [13, 14])]),
    ).toBe('no');
    // In either order, and even concurrently: no single point explains both answers.
    expect(verdict([create(view('active'), [0, 1]), commit(view('committed'), [2, 10]), abort(view('aborting'), [2, 10])])).toBe('no');
  });

  it('rejects a read that goes back from a decided state', () => {
    expect(verdict([create(view('active'), [0, 1]), get(view('committing'), [2, 3]), get(view('preparing'), [4, 5])])).toBe('no');
    expect(verdict([create(view('active'), [0, 1]), get(view('aborted'), [2, 3]), get(view('aborting'), [4, 5])])).toBe('no');
  });

  it('allows the coordinator to abort on its own (the deadline), and then commit answers aborted', () => {
    expect(verdict([create(view('active'), [0, 1]), get(view('aborted'), [5, 6]), commit(view('aborted'), [7, 8])])).toBe('yes');
    // ... but a commit answered committed after a read saw it aborted is a violation.
    expect(verdict([create(view('active'), [0, 1]), get(view('aborting'), [5, 6]), commit(view('committed'), [7, 8])])).toBe('no');
  });

  it('answers abort of a decided commit with 409, and only then', () => {
    expect(
      verdict([create(view('active'), [0, 1]), commit(view('committing'), [2, 3]), abort(error(409, 'TX_ALREADY_COMMITTED'), [4, 5])]),
    ).toBe('yes');
    expect(
      verdict([create(view('active'), [0, 1]), commit(view('aborting'), [2, 3]), abort(error(409, 'TX_ALREADY_COMMITTED'), [4, 5])]),
    ).toBe('no');
    // Racing: the abort lost to the commit decision, which the later read shows.
    expect(
      verdict([create(view('active'), [0, 1]), commit(view('committing'), [2, 10]), abort(error(409, 'TX_ALREADY_COMMITTED'), [3, 9])]),
    ).toBe('yes');
    // An abort that answered 200 decided abort; a later commit cannot answer committed.
    expect(verdict([create(view('active'), [0, 1]), abort(view('aborting'), [2, 3]), commit(view('committed'), [4, 5])])).toBe('no');
  });

  it('requires a decision in the answer to commit', () => {
    expect(verdict([create(view('active'), [0, 1]), commit(view('preparing'), [2, 3])])).toBe('no');
    expect(verdict([create(view('preparing'), [0, 1], { commit: true })])).toBe('no');
  });

  it('finds a created transaction: 404 only before its create may have happened', () => {
    expect(verdict([create(view('active'), [0, 1]), get(error(404, 'TX_NOT_FOUND'), [2, 3])])).toBe('no');
    expect(verdict([create(view('active'), [0, 10]), get(error(404, 'TX_NOT_FOUND'), [2, 3])])).toBe('yes');
    expect(verdict([create(null, [0, 0]), get(error(404, 'TX_NOT_FOUND'), [2, 3]), get(view('active'), [4, 5])])).toBe('yes');
  });

  it('answers a replayed key with the same transaction', () => {
    expect(verdict([create(view('active'), [0, 1]), create(view('active'), [2, 3])])).toBe('yes');
    expect(verdict([create(view('active'), [0, 1]), create(view('active', 'T2'), [2, 3])])).toBe('no');
    // A create whose answer was lost, then a replay that learns the id and the decision.
    expect(
      verdict([create(null, [0, 0], { commit: true }), create(view('aborted'), [5, 6], { commit: true }), get(view('aborted'), [7, 8])]),
    ).toBe('yes');
  });

  it('knows precommitted only in 3PC', () => {
    const h3 = [
      create(view('active'), [0, 1], { protocol: '3pc' }),
      commit(null, [2, 2]),
      get(view('precommitted'), [3, 4]),
      get(view('committed'), [5, 6]),
    ];
    expect(verdict(h3)).toBe('yes');
    const h2 = [create(view('active'), [0, 1]), commit(null, [2, 2]), get(view('precommitted'), [3, 4])];
    expect(verdict(h2)).toBe('no');
    // Precommitted is irrevocable: its outcome is committed already, nothing aborts it after.
    expect(
      verdict([
        create(view('active'), [0, 1], { protocol: '3pc' }),
        commit(null, [2, 2]),
        get(view('precommitted'), [3, 4]),
        get(view('aborting'), [5, 6]),
      ]),
    ).toBe('no');
    expect(
      verdict([
        create(view('active'), [0, 1], { protocol: '3pc' }),
        commit(null, [2, 2]),
        get({ kind: 'view', id: 'T1', state: 'precommitted', outcome: null }, [3, 4]),
      ]),
    ).toBe('no');
    // A client abort at precommitted is refused with TX_PRECOMMITTED, not TX_ALREADY_COMMITTED.
    const pre = [create(view('active'), [0, 1], { protocol: '3pc' }), commit(null, [2, 2]), get(view('precommitted'), [3, 4])];
    expect(verdict([...pre, abort(error(409, 'TX_PRECOMMITTED'), [5, 6]), get(view('committed'), [7, 8])])).toBe('yes');
    expect(verdict([...pre, abort(view('aborting'), [5, 6])])).toBe('no');
  });

  it('reads active only until a commit request may have happened', () => {
    expect(verdict([create(view('active'), [0, 1]), commit(view('committing'), [2, 3]), get(view('active'), [4, 5])])).toBe('no');
    expect(verdict([create(view('active'), [0, 1]), commit(null, [2, 2]), get(view('active'), [4, 5])])).toBe('yes');
  });

  it('rejects a view whose outcome does not match its state', () => {
    const bad: TxOutput = { kind: 'view', id: 'T1', state: 'committing', outcome: null };
    expect(verdict([create(view('active'), [0, 1]), get(bad, [2, 3])])).toBe('no');
  });

  it('checks each transaction apart', () => {
    const r = checkHistory(txModel, [
      create(view('active', 'A'), [0, 1], { key: 'a' }),
      create(view('committing', 'B'), [0, 1], { key: 'b', commit: true }),
    ]);
    expect(r).toMatchObject({ verdict: 'yes', partitions: 2 });
  });
});
