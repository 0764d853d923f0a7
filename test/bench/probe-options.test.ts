import { describe, expect, it } from 'vitest';
import { parseProbeArgs, v8MemoryOf } from '../../scripts/bench/probe-options.js';

describe('parseProbeArgs', () => {
  it('has the documented defaults', () => {
    const a = parseProbeArgs([]);
    if (a.kind !== 'run') throw new Error(`expected run, got ${a.kind}`);
    expect(a.opts.bench.fillTx).toBe(100_000);
    expect(a.opts.fillConcurrency).toBe(64);
    expect(a.opts.kills).toBe(3);
    expect(a.opts.bench.kills).toBe(3);
    expect(a.opts.bench.nodeFlags).toEqual([]);
    expect(a.opts.pauseAfterFill).toBe(false);
    expect(a.opts.idempotencyKeys).toBe(false);
  });

  it('--idempotency-keys gives the fill SDK-style keys', () => {
    const a = parseProbeArgs(['--idempotency-keys']);
    if (a.kind !== 'run') throw new Error(`expected run, got ${a.kind}`);
    expect(a.opts.idempotencyKeys).toBe(true);
  });

  it('passes --node-flag and --node-arg to every node, in order', () => {
    const a = parseProbeArgs([
      '--node-flag=--heap-growing-percent=25',
      '--node-flag=--trace-gc',
      '--node-arg=--snapshot-threshold-entries=5000',
    ]);
    if (a.kind !== 'run') throw new Error(`expected run, got ${a.kind}`);
    expect(a.opts.bench.nodeFlags).toEqual(['--heap-growing-percent=25', '--trace-gc']);
    expect(a.opts.bench.nodeArgs).toEqual(['--snapshot-threshold-entries=5000']);
  });

  it('refuses a --node-flag that is not a flag, and numbers that are not whole', () => {
    expect(parseProbeArgs(['--node-flag=heap-growing-percent=25'])).toEqual({
      kind: 'usage',
      error: expect.stringContaining('--node-flag (heap-growing-percent=25) must be a flag'),
    });
    expect(parseProbeArgs(['--fill-tx', '1.5'])).toEqual({ kind: 'usage', error: expect.stringContaining('whole numbers') });
    expect(parseProbeArgs(['--fill-concurrency', '0'])).toEqual({ kind: 'usage', error: expect.stringContaining('whole numbers') });
    expect(parseProbeArgs(['--no-such-option']).kind).toBe('usage');
  });

  it('--kills 0 runs no failover, while the bench options keep a valid kill count', () => {
    const a = parseProbeArgs(['--kills', '0', '--pause-after-fill', '--fill-tx', '500']);
    if (a.kind !== 'run') throw new Error(`expected run, got ${a.kind}`);
    expect(a.opts.kills).toBe(0);
    expect(a.opts.bench.kills).toBe(1);
    expect(a.opts.bench.fillTx).toBe(500);
    expect(a.opts.pauseAfterFill).toBe(true);
  });

  it('-h asks for the usage', () => {
    expect(parseProbeArgs(['-h'])).toEqual({ kind: 'help' });
  });
});

describe('v8MemoryOf', () => {
  it('reads heap used, committed, the young generation and external memory from prom-client metrics', () => {
    const text = [
      '# HELP nodejs_heap_size_total_bytes Process heap size from Node.js in bytes.',
      'nodejs_heap_size_total_bytes{node="n1"} 100000000',
      'nodejs_heap_size_used_bytes{node="n1"} 60000000',
      'nodejs_external_memory_bytes{node="n1"} 30000000',
      'nodejs_heap_space_size_total_bytes{space="read_only",node="n1"} 0',
      'nodejs_heap_space_size_total_bytes{space="new",node="n1"} 16777216',
      'nodejs_heap_space_size_total_bytes{space="old",node="n1"} 70000000',
      'nodejs_heap_space_size_total_bytes{space="new_large_object",node="n1"} 0',
      'nodejs_heap_space_size_used_bytes{space="new",node="n1"} 7000000',
    ].join('\n');
    expect(v8MemoryOf(text)).toEqual({ heapUsed: 60_000_000, heapTotal: 100_000_000, youngTotal: 16_777_216, external: 30_000_000 });
  });

  it('is null where a metric is missing', () => {
    expect(v8MemoryOf('nodejs_heap_size_used_bytes 5\n')).toEqual({ heapUsed: 5, heapTotal: null, youngTotal: null, external: null });
  });
});
