// @ts-check
// A small SVG line chart for the dashboard: a time axis over the last minutes,
// one y axis from 0, gaps where a window has no value. No library: the page has
// two charts of a few hundred points, redrawn every refresh.
import { el } from './format.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
const WIDTH = 600;
const HEIGHT = 180;
const MARGIN = { left: 44, right: 8, top: 8, bottom: 20 };
const Y_TICKS = 4;
const X_TICKS_MAX = 6;
const X_STEPS_MS = [10_000, 15_000, 30_000, 60_000, 120_000, 300_000];

/**
 * @typedef {{ x: number, y: number | null }} Point
 * @typedef {{ key: string, label: string, points: Point[] }} Series
 * @typedef {{ series: Series[], xMinMs: number, xMaxMs: number, unit: string }} ChartSpec
 */

/**
 * Draws the chart into `container` (its children are replaced): the SVG, then a legend.
 * Each series' path carries data-series and data-points (how many points it has a value for).
 * @param {HTMLElement} container
 * @param {ChartSpec} spec
 */
export function drawLineChart(container, spec) {
  const svg = svgEl('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': container.dataset['title'] ?? 'chart' });
  const values = spec.series.flatMap((s) => s.points.map((p) => p.y)).filter(/** @returns {y is number} */ (y) => y !== null);
  const yMax = niceCeiling(Math.max(0, ...values));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const xSpan = Math.max(1, spec.xMaxMs - spec.xMinMs);
  /** @param {number} x */
  const px = (x) => MARGIN.left + ((x - spec.xMinMs) / xSpan) * plotW;
  /** @param {number} y */
  const py = (y) => MARGIN.top + plotH - (y / yMax) * plotH;

  for (let i = 0; i <= Y_TICKS; i++) {
    const y = (yMax * i) / Y_TICKS;
    svg.append(svgEl('line', { class: 'grid', x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: py(y), y2: py(y) }));
    svg.append(svgText(tickLabel(y), { class: 'tick', x: MARGIN.left - 4, y: py(y) + 3, 'text-anchor': 'end' }));
  }
  // Time ticks labelled by how long ago, at most X_TICKS_MAX of them.
  const step = X_STEPS_MS.find((s) => xSpan / s <= X_TICKS_MAX) ?? X_STEPS_MS[X_STEPS_MS.length - 1] ?? 60_000;
  for (let ago = 0; spec.xMaxMs - ago >= spec.xMinMs; ago += step) {
    const x = px(spec.xMaxMs - ago);
    svg.append(svgEl('line', { class: 'grid', x1: x, x2: x, y1: MARGIN.top, y2: MARGIN.top + plotH }));
    svg.append(svgText(agoLabel(ago), { class: 'tick', x, y: HEIGHT - 6, 'text-anchor': 'middle' }));
  }
  for (const s of spec.series) {
    const d = pathOf(s.points, px, py);
    const points = s.points.filter((p) => p.y !== null).length;
    svg.append(svgEl('path', { class: `line series-${s.key}`, d, 'data-series': s.key, 'data-points': points }));
  }
  const legend = el('ul', { class: 'legend' });
  for (const s of spec.series) {
    const last = [...s.points].reverse().find((p) => p.y !== null);
    legend.append(
      el(
        'li',
        { class: `series-${s.key}` },
        el('span', { class: 'swatch' }),
        `${s.label}: ${last?.y === undefined || last.y === null ? '–' : tickLabel(last.y)} ${spec.unit}`,
      ),
    );
  }
  container.replaceChildren(svg, legend);
  if (values.length === 0) container.append(el('p', { class: 'muted empty' }, 'No data in this window yet.'));
}

/**
 * An SVG path through the points, broken where a value is missing.
 * @param {Point[]} points
 * @param {(x: number) => number} px
 * @param {(y: number) => number} py
 * @returns {string}
 */
export function pathOf(points, px, py) {
  let d = '';
  let pen = false;
  for (const p of points) {
    if (p.y === null) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`;
    pen = true;
  }
  return d;
}

/**
 * The smallest of 1, 2, 2.5, 5 times a power of ten that is at least `v` (at least 1).
 * @param {number} v
 * @returns {number}
 */
export function niceCeiling(v) {
  if (!(v > 1)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * -45s, -1m, -1m30s; "now" for 0.
 * @param {number} ms
 * @returns {string}
 */
export function agoLabel(ms) {
  if (ms === 0) return 'now';
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `-${m > 0 ? `${m}m` : ''}${s > 0 ? `${s}s` : ''}`;
}

/** @param {number} v */
function tickLabel(v) {
  if (v >= 10_000) return `${Number((v / 1000).toFixed(1))}k`;
  if (v >= 100 || Number.isInteger(v)) return String(Math.round(v));
  return v.toFixed(1);
}

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attrs
 * @returns {SVGElement}
 */
function svgEl(tag, attrs) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/**
 * @param {string} text
 * @param {Record<string, string | number>} attrs
 */
function svgText(text, attrs) {
  const t = svgEl('text', attrs);
  t.textContent = text;
  return t;
}
