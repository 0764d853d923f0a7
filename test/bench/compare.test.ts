import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compareReports, figures, renderComparison } from '../../scripts/bench/compare.js';

const load = (name: string): unknown => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
const earlier = load('bench-earlier.json');
const current = load('bench-current.json');

describe('figures', () => {
  it('names every figure of a run, pairs and whole-run peaks included', () => {
    const f = figures(current);
    expect(f.get('tx c=1 tx/s')).toBe(300);
    expect(f.get('tx c=1 p99.9 ms')).toBe(9);
    expect(f.get('tx c=1 acks p99 ms')).toBe(7);
    expect(f.get('writes c=1 p50 ms')).toBe(1.8);
    expect(f.get('etcd put c=1 puts/s')).toBe(450);
    expect(f.get('etcd two-put c=1 p50 ms')).toBe(4.2);
    expect(f.get('writes/etcd put c=1 rate ratio (median of pairs)')).toBe(1.1);
    expect(f.get('ratify tx n1 peak RSS bytes, whole run')).toBe(160_000_000);
    // A skipped failover has no figures, rather than zeros.
    expect(f.has('failover p50 ms')).toBe(false);
  });

  it('reads anything without throwing (an unrelated or broken file has no figures)', () => {
    expect(figures(null).size).toBe(0);
    expect(figures({ tx: { runs: 'no' } }).size).toBe(0);
  });
});

describe('compareReports', () => {
  const rows = compareReports(current, earlier);
  const row = (figure: string) => rows.find((r) => r.figure === figure);

  it('puts each figure beside the earlier run’s with the ratio this / earlier', () => {
    expect(row('etcd put c=1 puts/s')).toEqual({ figure: 'etcd put c=1 puts/s', earlier: 900, current: 450, ratio: 0.5 });
    expect(row('tx c=1 p50 ms')?.ratio).toBeCloseTo(1.2);
    expect(row('tx n1 peak RSS bytes at fill')?.ratio).toBeCloseTo(0.75);
  });

  it('keeps figures only one run has, without a ratio, and gives no ratio against a zero', () => {
    expect(row('failover p50 ms')).toEqual({ figure: 'failover p50 ms', earlier: 400, current: null, ratio: null });
    expect(row('writes/etcd put c=1 rate ratio (median of pairs)')).toEqual({
      figure: 'writes/etcd put c=1 rate ratio (median of pairs)',
      earlier: null,
      current: 1.1,
      ratio: null,
    });
    expect(compareReports(earlier, current).find((r) => r.figure === 'tx disk bytes per tx')?.ratio).toBeNull();
    // This run's figures come first, then those only the earlier run had.
    expect(rows.findIndex((r) => r.figure === 'failover p50 ms')).toBeGreaterThan(
      rows.findIndex((r) => r.figure === 'tx disk bytes per tx'),
    );
  });

  it('prints a table with both values and the ratio', () => {
    const text = renderComparison(rows, 'bench-earlier.json');
    expect(text).toContain('bench-earlier.json');
    expect(text).toMatch(/\| etcd put c=1 puts\/s\s+\|\s+900 \|\s+450 \|\s+0\.50x \|/);
    expect(text).toMatch(/\| failover p50 ms\s+\|\s+400 \|\s+- \|\s+- \|/);
  });
});
