// What a running `ratify node` keeps loaded. Every module a node loads stays on its
// heap (source and code) for its whole life, so the node leaves out what it does not
// use: undici's index (fetch, WebSocket, caches, mocks: src/util/undici-parts.ts
// loads the parts it calls), the operator commands and the SDK behind them
// (src/cli.ts), and @fastify/swagger with its YAML writer until someone asks for
// the OpenAPI document (src/http/openapi.ts). Each was measured on the heap; this
// test keeps a later import from bringing them back unnoticed.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_PATH, freePorts } from '../helpers/cluster.js';
import { waitUntil } from '../helpers/wait.js';

const REPORTER = fileURLToPath(new URL('../fixtures/report-loaded-modules.mjs', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'ratify-footprint-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Package files a node must not load, by what they are. */
const LEFT_OUT: Readonly<Record<string, RegExp>> = {
  "undici's index": /\/node_modules\/undici\/index\.js$/,
  "undici's fetch": /\/node_modules\/undici\/lib\/web\/fetch\//,
  '@fastify/swagger': /\/node_modules\/@fastify\/swagger\//,
  yaml: /\/node_modules\/yaml\//,
};

const matching = (modules: readonly string[], pattern: RegExp): string[] => modules.filter((m) => pattern.test(m));

describe('a running ratify node', () => {
  it("loads undici's parts, not its index, and the OpenAPI generator only when the document is asked for", async () => {
    const [port] = await freePorts(1);
    const report = join(tmp, 'modules.json');
    const proc = spawn(
      process.execPath,
      [
        '--import',
        REPORTER,
        CLI_PATH,
        'node',
        '--id',
        'n1',
        '--listen',
        `127.0.0.1:${port}`,
        '--peers',
        `n1=http://127.0.0.1:${port}`,
        '--data',
        join(tmp, 'data'),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RATIFY_TEST_MODULES_TO: report } },
    );
    let stderr = '';
    proc.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise((r) => proc.once('exit', r));
    const loaded = async (): Promise<string[]> => {
      rmSync(report, { force: true });
      proc.kill('SIGUSR2');
      await waitUntil(() => existsSync(report), { timeoutMs: 10_000, what: 'the module report' });
      return JSON.parse(readFileSync(report, 'utf8')) as string[];
    };
    try {
      const url = `http://127.0.0.1:${port}`;
      const early = exited.then(() => Promise.reject(new Error(`the node exited before it answered: ${stderr.slice(-1500)}`)));
      early.catch(() => {}); // it exits at the end of every run, too
      const up = waitUntil(async () => (await fetch(`${url}/healthz`).catch(() => null))?.ok === true, {
        timeoutMs: 45_000,
        what: 'the node to answer /healthz',
      });
      await Promise.race([up, early]);
      const before = await loaded();
      expect(matching(before, /\/node_modules\/undici\/lib\/dispatcher\/agent\.js$/)).toHaveLength(1);
      expect(matching(before, /\/node_modules\/fastify\/fastify\.js$/)).toHaveLength(1);
      for (const [what, pattern] of Object.entries(LEFT_OUT)) expect(matching(before, pattern), what).toEqual([]);

      const doc = await fetch(`${url}/openapi.json`);
      expect(doc.status).toBe(200);
      expect(((await doc.json()) as { openapi?: string }).openapi).toBe('3.1.0');
      // The same check sees the generator once it is loaded: the report is not blind to it.
      const after = await loaded();
      expect(matching(after, LEFT_OUT['@fastify/swagger']!).length).toBeGreaterThan(0);
      expect(matching(after, LEFT_OUT['yaml']!).length).toBeGreaterThan(0);
      expect(matching(after, LEFT_OUT["undici's index"]!)).toEqual([]);
    } finally {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    }
  });
});
