// `npm ci` of this checkout on the Node version the README asks for warns about nothing:
// fastify 5.12's light-my-request 6.8 pulled cookie 2, which declares node >= 22 (issue
// 16). package.json pins light-my-request 6.6.0 (cookie 1): as an override for this
// checkout, and as a dependency so that applications installing the package get it too
// (test/package/sdk-package.test.ts installs the tarball and checks the same).
// A dry run resolves the lockfile and checks engines without downloading anything.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

it('npm ci resolves the lockfile without an EBADENGINE warning', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ratify-npm-ci-'));
  try {
    for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(ROOT, f), join(dir, f));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
    const r = spawnSync('npm', ['ci', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
      cwd: dir,
      encoding: 'utf8',
      env,
      timeout: 120_000,
    });
    const output = `${r.stdout}${r.stderr}`;
    expect(r.status, output).toBe(0);
    expect(output).not.toContain('EBADENGINE');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
