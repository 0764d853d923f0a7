import { describe, expect, it } from 'vitest';
import { promiseOf } from '../../src/util/promise-of.js';

describe('promiseOf', () => {
  it("gives the call's own promise, and a synchronous throw as a rejection, never a throw", async () => {
    const p = Promise.resolve(7);
    expect(promiseOf(() => p)).toBe(p);
    const boom = new Error('cannot encode');
    let result: Promise<number> | null = null;
    expect(() => {
      result = promiseOf<number>(() => {
        throw boom;
      });
    }).not.toThrow();
    await expect(result).rejects.toBe(boom);
  });
});
