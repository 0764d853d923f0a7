// CodedColumn: a chunk's column of repeating values as 16-bit codes into a table.
import { describe, expect, it } from 'vitest';
import { CodedColumn } from '../../src/tx/coded-column.js';

describe('CodedColumn', () => {
  it('reads back every value set, null for a slot never set or set to null', () => {
    const c = new CodedColumn<string>(8);
    c.set(0, 'all voted commit');
    c.set(1, 'timeout');
    c.set(2, null);
    c.set(3, 'all voted commit');
    expect([0, 1, 2, 3, 4].map((i) => c.get(i))).toEqual(['all voted commit', 'timeout', null, 'all voted commit', null]);
    expect(c.distinct).toBe(2);
  });

  it('tells strings apart by value and objects by identity, as a Map does', () => {
    const c = new CodedColumn<readonly string[]>(4);
    const a = Object.freeze(['bank', 'http://127.0.0.1:1']);
    const b = Object.freeze(['bank', 'http://127.0.0.1:1']);
    c.set(0, a);
    c.set(1, b);
    c.set(2, a);
    expect(c.get(0)).toBe(a);
    expect(c.get(1)).toBe(b);
    expect(c.get(2)).toBe(a);
    expect(c.distinct).toBe(2);
  });

  it('takes as many distinct values as it has slots, and no set() once sealed', () => {
    const slots = 4096;
    const c = new CodedColumn<string>(slots);
    for (let i = 0; i < slots; i++) c.set(i, `reason ${i}`);
    for (let i = 0; i < slots; i += 511) expect(c.get(i)).toBe(`reason ${i}`);
    expect(c.distinct).toBe(slots);
    c.seal();
    expect(c.get(4095)).toBe('reason 4095');
    expect(() => c.set(0, 'late')).toThrow(/sealed/);
  });

  it('refuses a size its 16-bit codes cannot index', () => {
    expect(() => new CodedColumn(0)).toThrow(RangeError);
    expect(() => new CodedColumn(65_536)).toThrow(RangeError);
    expect(new CodedColumn(65_535).get(65_534)).toBeNull();
  });
});
