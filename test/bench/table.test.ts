import { describe, expect, it } from 'vitest';
import { fmtBytes, fmtMs, fmtRate, fmtRatio, renderTable } from '../../scripts/bench/table.js';

describe('renderTable', () => {
  it('pads columns to the widest cell and right-aligns numbers', () => {
    const out = renderTable({
      title: 'T',
      headers: ['conc', 'tx/s'],
      rows: [
        ['1', '950'],
        ['64', '12,345'],
      ],
    });
    expect(out.split('\n')).toEqual(['### T', '', '| conc |   tx/s |', '|:-----|-------:|', '| 1    |    950 |', '| 64   | 12,345 |']);
  });

  it('honours explicit alignment', () => {
    const out = renderTable({ title: 'T', headers: ['a', 'b'], rows: [['x', 'y']], align: ['right', 'left'] });
    expect(out).toContain('|----:|:----|');
    expect(out).toContain('|   x | y   |');
  });

  it('rejects a row with the wrong number of cells', () => {
    expect(() => renderTable({ title: 'Bad', headers: ['a', 'b'], rows: [['1']] })).toThrow(/row has 1 cells, table "Bad" has 2 columns/);
  });
});

describe('number formatting', () => {
  it('formats rates, milliseconds, ratios and bytes', () => {
    expect(fmtRate(1234.6)).toBe('1,235');
    expect(fmtRate(Number.NaN)).toBe('-');
    expect(fmtRate(undefined)).toBe('-');
    expect(fmtMs(0.8123)).toBe('0.812');
    // biome-ignore lint/suspicious/noApproximativeNumericConstant: a number with more digits than the format keeps
    expect(fmtMs(3.14159)).toBe('3.14');
    expect(fmtMs(42.42)).toBe('42.4');
    expect(fmtMs(1234.4)).toBe('1,234');
    expect(fmtMs(null)).toBe('-');
    expect(fmtRatio(3000, 1500)).toBe('2.00x');
    expect(fmtRatio(3000, 0)).toBe('-');
    expect(fmtRatio(undefined, 10)).toBe('-');
    expect(fmtBytes(512)).toBe('512 B');
    expect(fmtBytes(1536)).toBe('1.5 KiB');
    expect(fmtBytes(150 * 1024 * 1024)).toBe('150.0 MiB');
    expect(fmtBytes(3 * 1024 ** 3)).toBe('3.00 GiB');
  });
});
