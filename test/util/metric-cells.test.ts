import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { counterCell, counterCellsBy, histogramCell } from '../../src/util/metric-cells.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
// Below, on and above the bounds, and past the last one (only +Inf and the count hold it).
const VALUES = [0, 0.0005, 0.001, 0.002, 0.01, 0.05, 0.1, 0.99, 1, 1.5, 300];

function pair(): { a: Registry; b: Registry; ha: Histogram<'p' | 'call'>; hb: Histogram<'p' | 'call'> } {
  const a = new Registry();
  const b = new Registry();
  const make = (r: Registry): Histogram<'p' | 'call'> =>
    new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['p', 'call'], buckets: BUCKETS, registers: [r] });
  return { a, b, ha: make(a), hb: make(b) };
}

describe('histogramCell', () => {
  it('exposes exactly what observe(labels, v) exposes', async () => {
    const { a, b, ha, hb } = pair();
    const cells = { x: histogramCell(hb, { p: 'x', call: 'prepare' }), y: histogramCell(hb, { call: 'commit', p: 'y' }) };
    for (const v of VALUES) {
      ha.observe({ p: 'x', call: 'prepare' }, v);
      cells.x(v);
      ha.observe({ p: 'y', call: 'commit' }, v * 2);
      cells.y(v * 2);
    }
    expect(await b.metrics()).toBe(await a.metrics());
    expect(await b.metrics()).toContain('h_seconds_count{p="x",call="prepare"} 11');
  });

  it('adds to a series that observe() made first, and observe() adds to a cell-made one', async () => {
    const { a, b, ha, hb } = pair();
    hb.observe({ p: 'x', call: 'prepare' }, 0.5);
    const cell = histogramCell(hb, { p: 'x', call: 'prepare' });
    cell(0.002);
    hb.observe({ p: 'x', call: 'prepare' }, 0.003);
    for (const v of [0.5, 0.002, 0.003]) ha.observe({ p: 'x', call: 'prepare' }, v);
    expect(await b.metrics()).toBe(await a.metrics());
  });

  it('counts into the live series after reset(), remove() and zero()', async () => {
    const { a, b, ha, hb } = pair();
    const labels = { p: 'x', call: 'commit' } as const;
    const cell = histogramCell(hb, labels);
    cell(0.05);
    hb.reset();
    cell(0.005);
    hb.remove(labels);
    cell(0.2);
    hb.zero(labels);
    cell(2);
    ha.observe(labels, 2);
    expect(await b.metrics()).toBe(await a.metrics());
  });

  it('refuses a value that is not a finite number, as observe() does', () => {
    const { hb } = pair();
    const cell = histogramCell(hb, { p: 'x', call: 'abort' });
    expect(() => cell(Number.NaN)).toThrow(TypeError);
    expect(() => hb.observe({ p: 'x', call: 'abort' }, Number.NaN)).toThrow(TypeError);
  });

  it('works on a histogram without labels', async () => {
    const a = new Registry();
    const b = new Registry();
    const ha = new Histogram({ name: 'n', help: 'n', buckets: BUCKETS, registers: [a] });
    const hb = new Histogram({ name: 'n', help: 'n', buckets: BUCKETS, registers: [b] });
    const cell = histogramCell(hb, {});
    for (const v of VALUES) {
      ha.observe(v);
      cell(v);
    }
    expect(await b.metrics()).toBe(await a.metrics());
  });
});

describe('counterCell', () => {
  it('exposes exactly what inc(labels, by) exposes, across a reset', async () => {
    const a = new Registry();
    const b = new Registry();
    const ca = new Counter({ name: 'c_total', help: 'c', labelNames: ['result'], registers: [a] });
    const cb = new Counter({ name: 'c_total', help: 'c', labelNames: ['result'], registers: [b] });
    const ok = counterCell(cb, { result: 'ok' });
    const byResult = counterCellsBy(cb, 'result');
    for (let i = 0; i < 5; i++) {
      ok();
      ca.inc({ result: 'ok' });
      byResult('lost');
      ca.inc({ result: 'lost' });
    }
    ok(2.5);
    ca.inc({ result: 'ok' }, 2.5);
    expect(await b.metrics()).toBe(await a.metrics());
    expect(await b.metrics()).toContain('c_total{result="ok"} 7.5');
    cb.reset();
    ca.reset();
    byResult('ok');
    ca.inc({ result: 'ok' });
    expect(await b.metrics()).toBe(await a.metrics());
    expect(() => ok(-1)).toThrow(RangeError);
  });
});
