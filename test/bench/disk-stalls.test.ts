import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  blockStatPath,
  DiskStallMonitor,
  parseBlockStat,
  StallDetector,
  summarizePhase,
  type DiskStall,
} from '../../scripts/bench/disk-stalls.js';
import { SlowestSpans } from '../../scripts/bench/slowest-spans.js';

const MS = 1_000_000;

/** A stat line as the kernel writes it: 17 fields, reads in 1, writes in 5, io_ticks in 10, discards 12, flushes 16. */
function statLine(o: { reads?: number; writes?: number; busyMs?: number; discards?: number; flushes?: number }): string {
  const f = new Array<number>(17).fill(0);
  f[0] = o.reads ?? 0;
  f[4] = o.writes ?? 0;
  f[9] = o.busyMs ?? 0;
  f[11] = o.discards ?? 0;
  f[15] = o.flushes ?? 0;
  return `${f.map((v) => String(v).padStart(8)).join(' ')}\n`;
}

describe('parseBlockStat', () => {
  it('counts reads, writes, discards and flushes as completions and reads io_ticks as busy time', () => {
    expect(parseBlockStat(statLine({ reads: 3, writes: 5, discards: 7, flushes: 11, busyMs: 42 }))).toEqual({ completed: 26, busyMs: 42 });
  });

  it('reads the 11 fields of an old kernel and refuses less', () => {
    expect(parseBlockStat('1 0 0 0 2 0 0 0 0 9 0')).toEqual({ completed: 3, busyMs: 9 });
    expect(parseBlockStat('1 0 0 0 2 0')).toBeNull();
    expect(parseBlockStat('')).toBeNull();
    expect(parseBlockStat('a b c d e f g h i j k')).toBeNull();
  });
});

describe('StallDetector', () => {
  it('reports a stretch of readings without a completion in which the device was busy for the threshold or more', () => {
    const d = new StallDetector(20);
    expect(d.sample(0, { completed: 10, busyMs: 100 })).toBeNull();
    // Requests in flight, none completing: readings with the same count say nothing yet.
    for (let t = 2; t < 60; t += 2) expect(d.sample(t * MS, { completed: 10, busyMs: 100 + t })).toBeNull();
    // The stall ends at the last reading that still showed no completion.
    expect(d.sample(60 * MS, { completed: 11, busyMs: 160 })).toEqual<DiskStall>({ startNs: 0, endNs: 58 * MS, busyMs: 58 });
    // Completions every reading: no stall.
    expect(d.sample(62 * MS, { completed: 12, busyMs: 162 })).toBeNull();
  });

  it('does not call an idle device stalled when the sampler itself was held up', () => {
    const d = new StallDetector(20);
    d.sample(0, { completed: 10, busyMs: 100 });
    // 80 ms between readings (the sampler off a core), the device busy for 3 of them.
    expect(d.sample(80 * MS, { completed: 10, busyMs: 103 })).toBeNull();
    expect(d.sample(82 * MS, { completed: 11, busyMs: 104 })).toBeNull();
  });

  it('does not call a busy device stalled when the sampler missed its completions', () => {
    const d = new StallDetector(20);
    d.sample(0, { completed: 10, busyMs: 100 });
    // 100 ms off a core while the device completed 500 requests, busy all along.
    expect(d.sample(100 * MS, { completed: 510, busyMs: 200 })).toBeNull();
    expect(d.sample(102 * MS, { completed: 512, busyMs: 202 })).toBeNull();
  });

  it('does not report a busy stretch shorter than the threshold', () => {
    const d = new StallDetector(20);
    d.sample(0, { completed: 1, busyMs: 0 });
    expect(d.sample(19 * MS, { completed: 2, busyMs: 19 })).toBeNull();
  });
});

describe('SlowestSpans and summarizePhase', () => {
  it('keeps the slowest operations up to its capacity, slowest first', () => {
    const spans = new SlowestSpans(3);
    const durations = [5, 1, 9, 3, 7, 2, 8];
    durations.forEach((d, i) => spans.offer(BigInt(i * 100 * MS), BigInt((i * 100 + d) * MS)));
    expect(spans.count).toBe(3);
    expect(spans.slowest(10).map((s) => (s.endNs - s.startNs) / MS)).toEqual([9, 8, 7]);
    expect(spans.slowest(1).map((s) => (s.endNs - s.startNs) / MS)).toEqual([9]);
  });

  it('matches the heap against a sort over random durations', () => {
    const spans = new SlowestSpans(50);
    const all: number[] = [];
    let seed = 7;
    for (let i = 0; i < 5000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const d = seed % 100_000;
      all.push(d);
      spans.offer(BigInt(i), BigInt(i + d));
    }
    const expected = all.sort((a, b) => b - a).slice(0, 50);
    expect(spans.slowest(50).map((s) => s.endNs - s.startNs)).toEqual(expected);
  });

  it('counts how many of the slowest 1 % and 0.1 % overlapped a stall', () => {
    const spans = new SlowestSpans();
    // 1,000 operations of 1 ms in a row; ten of 50 ms, five of which ran into the stall at 500-600 ms.
    for (let i = 0; i < 990; i++) spans.offer(BigInt(i * MS), BigInt((i + 1) * MS));
    for (let i = 0; i < 5; i++) spans.offer(BigInt((520 + i) * MS), BigInt((570 + i) * MS));
    for (let i = 0; i < 5; i++) spans.offer(BigInt((700 + i) * MS), BigInt((749 + i) * MS));
    const stalls: DiskStall[] = [{ startNs: 500 * MS, endNs: 600 * MS, busyMs: 100 }];
    const s = summarizePhase('254:0', stalls, spans, 1000);
    expect(s).toEqual({
      device: '254:0',
      stalls: 1,
      longestMs: 100,
      stalledMs: 100,
      slowest1: { ops: 10, duringStall: 5 },
      // The single slowest: one of the 50 ms operations in the stall (they are 50, the others 49).
      slowest01: { ops: 1, duringStall: 1 },
    });
    expect(summarizePhase('254:0', [], spans, 1000).slowest1).toEqual({ ops: 10, duringStall: 0 });
  });
});

describe('blockStatPath', () => {
  it('finds no device for a path that does not exist', () => {
    expect(blockStatPath('/nonexistent/ratify')).toBeNull();
  });

  it.runIf(process.platform === 'linux')('names a /sys/dev/block stat file that parses, where the temp folder has a block device', () => {
    const path = blockStatPath(tmpdir());
    if (path === null) return; // tmpfs or an overlay: nothing to sample, and the bench says so.
    expect(path).toMatch(/^\/sys\/dev\/block\/\d+:\d+\/stat$/);
  });
});

describe('DiskStallMonitor', () => {
  let dir: string | null = null;
  let monitor: DiskStallMonitor | null = null;
  afterEach(async () => {
    await monitor?.stop();
    monitor = null;
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
    dir = null;
  });

  // The compiled worker: `npm test` builds first (pretest).
  const workerUrl = pathToFileURL(resolve('dist/scripts/bench/disk-stall-worker.js'));

  it('samples a stat file in its worker and hands the phases the stalls that overlapped them', async () => {
    dir = mkdtempSync(join(tmpdir(), 'ratify-disk-stalls-'));
    const stat = join(dir, 'stat');
    writeFileSync(stat, statLine({ writes: 1, busyMs: 1000 }));
    monitor = DiskStallMonitor.start(dir, workerUrl, stat);
    expect(monitor).not.toBeNull();
    const m = monitor as DiskStallMonitor;
    await m.whenSampling();
    const before = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, 50));
    // The device "busy" for 40 ms with nothing completed, long enough for the worker to read it, then a completion.
    writeFileSync(stat, statLine({ writes: 1, busyMs: 1040 }));
    await new Promise((r) => setTimeout(r, 200));
    writeFileSync(stat, statLine({ writes: 2, busyMs: 1041 }));
    // The worker reports a stall when it reads the completion that ends it.
    await expect.poll(() => m.between(before, process.hrtime.bigint()).length, { timeout: 5000 }).toBe(1);
    const after = process.hrtime.bigint();
    const stalls = m.between(before, after);
    expect(stalls).toHaveLength(1);
    expect(stalls[0]?.busyMs).toBe(40);
    expect(m.between(after, after + 1_000_000_000n)).toEqual([]);
    const spans = new SlowestSpans();
    spans.offer(before, after);
    expect(m.phase(before, after, spans, 1)).toMatchObject({
      device: stat,
      stalls: 1,
      longestMs: 40,
      slowest01: { ops: 1, duringStall: 1 },
    });
    expect(m.failed).toBeNull();
  });

  it('says why it stopped when the stat file goes away, and then reports no phase at all', async () => {
    dir = mkdtempSync(join(tmpdir(), 'ratify-disk-stalls-'));
    monitor = DiskStallMonitor.start(dir, workerUrl, join(dir, 'missing'));
    const m = monitor as DiskStallMonitor;
    // Waiting for the first reading ends with the failure, not never.
    await m.whenSampling();
    expect(m.failed).toMatch(/cannot open .*missing/);
    expect(m.phase(0n, 1n, new SlowestSpans(), 1)).toBeNull();
  });
});
