// The `ratify node` command as a user meets it (the built CLI, spawned): --help shows
// every flag's default, since the README points there for them, and a misspelled
// RATIFY_TX_* variable stops the start with a message naming it and the valid keys.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configFields, nodeConfigDefaults, txConfigFields } from '../../src/node/config.js';
import { CLI_PATH } from '../helpers/cluster.js';

function runCli(args: readonly string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run \`npm run build\` first`);
  const res = spawnSync(process.execPath, [CLI_PATH, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

/** The help text of each option ("--tick-ms <value>" -> its description), wrapped lines joined. */
function optionHelp(help: string): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | null = null;
  for (const line of help.split('\n')) {
    const m = /^\s{2}(-\w, )?(--[a-z-]+)\b(.*)$/.exec(line);
    if (m !== null) {
      current = m[2]!;
      out.set(current, m[3]!.trim());
    } else if (current !== null && /^\s{4,}\S/.test(line)) {
      out.set(current, `${out.get(current)} ${line.trim()}`);
    } else {
      current = null;
    }
  }
  return out;
}

describe('ratify node --help', () => {
  it("shows every flag's default (or that it is required), and every tx setting with its default", () => {
    const { status, stdout } = runCli(['node', '--help']);
    expect(status).toBe(0);
    const options = optionHelp(stdout);
    for (const f of configFields()) {
      const text = options.get(`--${f.flag}`);
      expect(text, `--${f.flag}`).toBeDefined();
      expect(text, `--${f.flag}`).toMatch(/\((default: [^)]+|required)\)/);
      expect(text, `--${f.flag}`).toContain(`[env ${f.env}]`);
    }
    expect(options.get('--tick-ms')).toContain(`(default: ${nodeConfigDefaults.tickMs})`);
    expect(options.get('--shutdown-timeout-ms')).toContain(`(default: ${nodeConfigDefaults.shutdownTimeoutMs})`);
    expect(options.get('--id')).toContain('(required)');
    expect(options.get('--listen')).toContain('(default: from own peer URL)');
    for (const o of ['--config', '--tx']) expect(options.get(o), o).toMatch(/\(default: [^)]+\)/);
    for (const t of txConfigFields()) expect(stdout).toMatch(new RegExp(`\\n\\s+${t.key}\\s+\\(default: ${t.defaultText.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\) \\[env ${t.env}\\]`));
  });
});

describe('ratify node with an unknown RATIFY_TX_* variable', () => {
  it('refuses to start (exit 2), naming the variable and listing the valid ones', () => {
    const { status, stderr } = runCli(['node', '--id', 'n1', '--peers', 'n1=http://127.0.0.1:1', '--data', '/nonexistent/never-created'], {
      RATIFY_TX_MAX_PARTICIPENTS: '4',
    });
    expect(status).toBe(2);
    expect(stderr).toMatch(/unknown tx setting RATIFY_TX_MAX_PARTICIPENTS \(valid: [^)]*RATIFY_TX_MAX_PARTICIPANTS[,)]/);
  });
});
