import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PendingProposals, type ProposalOutcome } from '../../src/node/pending-proposals.js';
import type { RatifyError } from '../../src/errors.js';

describe('PendingProposals: one timer for every waiter', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const make = () => {
    const outcomes: ProposalOutcome[] = [];
    const p = new PendingProposals(
      100,
      (o) => outcomes.push(o),
      () => Date.now(),
    );
    return { p, outcomes };
  };
  const settled = (promise: Promise<unknown>) => {
    const state: { value?: unknown; error?: RatifyError } = {};
    promise.then(
      (v) => {
        state.value = v;
      },
      (e: RatifyError) => {
        state.error = e;
      },
    );
    return state;
  };

  it('times each waiter out at its own deadline, whatever order they were added in, and no sooner', async () => {
    const { p, outcomes } = make();
    const long = settled(p.add(1, 1, 1_000));
    const short = settled(p.add(2, 1, 100));
    const mid = settled(p.add(3, 1, 500));
    const applied = settled(p.add(4, 1, 100));
    p.applied(4, 1, 'ok-4');
    await vi.advanceTimersByTimeAsync(99);
    expect(short.error).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(short.error?.code).toBe('TIMEOUT');
    expect(short.error?.message).toContain('proposal at index 2 was not applied within 100 ms');
    expect(mid.error).toBeUndefined();
    await vi.advanceTimersByTimeAsync(400);
    expect(mid.error?.code).toBe('TIMEOUT');
    expect(long.error).toBeUndefined();
    p.applied(1, 1, 'ok-1');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(long.value).toBe('ok-1');
    expect(applied.value).toBe('ok-4');
    expect(outcomes).toEqual(['ok', 'timeout', 'timeout', 'ok']);
    expect(p.size).toBe(0);
  });

  it('keeps timing out waiters added after the timer was armed, with shorter timeouts than the ones before', async () => {
    const { p } = make();
    const first = settled(p.add(1, 1, 10_000));
    await vi.advanceTimersByTimeAsync(5_000);
    const later = settled(p.add(2, 1, 50));
    await vi.advanceTimersByTimeAsync(50);
    expect(later.error?.code).toBe('TIMEOUT');
    expect(first.error).toBeUndefined();
    await vi.advanceTimersByTimeAsync(4_950);
    expect(first.error?.code).toBe('TIMEOUT');
  });

  it('leaves no timer armed once nothing waits, and none after a shutdown', async () => {
    const { p, outcomes } = make();
    const a = settled(p.add(1, 1, 100));
    p.applied(1, 2, null); // another term at that index: lost
    await vi.advanceTimersByTimeAsync(0);
    expect(a.error?.code).toBe('LEADERSHIP_LOST');
    await vi.advanceTimersByTimeAsync(200);
    expect(vi.getTimerCount()).toBe(0);
    const b = settled(p.add(2, 1, 100));
    expect(vi.getTimerCount()).toBe(1);
    p.rejectAllShutdown();
    await vi.advanceTimersByTimeAsync(0);
    expect(b.error?.code).toBe('SHUTTING_DOWN');
    expect(vi.getTimerCount()).toBe(0);
    expect(outcomes).toEqual(['lost', 'shutdown']);
  });
});
