// The chaos library's pure pieces: option parsing and validation, the
// failover statistics and the progress line.
import { describe, expect, it } from 'vitest';
import { failoverStats, type FaultEvent } from '../../scripts/chaos/faults.js';
import { parseChaosArgs } from '../../scripts/chaos/options.js';
import { formatProgress, kvProgress, txProgress } from '../../scripts/chaos/progress.js';

describe('parseChaosArgs', () => {
  it('parses the documented flags', () => {
    const p = parseChaosArgs([
      '--target',
      'compose',
      '--seed',
      '9',
      '--duration',
      '30',
      '--faults',
      'kill,partition',
      '--concurrency',
      '4',
    ]);
    expect(p.kind).toBe('options');
    if (p.kind !== 'options') return;
    expect(p.options).toMatchObject({ target: 'compose', seed: 9, durationS: 30, faults: ['kill', 'partition'], concurrency: 4 });
  });

  it('parses the 3PC workload and the freeze fault (local target only)', () => {
    const p = parseChaosArgs(['--seed', '1', '--protocol', '3pc', '--faults', 'freeze,pause', '--participant-3pc-timeout-ms', '1500']);
    expect(p.kind === 'options' && p.options).toMatchObject({
      protocol: '3pc',
      faults: ['freeze', 'pause'],
      participantThreePcTimeoutMs: 1500,
    });
    const bad = parseChaosArgs(['--target', 'compose', '--faults', 'freeze', '--protocol', 'xa', '--participant-3pc-timeout-ms', '5']);
    expect(bad.kind).toBe('invalid');
    if (bad.kind !== 'invalid') return;
    expect(bad.errors).toContain('fault freeze is not available with --target compose (available: kill,pause,restart,partition)');
    expect(bad.errors).toContain('protocol (xa) must be one of mix, 2pc, 3pc');
    expect(bad.errors).toContain('participantThreePcTimeoutMs (5) must be an integer between 100 and 600000');
  });

  it('defaults the faults to what the target supports, freeze left out', () => {
    const local = parseChaosArgs(['--seed', '1']);
    const compose = parseChaosArgs(['--seed', '1', '--target', 'compose']);
    expect(local.kind === 'options' && local.options.faults).toEqual(['kill', 'pause', 'restart', 'churn']);
    expect(compose.kind === 'options' && compose.options.faults).toEqual(['kill', 'pause', 'restart', 'partition']);
  });

  it('parses the workload and linearizability flags, and keeps kv to the local target', () => {
    const p = parseChaosArgs([
      '--state-machine',
      'kv',
      '--kv-keys',
      '4',
      '--lin-steps-max',
      '5000',
      '--interactive-share',
      '0.5',
      '--abort-share',
      '1',
      '--readers',
      '0',
    ]);
    expect(p.kind === 'options' && p.options).toMatchObject({
      stateMachine: 'kv',
      kvKeys: 4,
      linStepsMax: 5000,
      interactiveShare: 0.5,
      abortShare: 1,
      readers: 0,
    });
    const bad = parseChaosArgs(['--state-machine', 'kv', '--target', 'compose', '--abort-share', '2']);
    expect(bad.kind === 'invalid' && bad.errors).toEqual([
      'abortShare (2) must be between 0 and 1',
      '--state-machine kv needs --target local (the compose project runs the transaction coordinator)',
    ]);
    const unknown = parseChaosArgs(['--state-machine', 'sql']);
    expect(unknown.kind === 'invalid' && unknown.errors[0]).toBe('--state-machine (sql) must be one of tx, kv');
  });

  it('names the value and the limit of what is wrong', () => {
    const p = parseChaosArgs(['--faults', 'partition,bogus', '--concurrency', '0', '--duration', 'x']);
    expect(p.kind).toBe('invalid');
    if (p.kind !== 'invalid') return;
    expect(p.errors).toContain('--faults: unknown fault bogus (known: kill,pause,restart,partition,churn,freeze)');
    expect(p.errors).toContain('concurrency (0) must be an integer between 1 and 256');
    expect(p.errors).toContain('--duration (x) must be a number');
    expect(p.errors).toContain('fault partition is not available with --target local (available: kill,pause,restart,churn,freeze)');
    // The PRNG takes any safe integer; a chaos run's printed seed is kept non-negative.
    const negative = parseChaosArgs(['--seed=-1']);
    expect(negative.kind === 'invalid' && negative.errors).toEqual(['seed (-1) must be a non-negative integer']);
  });
});

describe('failoverStats', () => {
  const fault = (atMs: number, wasLeader: boolean): FaultEvent => ({
    kind: 'kill',
    node: 'n1',
    wasLeader,
    atMs,
    plannedMs: 1000,
    quorumLost: false,
    healedAtMs: atMs + 1000,
    error: null,
  });
  const commit = (decidedAtMs: number, endedAtMs: number) => ({ apiOutcome: 'committed', decidedAtMs, endedAtMs });

  it('measures from a leader fault to the first answer of a transfer decided after it', () => {
    const stats = failoverStats(
      [fault(1_000, true), fault(5_000, true), fault(6_000, false), fault(20_000, true)],
      [
        commit(900, 1_200), // decided before the fault: does not count, however late its answer
        commit(1_800, 2_000),
        commit(1_900, 1_950),
        commit(5_100, 5_400),
        { apiOutcome: 'aborted', decidedAtMs: 5_050, endedAtMs: 5_060 },
      ],
    );
    expect(stats.samplesMs).toEqual([950, 400]);
    expect(stats).toMatchObject({ leaderFaults: 3, unobserved: 1, p50Ms: 400, maxMs: 950 });
  });
});

describe('formatProgress', () => {
  it('shows rate, counts, faults and the leader', () => {
    const history: { atMs: number; finished: number }[] = [];
    const counts = { attempted: 0, committed: 0, aborted: 0, unknown: 0, rejected: 0, inFlight: 0 };
    const base = { ...txProgress(counts), faults: { kill: 0 }, leader: null, down: [], phase: 'faults' };
    formatProgress({ ...base, elapsedMs: 0 }, history);
    const line = formatProgress(
      {
        ...base,
        ...txProgress({ ...counts, attempted: 22, committed: 18, aborted: 2 }),
        elapsedMs: 2_000,
        faults: { kill: 1 },
        leader: 'n2',
        down: ['n1:killed'],
      },
      history,
    );
    expect(line).toContain('10.0 tx/s');
    expect(line).toContain('committed 18 aborted 2 unknown 0');
    expect(line).toContain('kills 1');
    expect(line).toContain('leader n2');
    expect(line).toContain('down n1:killed');
  });

  it('counts KV operations in ops/s', () => {
    const history: { atMs: number; finished: number }[] = [];
    const base = { faults: {}, leader: 'n1', down: [], phase: 'faults' };
    formatProgress({ ...base, ...kvProgress({ puts: 0, putsOk: 0, gets: 0, getsOk: 0, unknown: 0, inFlight: 0 }), elapsedMs: 0 }, history);
    const line = formatProgress(
      { ...base, ...kvProgress({ puts: 12, putsOk: 10, gets: 30, getsOk: 30, unknown: 2, inFlight: 3 }), elapsedMs: 4_000 },
      history,
    );
    expect(line).toContain('10.0 ops/s');
    expect(line).toContain('puts 10 gets 30 unknown 2');
  });
});
