// When a node takes its local snapshot: once per threshold entries, at a phase
// of its own, so the nodes of a cluster do not all serialize at once.
import { describe, expect, it } from 'vitest';
import { BackgroundSnapshots, snapshotPhaseEntries } from '../../src/node/background-snapshots.js';

/** Applies entries in Ready batches of `batch` and returns the applied indexes at which a snapshot was due (each taken at once). */
function snapshotPoints(s: BackgroundSnapshots, upTo: number, batch: number, start = 0): number[] {
  const points: number[] = [];
  let snap = start;
  for (let applied = start + batch; applied <= upTo; applied += batch) {
    if (!s.due(applied, snap)) continue;
    points.push(applied);
    snap = applied;
  }
  return points;
}

describe('BackgroundSnapshots.due', () => {
  it('with phase 0 snapshots at every multiple of the threshold (the old rule on aligned batches)', () => {
    expect(snapshotPoints(new BackgroundSnapshots(100), 500, 10)).toEqual([100, 200, 300, 400, 500]);
  });

  it('shifts the points by the phase, the first one included', () => {
    expect(snapshotPoints(new BackgroundSnapshots(100, 40), 500, 10)).toEqual([60, 160, 260, 360, 460]);
  });

  it('keeps one snapshot per threshold when Ready batches do not land on the points', () => {
    const points = snapshotPoints(new BackgroundSnapshots(1000, 333), 20_000, 16);
    expect(points).toHaveLength(20);
    for (const [i, p] of points.entries()) {
      expect(p).toBeGreaterThanOrEqual(667 + i * 1000);
      expect(p).toBeLessThan(667 + i * 1000 + 16);
    }
  });

  it('waits half a threshold after a snapshot installed just before a point', () => {
    const s = new BackgroundSnapshots(100);
    expect(s.due(101, 95)).toBe(false);
    expect(s.due(144, 95)).toBe(false);
    expect(s.due(145, 95)).toBe(true); // past the point at 100, half a threshold after 95
    expect(s.due(145, 100)).toBe(false); // the snapshot at 100 took that point
  });

  it('never starts a second snapshot while one is written or not yet handed over', () => {
    const s = new BackgroundSnapshots(10);
    expect(s.due(10, 0)).toBe(true);
    s.started({ meta: { index: 10, term: 1, members: [] } });
    expect(s.due(30, 0)).toBe(false);
    const stored = { byteLength: 2, subarray: (b: number, e: number) => new Uint8Array([7, 8]).subarray(b, e) };
    s.written(stored);
    expect(s.due(30, 0)).toBe(false);
    const durable = s.takeDurable(0);
    expect(durable?.meta.index).toBe(10);
    // What the storage gave back: the bytes went to it as they were encoded.
    expect(durable?.data).toBe(stored);
    expect(s.due(30, 10)).toBe(true);
  });

  it('refuses a phase outside the threshold', () => {
    expect(() => new BackgroundSnapshots(100, 100)).toThrow(RangeError);
    expect(() => new BackgroundSnapshots(100, -1)).toThrow(RangeError);
  });
});

describe('snapshotPhaseEntries', () => {
  it('spreads the configured voters evenly over one threshold, by sorted id', () => {
    const ids = ['n3', 'n1', 'n2'];
    expect(ids.map((id) => snapshotPhaseEntries(10_000, id, ids))).toEqual([6666, 0, 3333]);
  });

  it('gives the three nodes of a cluster points a third of a threshold apart (after the first threshold)', () => {
    const ids = ['a', 'b', 'c'];
    const points = ids.map((id) => snapshotPoints(new BackgroundSnapshots(9000, snapshotPhaseEntries(9000, id, ids)), 40_000, 8));
    // Before it, a fresh node's first snapshot waits half a threshold, which can bring two closer.
    const all = points
      .flat()
      .filter((p) => p >= 9000)
      .sort((x, y) => x - y);
    expect(all.length).toBeGreaterThanOrEqual(9);
    for (let i = 1; i < all.length; i++) expect((all[i] ?? 0) - (all[i - 1] ?? 0)).toBeGreaterThanOrEqual(2990);
  });

  it('gives 0 to a node not among the configured members', () => {
    expect(snapshotPhaseEntries(10_000, 'n9', ['n1', 'n2'])).toBe(0);
  });
});
