// Plain-text tables in Markdown pipe syntax: readable in a terminal and
// pasteable into the README's Performance section as they are.

export type Align = 'left' | 'right';

export interface Table {
  readonly title: string;
  readonly headers: readonly string[];
  readonly rows: ReadonlyArray<readonly string[]>;
  /** Per column; defaults to left for the first column and right for the rest (numbers). */
  readonly align?: readonly Align[];
}

export function renderTable(t: Table): string {
  const columns = t.headers.length;
  for (const row of t.rows) {
    if (row.length !== columns) throw new RangeError(`row has ${row.length} cells, table "${t.title}" has ${columns} columns`);
  }
  const align = (i: number): Align => t.align?.[i] ?? (i === 0 ? 'left' : 'right');
  const widths = t.headers.map((h, i) => Math.max(3, h.length, ...t.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => pad(c, widths[i] ?? 0, align(i))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (align(i) === 'right' ? `${'-'.repeat(w + 1)}:` : `:${'-'.repeat(w + 1)}`)).join('|')}|`;
  return [`### ${t.title}`, '', line(t.headers), rule, ...t.rows.map(line)].join('\n');
}

function pad(s: string, width: number, align: Align): string {
  return align === 'right' ? s.padStart(width) : s.padEnd(width);
}

/** Rates: whole numbers with thousands separators ("12,345"); "-" when absent. */
export function fmtRate(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  return Math.round(v).toLocaleString('en-US');
}

/** Milliseconds with three significant digits at most ("0.812", "12.3", "1,204"). */
export function fmtMs(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  if (v < 1) return v.toFixed(3);
  if (v < 10) return v.toFixed(2);
  if (v < 100) return v.toFixed(1);
  return Math.round(v).toLocaleString('en-US');
}

export function fmtRatio(num: number | null | undefined, den: number | null | undefined): string {
  if (num === null || num === undefined || den === null || den === undefined || !(den > 0) || !Number.isFinite(num)) return '-';
  return `${(num / den).toFixed(2)}x`;
}

export function fmtBytes(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  if (v < 1024) return `${Math.round(v)} B`;
  if (v < 1024 * 1024) return `${(v / 1024).toFixed(1)} KiB`;
  if (v < 1024 ** 3) return `${(v / 1024 ** 2).toFixed(1)} MiB`;
  return `${(v / 1024 ** 3).toFixed(2)} GiB`;
}
