import { describe, expect, it } from 'vitest';
import { concurrencyList, parseOptions } from '../../scripts/bench/options.js';

describe('parseOptions', () => {
  it('has the documented defaults', () => {
    const o = parseOptions([], {});
    expect(o.durationSec).toBe(10);
    expect(o.concurrency).toEqual([1, 16, 64]);
    expect(o.kills).toBe(3);
    expect(o.fillTx).toBe(100_000);
    expect(o.skipEtcd).toBe(false);
    expect(o.writesPath).toBe('auto');
    expect(o.cliPath).toBeNull();
    expect(o.warmupSec).toBe(1);
    expect(o.primeSec).toBe(5);
  });

  it('passes --node-flag to every node process, in order, and refuses a bare word', () => {
    expect(parseOptions([], {}).nodeFlags).toEqual([]);
    expect(parseOptions(['--node-flag=--single-threaded-gc', '--node-flag=--trace-gc'], {}).nodeFlags).toEqual([
      '--single-threaded-gc',
      '--trace-gc',
    ]);
    expect(() => parseOptions(['--node-flag', 'single-threaded-gc'], {})).toThrow('--node-flag (single-threaded-gc) must be a flag');
  });

  it('--alloc-prof names the folder of the allocation profiles; off by default', () => {
    expect(parseOptions([], {}).allocProfDir).toBeNull();
    expect(parseOptions(['--alloc-prof', '/tmp/alloc'], {}).allocProfDir).toBe('/tmp/alloc');
  });

  it('primes each new cluster for --prime seconds; 0 turns it off', () => {
    expect(parseOptions(['--quick'], {}).primeSec).toBe(2);
    expect(parseOptions(['--prime', '0'], { BENCH_PRIME: '3' }).primeSec).toBe(0);
    expect(parseOptions([], { BENCH_PRIME: '3' }).primeSec).toBe(3);
    expect(() => parseOptions(['--prime=-1'], {})).toThrow('--prime (-1) must be a number between 0 and 600');
  });

  it('shortens everything with --quick, and flags win over the environment', () => {
    const quick = parseOptions(['--quick'], { BENCH_DURATION: '7' });
    expect(quick.durationSec).toBe(7);
    expect(quick.kills).toBe(2);
    expect(quick.fillTx).toBe(0);
    const o = parseOptions(['--duration', '2', '--concurrency', '64,1,1', '--skip-etcd'], {
      BENCH_DURATION: '9',
      BENCH_SKIP_FAILOVER: '1',
    });
    expect(o.durationSec).toBe(2);
    expect(o.concurrency).toEqual([1, 64]);
    expect(o.skipEtcd).toBe(true);
    expect(o.skipFailover).toBe(true);
  });

  it('reads booleans from the environment, treating 0 and false as off', () => {
    expect(parseOptions([], { BENCH_SKIP_ETCD: '0' }).skipEtcd).toBe(false);
    expect(parseOptions([], { BENCH_SKIP_ETCD: 'false' }).skipEtcd).toBe(false);
    expect(parseOptions([], { BENCH_SKIP_ETCD: 'yes' }).skipEtcd).toBe(true);
  });

  it('names the value and the limit when a value is out of range', () => {
    expect(() => parseOptions(['--duration', '0'], {})).toThrow('--duration (0) must be a number between 0.5 and 3600');
    expect(() => parseOptions(['--kills', '2.5'], {})).toThrow('--kills (2.5) must be an integer between 1 and 50');
    expect(() => parseOptions(['--writes-path', 'grpc'], {})).toThrow('--writes-path (grpc) must be one of auto, kv, tx');
    expect(() => concurrencyList('1,0')).toThrow('--concurrency (0) must be an integer between 1 and 1024');
    expect(() => concurrencyList(' , ')).toThrow('must list between 1 and 16 values');
  });

  it('alternates 3 pairs at concurrency 1 by default; --pairs and BENCH_PAIRS change it, within 1-50', () => {
    expect(parseOptions([], {}).pairs).toBe(3);
    expect(parseOptions(['--pairs', '5'], { BENCH_PAIRS: '7' }).pairs).toBe(5);
    expect(parseOptions([], { BENCH_PAIRS: '7' }).pairs).toBe(7);
    expect(() => parseOptions(['--pairs', '0'], {})).toThrow('--pairs (0) must be an integer between 1 and 50');
  });

  it('takes an earlier run to compare with, and etcd’s own check only when asked', () => {
    const o = parseOptions(['--compare', 'bench-results/a.json', '--etcd-check-perf'], {});
    expect(o.compare).toBe('bench-results/a.json');
    expect(o.etcdCheckPerf).toBe(true);
    expect(parseOptions([], {}).compare).toBeNull();
    expect(parseOptions([], {}).etcdCheckPerf).toBe(false);
  });

  it('rejects unknown flags', () => {
    expect(() => parseOptions(['--durations', '3'], {})).toThrow(/Unknown option/);
  });
});
