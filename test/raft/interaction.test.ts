// Raft scenario scripts (test/raft/testdata/*.txt) in the data-driven style of
// etcd-io/raft's testdata: each script drives the in-memory cluster of helpers.ts
// (the real core) command by command, and the file records each command's output.
// The test replays the commands and compares the file they produce now with the
// file on disk (toMatchFileSnapshot), so a behaviour change fails as a readable diff.
//
// A mismatch always fails: vitest writes a file snapshot only when asked to
// (`npx vitest run -u test/raft/interaction.test.ts`, then review `git diff`), and
// every script exists, so there is never a "new snapshot" to write silently. Under
// CI=true (and no -u) vitest writes no snapshot at all. `check` lines in the scripts
// fail even under -u. See test/raft/testdata/README.md.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from './interaction/commands.js';
import { InteractionEnv } from './interaction/env.js';
import { type Directive, parseScript, renderScript } from './interaction/script.js';

const TESTDATA = new URL('./testdata/', import.meta.url);
const scripts = readdirSync(TESTDATA)
  .filter((f) => f.endsWith('.txt'))
  .sort();

/** Replays a script and returns the file as its commands produce it now. */
function replay(file: string, source: string): string {
  const parts = parseScript(source);
  const env = new InteractionEnv();
  const outputs = new Map<Directive, readonly string[]>();
  for (const p of parts) {
    if (p.kind !== 'directive') continue;
    try {
      outputs.set(p, env.run(p.command));
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      throw new Error(`${file}:${p.line}: ${p.command}\n${message}`, { cause: e });
    }
  }
  return renderScript(parts, outputs);
}

describe('Raft interaction scripts', () => {
  it('finds the scripts (a lost script would take its checks with it)', () => {
    expect(scripts.length).toBeGreaterThanOrEqual(15);
  });

  it.each(scripts)('%s', async (file) => {
    const source = readFileSync(new URL(file, TESTDATA), 'utf8');
    expect(source.split('\n').some((l) => l.startsWith('check '))).toBe(true);
    await expect(replay(file, source)).toMatchFileSnapshot(`./testdata/${file}`);
  });

  it('the README documents every command', () => {
    const readme = readFileSync(new URL('README.md', TESTDATA), 'utf8');
    // As a table cell opens it: `name` alone or `name <args...>`.
    const missing = [...COMMANDS.keys()].filter((name) => !readme.includes(`\`${name}\``) && !readme.includes(`\`${name} `));
    expect(missing).toEqual([]);
  });
});
