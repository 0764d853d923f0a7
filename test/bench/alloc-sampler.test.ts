// The bench's allocation sampler (scripts/bench/alloc-sampler.ts) in a real node process,
// as --alloc-prof loads it into every Ratify node: `node --import <compiled sampler>`.
// Needs the build (`npm test` builds first).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ALLOC_PROF_DIR_ENV,
  ALLOC_PROF_SURVIVORS_ENV,
  readAllocProfile,
  summarizeAllocProfile,
} from '../../scripts/bench/alloc-profile.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SAMPLER = join(ROOT, 'dist', 'scripts', 'bench', 'alloc-sampler.js');

let dir = '';
let script = '';

beforeAll(() => {
  if (!existsSync(SAMPLER)) throw new Error(`${SAMPLER} is missing: run \`npm run build\` first`);
  dir = mkdtempSync(join(tmpdir(), 'ratify-alloc-'));
  script = join(dir, 'work.mjs');
  // About 40 MB of short-lived objects from one named function, then a clean exit.
  writeFileSync(
    script,
    `function allocateLots() { let keep = 0; for (let i = 0; i < 1_000_000; i++) { const o = { i, s: 'x' + i }; keep += o.s.length; } return keep; }\n` +
      `console.log(allocateLots());\n`,
  );
});

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

function run(env: Record<string, string>): void {
  const r = spawnSync(process.execPath, [`--import=${pathToFileURL(SAMPLER).href}`, script], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(r.status, r.stderr).toBe(0);
}

describe('alloc-sampler', () => {
  it('writes the profile of everything the process allocated, collected objects included, at exit', () => {
    const out = join(dir, 'profiles');
    run({ [ALLOC_PROF_DIR_ENV]: out });
    const files = readdirSync(out);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^alloc-\d+\.heapprofile$/);
    const s = summarizeAllocProfile(readAllocProfile(join(out, files[0] ?? '')), dir);
    // Nothing of it is alive at exit: only a profile that counts collected objects sees it.
    expect(s.totalBytes).toBeGreaterThan(10 * 1024 * 1024);
    const top = s.self[0];
    expect(top?.frame).toMatch(/^allocateLots work\.mjs:1$/);
    expect(top?.bytes ?? 0).toBeGreaterThan(s.totalBytes / 2);
  });

  it('with the survivors variable, leaves out what young-generation collections freed', () => {
    const out = join(dir, 'survivors');
    run({ [ALLOC_PROF_DIR_ENV]: out, [ALLOC_PROF_SURVIVORS_ENV]: '1' });
    const files = readdirSync(out);
    expect(files).toHaveLength(1);
    const s = summarizeAllocProfile(readAllocProfile(join(out, files[0] ?? '')), dir);
    // The 40 MB of short-lived objects die young: a sliver of them is left, if any.
    const work = s.self.find((f) => f.frame.startsWith('allocateLots '))?.bytes ?? 0;
    expect(work).toBeLessThan(4 * 1024 * 1024);
  });

  it('does nothing without the variable', () => {
    const before = readdirSync(dir).sort();
    run({ [ALLOC_PROF_DIR_ENV]: '' });
    expect(readdirSync(dir).sort()).toEqual(before);
  });
});
