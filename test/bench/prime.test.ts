import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { BenchContext } from '../../scripts/bench/context.js';
import { parseOptions } from '../../scripts/bench/options.js';
import { PRIME_CONCURRENCY, primeCluster } from '../../scripts/bench/prime.js';
import { Progress } from '../../scripts/bench/progress.js';

function context(argv: string[]): { ctx: BenchContext; notes: () => string } {
  let text = '';
  const out = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  const ctx = { opts: parseOptions(argv, {}), progress: new Progress(out) } as unknown as BenchContext;
  return { ctx, notes: () => text };
}

describe('primeCluster', () => {
  it('runs the operation from PRIME_CONCURRENCY workers for --prime seconds and says so', async () => {
    const { ctx, notes } = context(['--prime', '0.2']);
    const workers = new Set<number>();
    let calls = 0;
    const t0 = performance.now();
    await primeCluster(ctx, 'test cluster', async ({ worker }) => {
      workers.add(worker);
      calls += 1;
      await new Promise((r) => setTimeout(r, 5));
    });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
    expect(workers.size).toBe(PRIME_CONCURRENCY);
    expect(calls).toBeGreaterThan(PRIME_CONCURRENCY);
    expect(notes()).toContain('priming test cluster: 0.2 s');
  });

  it('reports failed operations and does not throw', async () => {
    const { ctx, notes } = context(['--prime', '0.1']);
    await primeCluster(ctx, 'flaky', async () => {
      await new Promise((r) => setTimeout(r, 2));
      throw Object.assign(new Error('down'), { code: 'ECONNREFUSED' });
    });
    expect(notes()).toMatch(/priming flaky: \d+ operations failed/);
  });

  it('does nothing with --prime 0', async () => {
    const { ctx } = context(['--prime', '0']);
    let calls = 0;
    await primeCluster(ctx, 'off', async () => {
      calls += 1;
    });
    expect(calls).toBe(0);
  });
});
