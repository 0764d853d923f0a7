import { describe, expect, it, vi } from 'vitest';
import { sleep } from '../../src/tx/backoff.js';
import { abortReason, Cancel, onAbort, waiting } from '../../src/util/abort-registry.js';

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

describe('Cancel', () => {
  it('runs every waiter still registered once, with the reason given, and then none again', () => {
    const cancel = new Cancel();
    const reasons: Error[] = [];
    const unregisters = Array.from({ length: 10 }, () => onAbort(cancel, (r) => reasons.push(r)));
    expect(waiting(cancel)).toBe(10);
    for (const u of unregisters.slice(0, 4)) u();
    expect(waiting(cancel)).toBe(6);
    const why = new Error('decided elsewhere');
    expect(cancel.aborted).toBe(false);
    cancel.abort(why);
    expect(cancel.aborted).toBe(true);
    expect(reasons).toHaveLength(6);
    expect(reasons.every((r) => r === why)).toBe(true);
    expect(abortReason(cancel)).toBe(why);
    cancel.abort(new Error('again'));
    expect(reasons).toHaveLength(6);
    expect(waiting(cancel)).toBe(0);
  });

  it('gives an AbortError when aborted without a reason, as an AbortController does', () => {
    const cancel = new Cancel();
    let seen: Error | null = null;
    onAbort(cancel, (r) => {
      seen = r;
    });
    cancel.abort();
    expect(seen).not.toBeNull();
    expect(seen!.name).toBe('AbortError');
    expect(abortReason(cancel).name).toBe('AbortError');
  });

  it('cuts a sleep short, and a sleep that ends leaves no waiter behind', async () => {
    const cancel = new Cancel();
    const t0 = Date.now();
    const long = sleep(60_000, cancel);
    expect(waiting(cancel)).toBe(1);
    cancel.abort();
    await long;
    expect(Date.now() - t0).toBeLessThan(30_000);
    const other = new Cancel();
    await sleep(1, other);
    expect(waiting(other)).toBe(0);
    other.abort();
    await sleep(60_000, other); // already aborted: at once
  });

  it('is cut short by an AbortSignal too', async () => {
    const c = new AbortController();
    const long = sleep(60_000, c.signal);
    c.abort();
    await long;
    expect(waiting(c.signal)).toBe(0);
  });
});

describe('Cancel with waiters that unregister as they run', () => {
  it('still runs every waiter registered when it aborted', () => {
    const cancel = new Cancel();
    const ran: number[] = [];
    const unregisters: Array<() => void> = [];
    for (let i = 0; i < 5; i++) {
      unregisters.push(
        onAbort(cancel, () => {
          ran.push(i);
          for (const u of unregisters) u(); // a settled call unregisters every abort of its batch
        }),
      );
    }
    cancel.abort();
    expect(ran.sort()).toEqual([0, 1, 2, 3, 4]);
  });
});
