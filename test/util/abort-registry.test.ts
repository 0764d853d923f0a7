import { describe, expect, it, vi } from 'vitest';
import { abortReason, onAbort } from '../../src/util/abort-registry.js';

describe('abort registry', () => {
  it('puts one listener on a signal for any number of waiters, and runs every waiter still registered once', () => {
    const controller = new AbortController();
    const add = vi.spyOn(controller.signal, 'addEventListener');
    const reasons: Error[] = [];
    const unregisters = Array.from({ length: 100 }, () => onAbort(controller.signal, (r) => reasons.push(r)));
    expect(add).toHaveBeenCalledTimes(1);
    for (const u of unregisters.slice(0, 40)) u();
    const why = new Error('term ended');
    controller.abort(why);
    expect(reasons).toHaveLength(60);
    expect(reasons.every((r) => r === why)).toBe(true);
    controller.abort(new Error('again'));
    expect(reasons).toHaveLength(60);
  });

  it('keeps the waiters of different signals apart', () => {
    const a = new AbortController();
    const b = new AbortController();
    const fired: string[] = [];
    onAbort(a.signal, () => fired.push('a'));
    onAbort(b.signal, () => fired.push('b'));
    a.abort();
    expect(fired).toEqual(['a']);
  });

  it('gives an AbortError when the signal was aborted without an Error', () => {
    const c = new AbortController();
    c.abort('not an error');
    const reason = abortReason(c.signal);
    expect(reason.name).toBe('AbortError');
    const d = new AbortController();
    const e = new Error('why');
    d.abort(e);
    expect(abortReason(d.signal)).toBe(e);
  });
});
