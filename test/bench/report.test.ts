import { describe, expect, it } from 'vitest';
import { stats } from '../../scripts/bench/failover.js';
import { buildTables, computeGoals, renderReport } from '../../scripts/bench/report.js';
import type { FailoverKill } from '../../scripts/bench/results.js';
import { sampleReport, series } from './fixtures.js';

describe('computeGoals', () => {
  it('checks each goal (README, Performance) against the measured sections', () => {
    const goals = computeGoals(sampleReport());
    const byName = Object.fromEntries(goals.map((g) => [g.name, g]));
    expect(byName['replicated writes/s vs etcd puts/s']).toMatchObject({ met: true, actual: 'worst 1.20x at c=1' });
    expect(byName['2-participant tx/s at c=64']).toMatchObject({ met: true, actual: '19,200/s' });
    expect(byName['failover p50 after leader SIGKILL']).toMatchObject({ met: true, actual: '700 ms (max 1,300 ms)' });
    expect(byName['peak RSS per node with 100,000 finished tx']).toMatchObject({ met: true });
  });

  it('reports a miss, and "not measured" when a section did not run', () => {
    const r = sampleReport();
    const slow = {
      ...r,
      writes: { ...r.writes, runs: [{ concurrency: 64, writes: series(10, 1, 1), nodes: [] }] },
      tx: {
        ...r.tx,
        runs: [],
        finishedTx: 5_000,
        nodes: [{ id: 'n1', peakRssBytes: 300 * 1024 * 1024, rssBytes: 100 * 1024 * 1024, diskBytes: 0 }],
      },
      failover: { ...r.failover, kills: [], p50Ms: null, maxMs: null },
    };
    const goals = computeGoals(slow);
    expect(goals.slice(0, 4).map((g) => g.met)).toEqual([false, null, null, false]);
    expect(goals[0]?.actual).toMatch(/at c=64/);
  });

  it('reads the memory goal as 200,000,000 bytes, not 200 MiB', () => {
    const r = sampleReport();
    const withPeak = (mib: number) => ({ ...r.tx, nodes: [{ id: 'n1', peakRssBytes: mib * 1024 * 1024, rssBytes: 0, diskBytes: 0 }] });
    expect(computeGoals({ ...r, tx: withPeak(190.5) })[3]).toMatchObject({ met: true, target: '< 200 MB (190.7 MiB)' });
    expect(computeGoals({ ...r, tx: withPeak(191) })[3]?.met).toBe(false);
  });

  it('does not pass the memory goal below the transaction count it names', () => {
    const r = sampleReport();
    const goals = computeGoals({ ...r, tx: { ...r.tx, finishedTx: 50_000 } });
    expect(goals[3]?.met).toBeNull();
  });

  it('fails the failover goal when a kill never recovered at the median', () => {
    const r = sampleReport();
    const kills: FailoverKill[] = [
      { killed: 'n1', newLeader: null, recoveryMs: null, failedRequests: 3 },
      { killed: 'n2', newLeader: null, recoveryMs: null, failedRequests: 3 },
    ];
    const goals = computeGoals({ ...r, failover: { ...r.failover, kills, ...stats(kills) } });
    expect(goals[2]).toMatchObject({ met: false, actual: 'no recovery observed' });
  });
});

describe('failover stats', () => {
  const kill = (recoveryMs: number | null): FailoverKill => ({ killed: 'n1', newLeader: 'n2', recoveryMs, failedRequests: 0 });
  it('takes the nearest-rank median and the maximum', () => {
    expect(stats([kill(900), kill(300), kill(500)])).toEqual({ p50Ms: 500, maxMs: 900 });
    expect(stats([kill(300), kill(500)])).toEqual({ p50Ms: 300, maxMs: 500 });
    expect(stats([])).toEqual({ p50Ms: null, maxMs: null });
  });
  it('counts a kill that never recovered as slower than all others', () => {
    expect(stats([kill(300), kill(null), kill(400)])).toEqual({ p50Ms: 400, maxMs: null });
    expect(stats([kill(null), kill(null), kill(400)])).toEqual({ p50Ms: null, maxMs: null });
  });
});

describe('renderReport', () => {
  it('prints every concurrency row with ratify/etcd ratios', () => {
    const r = sampleReport();
    const text = renderReport({ ...r, goals: computeGoals(r) });
    expect(text).toContain('| 64   |');
    // writes at c=16: 1200*4 vs 1000*4 puts
    expect(text).toMatch(/\| 16 +\| +4,800 \|.*\| +1\.20x \|/);
    expect(text).toContain('etcd 3.4.23');
    expect(text).toContain('### Goals\n');
    // Disk per transaction: 60 MiB / 120,000 for ratify, 64 MiB / 100,000 pairs for etcd.
    expect(text).toMatch(/\| ratify tx n1 +\| +150\.0 MiB \| +100\.0 MiB \| +60\.0 MiB \| +524 B \|/);
    // The bounds table: machine CPU 97, leader CPU 30+c, busiest follower 25, leader counters.
    expect(text).toMatch(/\| tx +\| +64 \| +97 \| +94 \| +25 \| +500 \| +1\.50 \| +2\.00 \| +4\.00 \| +3\.00 \| +0\.800 \| +1\.20 \|/);
    expect(text).toMatch(/\| etcd e1 +\| +60\.0 MiB \| +100\.0 MiB \| +64\.0 MiB \| +671 B \|/);
    // How each restarted node caught up: from the log, by a snapshot, or unknown (an older run).
    expect(text).toMatch(/\| 1 +\| +n1 \| +n2 \| +450 \| +16 \| +log \|/);
    expect(text).toMatch(/\| 2 +\| +n2 \| +n3 \| +700 \| +12 \| +snapshot \(1\) \|/);
    expect(text).toMatch(/\| 3 +\| +n3 \| +n1 \| +1,300 \| +20 \| +- \|/);
  });

  it('shows the reason of a skipped section and dashes for its cells', () => {
    const r = sampleReport({
      etcd: { status: 'skipped', reason: 'etcd-server is not installed', version: null, runs: [], nodes: [], txWritten: 0 },
    });
    const text = renderReport({ ...r, goals: computeGoals(r) });
    expect(text).toContain('(etcd baseline skipped: etcd-server is not installed)');
    const writes = buildTables(r)[1];
    expect(writes?.rows[0]?.slice(-2)).toEqual(['-', '-']);
  });
});
