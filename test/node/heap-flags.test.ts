// The V8 flags every node process gets (`ratify cluster`, the benchmark, the container image):
// this node accepts them, they do not cap the old space, and the image uses the same ones.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NODE_ENV_DEFAULTS, NODE_HEAP_FLAGS, nodeProcessEnv } from '../../src/node/local-cluster.js';

const heapLimit = (flags: readonly string[]): number => {
  const r = spawnSync(
    process.execPath,
    [...flags, '-e', 'process.stdout.write(String(require("v8").getHeapStatistics().heap_size_limit))'],
    { encoding: 'utf8' },
  );
  expect(r.status, r.stderr).toBe(0);
  return Number(r.stdout);
};

describe('NODE_HEAP_FLAGS', () => {
  it('are accepted by this node and leave the old-space limit where it was', () => {
    expect(NODE_HEAP_FLAGS).toEqual(['--heap-growing-percent=50', '--max-semi-space-size=8', '--v8-pool-size=1']);
    const withFlags = heapLimit(NODE_HEAP_FLAGS);
    const without = heapLimit([]);
    // Only the young generation shrinks (16 MiB less); nothing caps what the old space may grow to.
    expect(without - withFlags).toBeLessThanOrEqual(64 * 1024 * 1024);
  });

  it('are the flags the container image starts node with', () => {
    const dockerfile = readFileSync(new URL('../../cluster/Dockerfile', import.meta.url), 'utf8');
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile);
    expect(entrypoint).not.toBeNull();
    expect(JSON.parse(entrypoint![1]!)).toEqual(['node', ...NODE_HEAP_FLAGS, 'dist/src/cli.js']);
  });
});

describe('NODE_ENV_DEFAULTS', () => {
  it('limit glibc to two malloc arenas unless the caller says otherwise', () => {
    expect(NODE_ENV_DEFAULTS).toEqual({ MALLOC_ARENA_MAX: '2' });
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
