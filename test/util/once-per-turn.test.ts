import { describe, expect, it } from 'vitest';
import { oncePerTurn } from '../../src/util/once-per-turn.js';

describe('oncePerTurn', () => {
  it('runs once for a burst of calls, on a microtask, and again for the next burst', async () => {
    let runs = 0;
    const schedule = oncePerTurn(() => runs++);
    for (let i = 0; i < 10; i++) schedule();
    expect(runs).toBe(0); // deferred, not run inside the burst
    await Promise.resolve();
    expect(runs).toBe(1);
    schedule();
    schedule();
    await Promise.resolve();
    expect(runs).toBe(2);
  });

  it('a call made during the run schedules another run', async () => {
    const order: string[] = [];
    let again = true;
    const schedule = oncePerTurn(() => {
      order.push('run');
      if (again) {
        again = false;
        schedule();
      }
    });
    schedule();
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['run', 'run']);
  });

  it('with setImmediate, runs after the microtasks queued in the same turn', async () => {
    const order: string[] = [];
    const schedule = oncePerTurn(() => order.push('run'), setImmediate);
    schedule();
    void Promise.resolve().then(() => order.push('microtask'));
    schedule();
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['microtask', 'run']);
  });
});
