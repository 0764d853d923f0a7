// The V8 flags every node process gets (`ratify cluster`, the benchmark, the container image):
// this node accepts them, they do not cap the old space, they keep WebAssembly out of
// TurboFan, and the image uses the same ones.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NODE_ENV_DEFAULTS, NODE_HEAP_FLAGS, nodeProcessEnv } from '../../src/node/local-cluster.js';

/** Runs this node with `args` (and `env`, else this process's); fails the test unless it exits 0. Its stdout. */
const runNode = (args: readonly string[], env?: NodeJS.ProcessEnv): string => {
  const r = spawnSync(process.execPath, [...args], { encoding: 'utf8', ...(env === undefined ? {} : { env }) });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
};

const heapLimit = (flags: readonly string[]): number =>
  Number(runNode([...flags, '-e', 'process.stdout.write(String(require("v8").getHeapStatistics().heap_size_limit))']));

describe('NODE_HEAP_FLAGS', () => {
  it('are accepted by this node and leave the old-space limit where it was', () => {
    expect(NODE_HEAP_FLAGS).toEqual([
      '--heap-growing-percent=50',
      '--max-semi-space-size=8',
      '--v8-pool-size=1',
      '--no-wasm-dynamic-tiering',
      '--no-wasm-tier-up',
    ]);
    const withFlags = heapLimit(NODE_HEAP_FLAGS);
    const without = heapLimit([]);
    // Only the young generation shrinks (16 MiB less); nothing caps what the old space may grow to.
    expect(without - withFlags).toBeLessThanOrEqual(64 * 1024 * 1024);
  });

  it('keep a hot WebAssembly function in Liftoff, where without them this node tiers it up to TurboFan', { timeout: 30_000 }, () => {
    // A loop summing n..1, called until V8's tiering budget is spent many times over; the
    // tier-up compiles in the background, so the check polls for a while.
    const script = `
      const bytes = new Uint8Array([0,97,115,109,1,0,0,0, 1,6,1,96,1,127,1,127, 3,2,1,0, 7,5,1,1,102,0,0,
        10,27,1,25, 1,1,127, 3,64, 32,1,32,0,106,33,1, 32,0,65,1,107,34,0, 13,0, 11, 32,1, 11]);
      const f = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.f;
      if (f(4) !== 10) throw new Error('the module does not compute what it should');
      const until = Date.now() + Number(process.argv[1]);
      (function spin() {
        for (let i = 0; i < 50; i++) f(100000);
        if (%IsTurboFanFunction(f)) return process.stdout.write('turbofan');
        if (Date.now() > until) return process.stdout.write(%IsLiftoffFunction(f) ? 'liftoff' : 'neither');
        setTimeout(spin, 5);
      })();`;
    // waitMs: how long to give the background compile (a busy machine may delay it); the
    // Liftoff answer always waits it out, so that one is short.
    const tier = (flags: readonly string[], waitMs: number): string =>
      runNode([...flags, '--allow-natives-syntax', '-e', script, String(waitMs)]);
    expect(tier([], 20_000)).toBe('turbofan');
    expect(tier(NODE_HEAP_FLAGS, 2_000)).toBe('liftoff');
  });

  it('are the flags the container image starts node with', () => {
    const dockerfile = readFileSync(new URL('../../cluster/Dockerfile', import.meta.url), 'utf8');
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile);
    expect(entrypoint).not.toBeNull();
    expect(JSON.parse(entrypoint![1]!)).toEqual(['node', ...NODE_HEAP_FLAGS, 'dist/src/cli.js']);
  });
});

describe('NODE_ENV_DEFAULTS', () => {
  it('limit glibc to two malloc arenas and fix its mmap threshold, unless the caller says otherwise', () => {
    expect(NODE_ENV_DEFAULTS).toEqual({ MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '262144' });
    expect(nodeProcessEnv({ PATH: '/bin' })).toEqual({ ...NODE_ENV_DEFAULTS, PATH: '/bin' });
    expect(nodeProcessEnv({ MALLOC_ARENA_MAX: '8' })['MALLOC_ARENA_MAX']).toBe('8');
  });

  it('reach a spawned node process', () => {
    const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(process.env.MALLOC_ARENA_MAX ?? "unset")'], {
      encoding: 'utf8',
      env: nodeProcessEnv({ PATH: process.env['PATH'] }),
    });
    expect(r.stdout).toBe('2');
  });

  it('keep buffers of 256 KiB or more out of the main malloc heap, also after a larger one was freed', () => {
    // glibc's default raises its mmap threshold to the largest block freed: after an 8 MiB buffer
    // (a snapshot file read whole) is freed, 512 KiB buffers come from the main heap ([heap]).
    const script = `
      const heapKiB = () => {
        let kb = 0, inHeap = false;
        for (const l of require('fs').readFileSync('/proc/self/smaps', 'utf8').split('\\n')) {
          if (/^[0-9a-f]+-[0-9a-f]+ /.test(l)) inHeap = l.endsWith('[heap]');
          else if (inHeap && l.startsWith('Rss:')) kb += Number(l.split(/\\s+/)[1]);
        }
        return kb;
      };
      let big = Buffer.allocUnsafeSlow(8 * 1024 * 1024);
      big.fill(1);
      big = null;
      globalThis.gc();
      setTimeout(() => {
        globalThis.gc();
        const before = heapKiB();
        const keep = [];
        for (let i = 0; i < 64; i++) keep.push(Buffer.allocUnsafeSlow(512 * 1024).fill(2));
        process.stdout.write(String(Math.round((heapKiB() - before) / 1024)));
      }, 50);`;
    const heapGrowthMiB = (env: NodeJS.ProcessEnv): number => Number(runNode(['--expose-gc', '-e', script], env));
    const path = { PATH: process.env['PATH'] };
    expect(heapGrowthMiB(path)).toBeGreaterThanOrEqual(16); // 32 MiB of buffers, most in [heap]
    expect(heapGrowthMiB(nodeProcessEnv(path))).toBeLessThanOrEqual(2);
  });

  it('are set in the container image', () => {
    const dockerfile = readFileSync(new URL('../../cluster/Dockerfile', import.meta.url), 'utf8');
    // The runtime stage's ENV instruction (it may continue over lines ending in a backslash).
    const env = /^ENV (MALLOC_(?:.*\\\n)*.*)$/m.exec(dockerfile)?.[1] ?? '';
    const set = Object.fromEntries(
      env
        .split(/\s+\\?\s*/)
        .filter((w) => w.includes('='))
        .map((w) => w.split('=') as [string, string]),
    );
    expect(set).toEqual(NODE_ENV_DEFAULTS);
  });
});
