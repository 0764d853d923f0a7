import { describe, expect, it } from 'vitest';
import { computeGoals } from '../../scripts/bench/report.js';
import { chartFromReport, escapeXml, niceCeiling, renderSvg } from '../../scripts/bench/svg.js';
import { sampleReport } from './fixtures.js';

/** Every opening tag is closed or self-closed, in order: enough to catch broken markup. */
function tagsBalance(svg: string): boolean {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m;
    if (selfClosing === '/') continue;
    if (closing === '/') {
      if (stack.pop() !== name) return false;
    } else stack.push(name ?? '');
  }
  return stack.length === 0;
}

describe('renderSvg', () => {
  it('draws a bar per series and concurrency, with balanced markup and no NaN', () => {
    const r = sampleReport();
    const svg = renderSvg(chartFromReport({ ...r, goals: computeGoals(r) }));
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(tagsBalance(svg)).toBe(true);
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
    // 4 series x 3 concurrencies, in two panels, plus 4 legend swatches and the background.
    expect(svg.match(/<rect /g)?.length).toBe(4 * 3 * 2 + 4 + 1);
    expect(svg).toContain('concurrency 64');
    expect(svg).toContain('etcd puts');
  });

  it('escapes text taken from the machine and leaves out series that did not run', () => {
    const r = sampleReport({ etcd: { status: 'skipped', reason: 'x', version: null, runs: [], nodes: [], txWritten: 0 } });
    const svg = renderSvg(chartFromReport(r));
    expect(svg).toContain('Test CPU &lt;fast&gt; &amp; cheap');
    expect(svg).not.toContain('etcd puts');
    expect(tagsBalance(svg)).toBe(true);
  });

  it('survives a run that measured nothing', () => {
    const r = sampleReport({
      etcd: { status: 'skipped', reason: 'x', version: null, runs: [], nodes: [], txWritten: 0 },
      writes: { status: 'failed', reason: 'x', path: null, runs: [], nodes: [] },
      tx: { status: 'failed', reason: 'x', runs: [], finishedTx: 0, nodes: [], diskBytesPerTx: null },
    });
    const svg = renderSvg(chartFromReport(r));
    expect(tagsBalance(svg)).toBe(true);
    expect(svg).not.toMatch(/NaN|Infinity/);
  });
});

describe('helpers', () => {
  it('rounds axis maxima up to 1, 2 or 5 times a power of ten', () => {
    expect(niceCeiling(0)).toBe(1);
    expect(niceCeiling(7)).toBe(10);
    expect(niceCeiling(1500)).toBe(2000);
    expect(niceCeiling(4200)).toBe(5000);
    expect(niceCeiling(5000)).toBe(5000);
  });
  it('escapes XML', () => {
    expect(escapeXml('a<b & "c">')).toBe('a&lt;b &amp; &quot;c&quot;&gt;');
  });
});
