// Hand-made benchmark results for the report, chart and goal tests.
import type { PhaseDiskStalls } from '../../scripts/bench/disk-stalls.js';
import type { LatencySummary } from '../../scripts/bench/histogram.js';
import type { NodePhaseStats } from '../../scripts/bench/node-stats.js';
import type { BenchReport, Series } from '../../scripts/bench/results.js';

export function latency(p50Ms: number, p99Ms: number): LatencySummary {
  return { count: 100, minMs: p50Ms / 2, meanMs: p50Ms, p50Ms, p90Ms: p99Ms * 0.8, p99Ms, p999Ms: p99Ms * 1.5, maxMs: p99Ms * 2 };
}

/** A phase's disk-stall summary: no stall, one slowest operation of each share, unless overridden. */
export function phaseDiskStalls(overrides: Partial<PhaseDiskStalls> = {}): PhaseDiskStalls {
  return {
    device: '254:0',
    stalls: 0,
    longestMs: 0,
    stalledMs: 0,
    slowest1: { ops: 1, duringStall: 0 },
    slowest01: { ops: 1, duringStall: 0 },
    ...overrides,
  };
}

export function series(ratePerSec: number, p50Ms: number, p99Ms: number): Series {
  return {
    ok: ratePerSec * 10,
    errors: 0,
    errorKinds: {},
    elapsedMs: 10_000,
    ratePerSec,
    latency: latency(p50Ms, p99Ms),
    machineCpuPercent: 97,
  };
}

function nodeStats(c: number): NodePhaseStats[] {
  const base = {
    cpuPercent: 40,
    fsyncsPerSec: 500,
    entriesPerFsync: 1.5,
    meanFsyncMs: 2,
    entriesPerOp: 4,
    fsyncsPerOp: 3,
    cpuMsPerOp: 0.8,
    envelopesPerOp: 1.2,
    participantRequestsPerOp: 0.5,
  };
  return [
    { ...base, id: 'n1', leader: true, cpuPercent: 30 + c },
    { ...base, id: 'n2', leader: false, cpuPercent: 20 },
    { ...base, id: 'n3', leader: false, cpuPercent: 25 },
  ];
}

export function sampleReport(overrides: Partial<BenchReport> = {}): BenchReport {
  const base: BenchReport = {
    startedAt: '2025-01-01T00:00:00.000Z',
    finishedAt: '2025-01-01T00:05:00.000Z',
    command: 'npm run bench --',
    machine: {
      cpus: 2,
      cpuModel: 'Test CPU <fast> & cheap',
      memoryBytes: 8 * 1024 ** 3,
      os: 'linux 6',
      node: 'v20.0.0',
      gitCommit: 'abc123',
    },
    options: {},
    etcd: {
      status: 'ok',
      reason: null,
      version: '3.4.23',
      runs: [1, 16, 64].map((c) => ({ concurrency: c, puts: series(1000 * Math.sqrt(c), 1, 5), tx: series(500 * Math.sqrt(c), 2, 9) })),
      nodes: [{ id: 'e1', peakRssBytes: 60 * 1024 * 1024, rssBytes: 100 * 1024 * 1024, diskBytes: 64 * 1024 * 1024 }],
      txWritten: 100_000,
    },
    writes: {
      status: 'ok',
      reason: null,
      path: 'PUT /v1/kv/:key',
      runs: [1, 16, 64].map((c) => ({ concurrency: c, writes: series(1200 * Math.sqrt(c), 0.8, 4), nodes: [] })),
      nodes: [{ id: 'n1', peakRssBytes: 90 * 1024 * 1024, rssBytes: 100 * 1024 * 1024, diskBytes: 10 * 1024 * 1024 }],
    },
    tx: {
      status: 'ok',
      reason: null,
      runs: [1, 16, 64].map((c) => ({
        concurrency: c,
        tx: series(300 * c, 3, 20),
        acks: latency(4, 25),
        acksMissing: 0,
        participantAborts: 0,
        nodes: nodeStats(c),
      })),
      finishedTx: 120_000,
      nodes: ['n1', 'n2', 'n3'].map((id) => ({
        id,
        peakRssBytes: 150 * 1024 * 1024,
        rssBytes: 100 * 1024 * 1024,
        diskBytes: 60 * 1024 * 1024,
      })),
      diskBytesPerTx: 524,
    },
    failover: {
      status: 'ok',
      reason: null,
      concurrency: 16,
      kills: [
        { killed: 'n1', newLeader: 'n2', recoveryMs: 450, failedRequests: 16, restartSnapshotsInstalled: 0 },
        { killed: 'n2', newLeader: 'n3', recoveryMs: 700, failedRequests: 12, restartSnapshotsInstalled: 1 },
        { killed: 'n3', newLeader: 'n1', recoveryMs: 1300, failedRequests: 20 },
      ],
      p50Ms: 700,
      maxMs: 1300,
      peakRssBytes: 180 * 1024 * 1024,
    },
    goals: [],
  };
  return { ...base, ...overrides };
}
