// The `ratify node` command as a user meets it (the built CLI, spawned): --help shows
// every flag's default, since the README points there for them, and a misspelled
// RATIFY_TX_* variable stops the start with a message naming it and the valid keys.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import { makeClusterCerts } from '../../scripts/dev-certs.js';
import { httpJson } from '../helpers/http.js';
import { waitUntil } from '../helpers/wait.js';
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
    for (const t of txConfigFields())
      expect(stdout).toMatch(
        new RegExp(`\\n\\s+${t.key}\\s+\\(default: ${t.defaultText.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\) \\[env ${t.env}\\]`),
      );
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

describe('peer security at start-up', () => {
  it('refuses to listen beyond loopback without a cluster secret or mutual TLS (exit 2), saying how to set one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ratify-cli-'));
    try {
      const { status, stderr } = runCli([
        'node',
        '--id',
        'n1',
        '--listen',
        '0.0.0.0:7999',
        '--peers',
        'n1=http://10.0.0.1:7999',
        '--data',
        dir,
      ]);
      expect(status).toBe(2);
      expect(stderr).toMatch(
        /listen host "0\.0\.0\.0" is not loopback, so peers must authenticate: set a cluster secret \(--cluster-secret-file FILE/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A base port with the next n-1 free too (ratify cluster takes consecutive ports). */
async function consecutiveFreePorts(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const servers: Server[] = [];
    try {
      for (let i = 0; i < n; i++) {
        servers.push(
          await new Promise<Server>((res, rej) => {
            const s = createServer();
            s.once('error', rej);
            s.listen(base + i, '127.0.0.1', () => res(s));
          }),
        );
      }
      return base;
    } catch {
      // taken: try another base
    } finally {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    }
  }
  throw new Error('no consecutive free ports');
}

describe('ratify cluster over HTTPS with mutual TLS', () => {
  it('passes the TLS flags to every node ({id} becoming its id), uses https peer URLs and elects a leader', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ratify-cli-tls-'));
    const ca = makeClusterCerts(join(dir, 'certs'), ['n1', 'n2', 'n3']);
    const base = await consecutiveFreePorts(3);
    const proc = spawn(
      process.execPath,
      [
        CLI_PATH,
        'cluster',
        '--nodes',
        '3',
        '--base-port',
        String(base),
        '--data',
        join(dir, 'data'),
        '--state-machine',
        'kv',
        '--tls-cert',
        join(dir, 'certs', '{id}.pem'),
        '--tls-key',
        join(dir, 'certs', '{id}.key'),
        '--tls-ca',
        ca.cert,
        '--tls-mutual',
        'true',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    proc.stdout.on('data', (b: Buffer) => (output += b.toString()));
    proc.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const dispatcher = new Agent({ connect: { ca: readFileSync(ca.cert) } });
    try {
      const view = await waitUntil(
        async () => {
          const res = await httpJson('GET', `https://127.0.0.1:${base}/v1/cluster`, { dispatcher, timeoutMs: 2000 }).catch(() => null);
          return res?.status === 200 && res.body.leaderId !== null ? res.body : undefined;
        },
        { timeoutMs: 60_000, what: `a leader over https (output: ${output.slice(-2000)})` },
      );
      expect(view.members.map((m: { url: string }) => m.url)).toEqual([0, 1, 2].map((i) => `https://127.0.0.1:${base + i}`));
      expect(output).toContain(`https://127.0.0.1:${base}`);
    } finally {
      const exited = new Promise((r) => proc.once('exit', r));
      if (proc.pid !== undefined) process.kill(proc.pid, 'SIGINT');
      await exited;
      await dispatcher.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
