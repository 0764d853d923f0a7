// What a newcomer typing the README's commands ran into (issue 16), through the built
// CLI as they would meet it: a start-up mistake is a message naming the value and the
// fix, with exit 2, never a stack trace; and `ratify cluster` checks every node's
// configuration before it starts any node or prints its banner.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_PATH, freePorts } from '../helpers/cluster.js';

const tmp = mkdtempSync(join(tmpdir(), 'ratify-newcomer-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function runCli(args: readonly string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run \`npm run build\` first`);
  const res = spawnSync(process.execPath, [CLI_PATH, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('ratify node without --listen', () => {
  it('names the id missing from --peers instead of crashing', () => {
    const { status, stderr } = runCli([
      'node',
      '--id',
      'n4',
      '--peers',
      'n1=http://127.0.0.1:7001,n2=http://127.0.0.1:7002',
      '--data',
      join(tmp, 'n4'),
    ]);
    expect(stderr).not.toMatch(/TypeError|at .*\.js:\d+/);
    expect(status).toBe(2);
    expect(stderr).toContain('id ("n4") is not in peers (n1, n2)');
    expect(stderr).toContain('add n4=http://host:port to --peers');
    expect(stderr).toContain('or give --listen host:port');
    expect(existsSync(join(tmp, 'n4'))).toBe(false);
  });

  it('names every peer URL without its scheme, with the URL it probably meant', () => {
    const { status, stderr } = runCli(['node', '--id', 'n1', '--peers', 'n1=127.0.0.1:7001,n2=localhost:7002', '--data', join(tmp, 'n1')]);
    expect(stderr).not.toMatch(/TypeError|at .*\.js:\d+/);
    expect(status).toBe(2);
    expect(stderr).toContain(
      'peer n1 url ("127.0.0.1:7001") must be an http(s) URL, e.g. "http://127.0.0.1:7001" (the scheme is required)',
    );
    expect(stderr).toContain('peer n2 url ("localhost:7002") must be an http(s) URL, e.g. "http://localhost:7002"');
  });
});

describe('ratify cluster with a bad node flag', () => {
  it('refuses before starting any node or printing its banner, naming the value and the 16-character minimum', async () => {
    const [port] = await freePorts(1);
    const data = join(tmp, 'cluster');
    const { status, stdout, stderr } = runCli(['cluster', '--base-port', String(port), '--data', data, '--cluster-secret', 's3cret']);
    expect(status).toBe(2);
    expect(stdout).not.toContain('[cluster]');
    expect(stderr).toContain('no node started');
    expect(stderr).toContain('n1, n2, n3: clusterSecret (6 characters) must be at least 16 characters');
    expect(stderr).not.toContain('s3cret');
    expect(existsSync(data)).toBe(false);
  });

  it('refuses an unknown flag and a missing certificate the same way', async () => {
    const [port] = await freePorts(1);
    const unknown = runCli(['cluster', '--base-port', String(port), '--data', join(tmp, 'c2'), '--tick-msx', '5']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("n1, n2, n3: unknown option '--tick-msx'");
    const tls = runCli([
      'cluster',
      '--base-port',
      String(port),
      '--data',
      join(tmp, 'c3'),
      '--tls-cert',
      join(tmp, 'missing-{id}.pem'),
      '--tls-key',
      join(tmp, 'k.pem'),
    ]);
    expect(tls.status).toBe(2);
    expect(tls.stdout).not.toContain('[cluster]');
    expect(tls.stderr).toMatch(/n1: tlsCert \S*missing-n1\.pem cannot be read/);
  });
});
