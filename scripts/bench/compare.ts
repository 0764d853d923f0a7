// `npm run bench -- --compare FILE.json`: every figure of this run beside an
// earlier run's (the JSON the benchmark writes to bench-results/), with the ratio
// this/earlier. Pure: the earlier file arrives as unknown (it may come from an
// older version of the benchmark, with fewer fields) and is read through guards.
import { renderTable, type Table } from './table.js';

export interface ComparisonRow {
  readonly figure: string;
  readonly earlier: number | null;
  readonly current: number | null;
  /** current / earlier; null when either is missing or earlier is 0. */
  readonly ratio: number | null;
}

type Json = Record<string, unknown>;

function obj(v: unknown): Json | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : null;
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Reads a path of keys; null as soon as a step is missing. */
function at(root: unknown, ...path: string[]): unknown {
  let cur: unknown = root;
  for (const key of path) {
    const o = obj(cur);
    if (o === null) return null;
    cur = o[key];
  }
  return cur;
}

/** Every figure a report holds, by a stable name, in the order the report prints them. */
export function figures(report: unknown): Map<string, number> {
  const out = new Map<string, number>();
  const put = (name: string, v: unknown): void => {
    const n = num(v);
    if (n !== null) out.set(name, n);
  };
  const series = (prefix: string, s: unknown, rateUnit: string): void => {
    put(`${prefix} ${rateUnit}`, at(s, 'ratePerSec'));
    put(`${prefix} p50 ms`, at(s, 'latency', 'p50Ms'));
    put(`${prefix} p99 ms`, at(s, 'latency', 'p99Ms'));
    put(`${prefix} p99.9 ms`, at(s, 'latency', 'p999Ms'));
  };
  for (const run of arr(at(report, 'tx', 'runs'))) {
    const c = num(at(run, 'concurrency'));
    series(`tx c=${c}`, at(run, 'tx'), 'tx/s');
    put(`tx c=${c} acks p99 ms`, at(run, 'acks', 'p99Ms'));
  }
  for (const run of arr(at(report, 'writes', 'runs'))) series(`writes c=${num(at(run, 'concurrency'))}`, at(run, 'writes'), 'writes/s');
  for (const run of arr(at(report, 'etcd', 'runs'))) {
    const c = num(at(run, 'concurrency'));
    series(`etcd put c=${c}`, at(run, 'puts'), 'puts/s');
    series(`etcd two-put c=${c}`, at(run, 'tx'), 'tx/s');
  }
  for (const [section, what] of [
    ['writes', 'writes/etcd put'],
    ['tx', 'tx/etcd two-put'],
  ] as const) {
    const pairs = at(report, section, 'pairs');
    const c = num(at(pairs, 'concurrency'));
    put(`${what} c=${c} rate ratio (median of pairs)`, at(pairs, 'rateRatio', 'median'));
    put(`${what} c=${c} p50 ratio (median of pairs)`, at(pairs, 'p50Ratio', 'median'));
  }
  put('failover p50 ms', at(report, 'failover', 'p50Ms'));
  put('failover max ms', at(report, 'failover', 'maxMs'));
  put('failover peak RSS bytes', at(report, 'failover', 'peakRssBytes'));
  put('tx finished', at(report, 'tx', 'finishedTx'));
  put('tx disk bytes per tx', at(report, 'tx', 'diskBytesPerTx'));
  for (const n of arr(at(report, 'tx', 'nodes'))) put(`tx ${String(at(n, 'id'))} peak RSS bytes at fill`, at(n, 'peakRssBytes'));
  for (const p of arr(at(report, 'peakRssWholeRun'))) put(`${String(at(p, 'name'))} peak RSS bytes, whole run`, at(p, 'peakRssBytes'));
  return out;
}

/** Rows for every figure either run has: this run's order first, then what only the earlier one had. */
export function compareReports(current: unknown, earlier: unknown): ComparisonRow[] {
  const now = figures(current);
  const before = figures(earlier);
  const names = [...now.keys(), ...[...before.keys()].filter((k) => !now.has(k))];
  return names.map((figure) => {
    const c = now.get(figure) ?? null;
    const e = before.get(figure) ?? null;
    return { figure, earlier: e, current: c, ratio: c === null || e === null || e === 0 ? null : c / e };
  });
}

export function renderComparison(rows: readonly ComparisonRow[], earlierName: string): string {
  const fmt = (v: number | null): string => {
    if (v === null) return '-';
    if (Math.abs(v) >= 1e6) return `${(v / 1048576).toFixed(1)} Mi`;
    return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2);
  };
  const table: Table = {
    title: `This run beside ${earlierName} (ratio = this / earlier; for rates higher is better, for latencies and bytes lower is)`,
    headers: ['figure', 'earlier', 'this run', 'ratio'],
    rows: rows.map((r) => [r.figure, fmt(r.earlier), fmt(r.current), r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`]),
  };
  return renderTable(table);
}
