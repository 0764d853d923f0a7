// The config file takes the flags' names (issue 16: it took `dataDir` where the flag is
// --data, though the README says "keys as in the table"); the shipped example is a
// valid file; and a node logs its effective configuration at start, secrets hidden.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeClusterCerts } from '../../scripts/dev-certs.js';
import { isRatifyError } from '../../src/errors.js';
import { mapFileKeys } from '../../src/node/config-file.js';
import { configFields, resolveNodeConfig } from '../../src/node/config.js';
import { effectiveConfig, redact } from '../../src/node/effective-config.js';
import { loadTlsMaterial } from '../../src/node/tls-files.js';
import { CLI_PATH, freePorts } from '../helpers/cluster.js';
import { waitUntil } from '../helpers/wait.js';

const tmp = mkdtempSync(join(tmpdir(), 'ratify-config-file-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const EXAMPLE = new URL('../../cluster/ratify.example.json', import.meta.url);
const PEERS = 'n1=http://127.0.0.1:7001,n2=http://127.0.0.1:7002';

function fileWith(name: string, content: Record<string, unknown>): string {
  const path = join(tmp, name);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

function errorsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (isRatifyError(err, 'CONFIG_INVALID')) return err.details?.['errors'] as string[];
    throw err;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('config file keys', () => {
  it('takes the flag names in camelCase, and the field names it took before', () => {
    const byFlag = resolveNodeConfig({
      file: fileWith('flags.json', { id: 'n1', peers: PEERS, data: '/d1', clusterSecretFile: null, tickMs: 25 }),
    });
    expect(byFlag.dataDir).toBe('/d1');
    expect(byFlag.tickMs).toBe(25);
    const byField = resolveNodeConfig({ file: fileWith('fields.json', { id: 'n1', peers: PEERS, dataDir: '/d2' }) });
    expect(byField.dataDir).toBe('/d2');
  });

  it('refuses one setting under both names, and lists the flag names for an unknown key', () => {
    const errors = errorsOf(() =>
      resolveNodeConfig({ file: fileWith('both.json', { id: 'n1', peers: PEERS, data: '/a', dataDir: '/b', participnts: 3 }) }),
    );
    expect(errors).toContain('config file: "data" and "dataDir" are the same setting (--data); give one');
    const unknown = errors.find((e) => e.startsWith('config file: unknown setting "participnts"'));
    expect(unknown).toMatch(/\(valid: id, listen, peers, data, .*clusterSecretFile, tlsCert, .*, tx\)$/);
  });

  it('has a key for every flag', () => {
    const keys = Object.fromEntries(configFields().map((f) => [f.flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase()), 1]));
    expect(mapFileKeys(keys, configFields()).errors).toEqual([]);
  });

  it('ships a valid example: every key known, and it starts once its certificates and secret exist', () => {
    const text = readFileSync(EXAMPLE, 'utf8');
    const raw = JSON.parse(text) as Record<string, unknown>;
    expect(mapFileKeys(raw, configFields()).errors).toEqual([]);
    // Its paths are relative to the checkout (cluster/certs, as the README makes them); here they go to a temp dir.
    const certs = join(tmp, 'certs');
    makeClusterCerts(certs, ['n1', 'n2', 'n3']);
    writeFileSync(join(certs, 'cluster-secret'), 'an-example-secret-of-24-chars\n');
    const file = join(tmp, 'example.json');
    writeFileSync(file, text.replaceAll('cluster/certs/', `${certs}/`));
    const config = resolveNodeConfig({ file });
    expect(config.dataDir).toBe('./data/n1');
    expect(config.tlsMutual).toBe(true);
    expect(loadTlsMaterial(config)).not.toBeNull();
  });
});

describe('effective configuration', () => {
  it('hides secrets, tokens and passwords by name and in URLs, and shows paths', () => {
    const config = resolveNodeConfig({
      flags: { id: 'n1', peers: 'n1=http://127.0.0.1:7001,n2=http://user:hunter2-hunter2@127.0.0.1:7002', dataDir: '/d' },
      env: { RATIFY_CLUSTER_SECRET: 'first-secret-123456,second-secret-12345' },
    });
    const shown = JSON.stringify(effectiveConfig(config));
    for (const secret of ['first-secret-123456', 'second-secret-12345', 'hunter2']) expect(shown).not.toContain(secret);
    expect(effectiveConfig(config)).toMatchObject({
      clusterSecret: '[redacted] (2)',
      listen: '127.0.0.1:7001',
      dataDir: '/d',
      tx: { maxParticipants: 16 },
    });
    expect(shown).toContain('n2=http://user:[redacted]@127.0.0.1:7002');
    expect(
      redact({ clientTokens: ['a', 'b'], clientTokensFile: '/etc/tokens', nested: { apiKey: 'k', password: '' }, adminToken: null }),
    ).toEqual({
      clientTokens: '[redacted] (2)',
      clientTokensFile: '/etc/tokens',
      nested: { apiKey: '[redacted]', password: '' },
      adminToken: null,
    });
  });

  it('is logged by ratify node at start, as JSON when stdout is not a terminal, without the secret', async () => {
    const [port] = await freePorts(1);
    const secret = 'never-print-me-1234567890';
    const file = fileWith('node.json', {
      id: 'n1',
      peers: { n1: `http://127.0.0.1:${port}` },
      data: join(tmp, 'data-n1'),
      logLevel: 'info',
    });
    const proc = spawn(process.execPath, [CLI_PATH, 'node', '--config', file, '--tick-ms', '25'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RATIFY_CLUSTER_SECRET: secret },
    });
    let out = '';
    proc.stdout.on('data', (b: Buffer) => (out += b.toString()));
    proc.stderr.on('data', (b: Buffer) => (out += b.toString()));
    try {
      const line = await waitUntil(() => out.split('\n').find((l) => l.includes('"msg":"effective configuration')), {
        timeoutMs: 30_000,
        what: `the effective configuration line (output: ${out.slice(-2000)})`,
      });
      const entry = JSON.parse(line) as { nodeId: string; config: Record<string, unknown> };
      expect(entry.nodeId).toBe('n1');
      expect(entry.config).toMatchObject({
        id: 'n1',
        dataDir: join(tmp, 'data-n1'),
        tickMs: 25,
        clusterSecret: '[redacted]',
        listen: `127.0.0.1:${port}`,
      });
      await waitUntil(() => out.includes('ratify node started'), { timeoutMs: 30_000, what: 'the node to start' });
      expect(out).not.toContain(secret);
    } finally {
      const exited = new Promise((r) => proc.once('exit', r));
      if (proc.pid !== undefined) process.kill(proc.pid, 'SIGTERM');
      await exited;
    }
  });
});
