// A hand-written SVG chart (no plotting dependency): throughput as grouped bars
// per concurrency on the left, latency p50 bars with p99 whiskers on a log
// scale on the right, and failover/memory notes underneath.
import type { BenchReport } from './results.js';

export interface ChartPoint {
  readonly concurrency: number;
  readonly ratePerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface ChartSeries {
  readonly name: string;
  readonly color: string;
  readonly points: readonly ChartPoint[];
}

export interface Chart {
  readonly title: string;
  readonly series: readonly ChartSeries[];
  readonly footer: readonly string[];
}

const WIDTH = 1000;
const PANEL = { top: 70, height: 300, left1: 70, left2: 570, width: 390 };
const LOG_MIN_MS = 0.1;

export function renderSvg(chart: Chart): string {
  const concs = [...new Set(chart.series.flatMap((s) => s.points.map((p) => p.concurrency)))].sort((a, b) => a - b);
  const footerTop = PANEL.top + PANEL.height + 70;
  const height = footerTop + 20 * chart.footer.length + 20;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    text(WIDTH / 2, 24, chart.title, { size: 16, anchor: 'middle', weight: 'bold' }),
    legend(chart.series),
    throughputPanel(chart.series, concs),
    latencyPanel(chart.series, concs),
    ...chart.footer.map((line, i) => text(PANEL.left1 - 40, footerTop + 20 * i, line, {})),
    '</svg>',
  ];
  return `${parts.join('\n')}\n`;
}

function legend(series: readonly ChartSeries[]): string {
  return series
    .map((s, i) => {
      const x = 70 + i * 220;
      return `<rect x="${x}" y="38" width="12" height="12" fill="${s.color}"/>${text(x + 18, 49, s.name, {})}`;
    })
    .join('\n');
}

function throughputPanel(series: readonly ChartSeries[], concs: readonly number[]): string {
  const maxRate = niceCeiling(Math.max(1, ...series.flatMap((s) => s.points.map((p) => finiteOr(p.ratePerSec, 0)))));
  const y = (v: number): number => PANEL.top + PANEL.height - (v / maxRate) * PANEL.height;
  const ticks = [0, 0.2, 0.4, 0.6, 0.8, 1].map((f) => f * maxRate);
  const out = [axes(PANEL.left1, 'operations / s (higher is better)'), ...ticks.map((t) => gridLine(PANEL.left1, y(t), fmtTick(t)))];
  out.push(
    ...groupedBars(series, concs, PANEL.left1, (p) => {
      const v = finiteOr(p.ratePerSec, 0);
      return { top: y(v), bottom: y(0), whiskerTop: null };
    }),
  );
  return out.join('\n');
}

function latencyPanel(series: readonly ChartSeries[], concs: readonly number[]): string {
  const all = series.flatMap((s) => s.points.flatMap((p) => [p.p50Ms, p.p99Ms])).filter((v) => Number.isFinite(v) && v > 0);
  const maxExp = Math.ceil(Math.log10(Math.max(1, ...all)));
  const minExp = Math.log10(LOG_MIN_MS);
  const y = (ms: number): number => {
    const e = Math.log10(Math.max(LOG_MIN_MS, ms));
    return PANEL.top + PANEL.height - ((e - minExp) / (maxExp - minExp)) * PANEL.height;
  };
  const out = [axes(PANEL.left2, 'latency ms, log scale: bar p50, whisker p99 (lower is better)')];
  for (let e = minExp; e <= maxExp + 1e-9; e++) out.push(gridLine(PANEL.left2, y(10 ** e), fmtTick(10 ** e)));
  out.push(
    ...groupedBars(series, concs, PANEL.left2, (p) => ({
      top: y(finiteOr(p.p50Ms, LOG_MIN_MS)),
      bottom: y(LOG_MIN_MS),
      whiskerTop: Number.isFinite(p.p99Ms) ? y(p.p99Ms) : null,
    })),
  );
  return out.join('\n');
}

interface BarGeometry {
  readonly top: number;
  readonly bottom: number;
  readonly whiskerTop: number | null;
}

function groupedBars(
  series: readonly ChartSeries[],
  concs: readonly number[],
  left: number,
  geo: (p: ChartPoint) => BarGeometry,
): string[] {
  const out: string[] = [];
  const groupWidth = PANEL.width / Math.max(1, concs.length);
  const barWidth = Math.max(4, (groupWidth * 0.8) / Math.max(1, series.length));
  concs.forEach((c, gi) => {
    const groupLeft = left + gi * groupWidth + groupWidth * 0.1;
    out.push(text(left + gi * groupWidth + groupWidth / 2, PANEL.top + PANEL.height + 18, `concurrency ${c}`, { anchor: 'middle' }));
    series.forEach((s, si) => {
      const p = s.points.find((x) => x.concurrency === c);
      if (p === undefined) return;
      const g = geo(p);
      const x = groupLeft + si * barWidth;
      out.push(
        `<rect x="${n(x)}" y="${n(g.top)}" width="${n(barWidth - 2)}" height="${n(Math.max(0, g.bottom - g.top))}" fill="${s.color}"/>`,
      );
      if (g.whiskerTop !== null) {
        const mid = x + (barWidth - 2) / 2;
        out.push(`<line x1="${n(mid)}" y1="${n(g.top)}" x2="${n(mid)}" y2="${n(g.whiskerTop)}" stroke="#333" stroke-width="1"/>`);
        out.push(
          `<line x1="${n(mid - 3)}" y1="${n(g.whiskerTop)}" x2="${n(mid + 3)}" y2="${n(g.whiskerTop)}" stroke="#333" stroke-width="1"/>`,
        );
      }
    });
  });
  return out;
}

function axes(left: number, label: string): string {
  const bottom = PANEL.top + PANEL.height;
  return [
    `<line x1="${left}" y1="${PANEL.top}" x2="${left}" y2="${bottom}" stroke="#000"/>`,
    `<line x1="${left}" y1="${bottom}" x2="${left + PANEL.width}" y2="${bottom}" stroke="#000"/>`,
    text(left + PANEL.width / 2, bottom + 40, label, { anchor: 'middle' }),
  ].join('\n');
}

function gridLine(left: number, y: number, label: string): string {
  return `<line x1="${left}" y1="${n(y)}" x2="${left + PANEL.width}" y2="${n(y)}" stroke="#e0e0e0"/>${text(left - 6, y + 4, label, { anchor: 'end' })}`;
}

function text(x: number, y: number, s: string, o: { size?: number; anchor?: string; weight?: string }): string {
  const attrs = [`x="${n(x)}"`, `y="${n(y)}"`];
  if (o.size !== undefined) attrs.push(`font-size="${o.size}"`);
  if (o.anchor !== undefined) attrs.push(`text-anchor="${o.anchor}"`);
  if (o.weight !== undefined) attrs.push(`font-weight="${o.weight}"`);
  return `<text ${attrs.join(' ')}>${escapeXml(s)}</text>`;
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The smallest 1, 2 or 5 times a power of ten that is >= v. */
export function niceCeiling(v: number): number {
  if (!(v > 0)) return 1;
  const pow = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * pow >= v) return m * pow;
  return 10 * pow;
}

function fmtTick(v: number): string {
  if (v >= 1000) return `${(v / 1000).toLocaleString('en-US', { maximumFractionDigits: 1 })}k`;
  return String(Number(v.toPrecision(3)));
}

function n(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v * 10) / 10) : '0';
}

function finiteOr(v: number, fallback: number): number {
  return Number.isFinite(v) ? v : fallback;
}

/** The benchmark's chart: four series, plus failover and memory lines. */
export function chartFromReport(r: BenchReport): Chart {
  const pt = (concurrency: number, s: { ratePerSec: number; latency: { p50Ms: number; p99Ms: number } }): ChartPoint => ({
    concurrency,
    ratePerSec: s.ratePerSec,
    p50Ms: s.latency.p50Ms,
    p99Ms: s.latency.p99Ms,
  });
  const series: ChartSeries[] = [
    { name: 'ratify 2PC tx (2 participants)', color: '#1f77b4', points: r.tx.runs.map((x) => pt(x.concurrency, x.tx)) },
    { name: 'etcd tx-shaped (2 puts)', color: '#aec7e8', points: r.etcd.runs.map((x) => pt(x.concurrency, x.tx)) },
    { name: 'ratify replicated writes', color: '#d62728', points: r.writes.runs.map((x) => pt(x.concurrency, x.writes)) },
    { name: 'etcd puts', color: '#ff9896', points: r.etcd.runs.map((x) => pt(x.concurrency, x.puts)) },
  ].filter((s) => s.points.length > 0);
  const footer = [
    `Machine: ${r.machine.cpus} x ${r.machine.cpuModel}, ${r.machine.os}, node ${r.machine.node}, etcd ${r.etcd.version ?? 'not run'}. Run ${r.startedAt}.`,
    ...r.goals.map((g) => `${g.name}: ${g.actual} (target ${g.target}) ${g.met === null ? '' : g.met ? '- met' : '- MISSED'}`),
  ];
  return { title: 'Ratify vs etcd 3.4, 3 nodes on loopback', series, footer };
}
