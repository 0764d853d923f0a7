// Recording for the linearizability check: monotonic times, unknown answers at infinity,
// calls still open counted as unknown, and which client errors settle a transaction call.
import { describe, expect, it } from 'vitest';
import { RatifyClientError } from '../../src/sdk/client-error.js';
import { HistoryRecorder } from '../../scripts/chaos/history.js';
import { errorOutput, viewOutput } from '../../scripts/chaos/tx-history.js';

describe('HistoryRecorder', () => {
  it('records input, answer and times; an unknown answer returns at Infinity; an open call is unknown', async () => {
    const r = new HistoryRecorder<string, string>();
    const endA = r.begin('c1', 'a');
    const endB = r.begin('c2', 'b');
    r.begin('c3', 'still open');
    endA('answer');
    endB(null);
    const h = r.history();
    expect(h.map((o) => [o.id, o.client, o.input, o.output])).toEqual([
      [0, 'c1', 'a', 'answer'],
      [1, 'c2', 'b', null],
      [2, 'c3', 'still open', null],
    ]);
    expect(h[0]!.returnMs).toBeGreaterThanOrEqual(h[0]!.callMs);
    expect(h[0]!.returnMs).not.toBe(Infinity);
    expect(h[1]!.returnMs).toBe(Infinity);
    expect(h[2]!.returnMs).toBe(Infinity);
  });

  it('wraps a call: its value through answer(), a throw through failure() and rethrown', async () => {
    const r = new HistoryRecorder<string, string>();
    expect(
      await r.record(
        'c',
        'ok',
        async () => 42,
        (v) => `got ${v}`,
        () => null,
      ),
    ).toBe(42);
    await expect(
      r.record(
        'c',
        'bad',
        async () => Promise.reject(new Error('boom')),
        () => 'x',
        (e) => `failed ${(e as Error).message}`,
      ),
    ).rejects.toThrow('boom');
    expect(r.history().map((o) => o.output)).toEqual(['got 42', 'failed boom']);
  });
});

describe('transaction answers', () => {
  const err = (status: number, code: string) => new RatifyClientError(code, code, { status, node: 'http://n1' });

  it('keeps a view, 404 TX_NOT_FOUND, 409 TX_ALREADY_COMMITTED and 409 TX_PRECOMMITTED as definite answers', () => {
    expect(viewOutput({ id: 't', state: 'committing', outcome: 'committed' })).toEqual({
      kind: 'view',
      id: 't',
      state: 'committing',
      outcome: 'committed',
    });
    expect(errorOutput(err(404, 'TX_NOT_FOUND'))).toEqual({ kind: 'error', status: 404, code: 'TX_NOT_FOUND' });
    expect(errorOutput(err(409, 'TX_ALREADY_COMMITTED'))).toEqual({ kind: 'error', status: 409, code: 'TX_ALREADY_COMMITTED' });
    expect(errorOutput(err(409, 'TX_PRECOMMITTED'))).toEqual({ kind: 'error', status: 409, code: 'TX_PRECOMMITTED' });
  });

  it('counts everything else as unknown: the call may still take effect', () => {
    for (const e of [
      err(503, 'LEADERSHIP_LOST'),
      err(503, 'NO_LEADER'),
      err(504, 'TIMEOUT'),
      err(429, 'TOO_MANY_PENDING'),
      err(0, 'UNREACHABLE'),
      new Error('socket hang up'),
    ]) {
      expect(errorOutput(e)).toBeNull();
    }
  });
});
