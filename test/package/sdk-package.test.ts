// The SDK as an application gets it: `npm pack` this checkout, install the tarball into a
// new project (its dependencies from the npm registry, or npm's cache when it has them),
// import every entry point from an ESM script, and typecheck TypeScript against the
// shipped declarations. Nothing here reaches into dist/ by path: only the package's
// exports map (package.json) does.
//
// Takes tens of seconds (an npm install). Needs the build (`npm test` builds first).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
const require = createRequire(import.meta.url);
const TSC = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
const typesVersion = (name: string): string =>
  (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

let work = '';
let app = '';
let installLog = '';

/**
 * npm as a user runs it, with what it printed (warnings go to stderr). No npm_*
 * variables are inherited from an `npm test` around us: they would point npm at
 * this checkout.
 */
function npm(args: readonly string[], cwd: string): string {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
  const r = spawnSync('npm', [...args], { cwd, encoding: 'utf8', env: { ...env, npm_config_update_notifier: 'false' }, timeout: 170_000 });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${output}`);
  return output;
}

function tsc(project: string): { ok: boolean; output: string } {
  try {
    return { ok: true, output: execFileSync(process.execPath, [TSC, '-p', project], { cwd: app, encoding: 'utf8', timeout: 120_000 }) };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, output: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

function node(script: string): string {
  return execFileSync(process.execPath, [script], { cwd: app, encoding: 'utf8', timeout: 60_000 });
}

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'src', 'sdk', 'index.d.ts'))) throw new Error('dist/ has no declarations: run `npm run build` first');
  work = mkdtempSync(join(tmpdir(), 'ratify-package-'));
  app = join(work, 'app');
  // --ignore-scripts: `prepare` would rebuild; the suite runs after the build.
  npm(['pack', '--ignore-scripts', '--pack-destination', work], ROOT);
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  if (tarball === undefined) throw new Error(`npm pack left no tarball in ${work}`);
  execFileSync('mkdir', [app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'an-application', private: true, type: 'module' }));
  // What the README tells an application to run, plus the Node types a TypeScript user has.
  const install = [
    'install',
    '--no-audit',
    '--no-fund',
    '--prefer-offline',
    join(work, tarball),
    `@types/node@${typesVersion('@types/node')}`,
  ];
  installLog = npm(install, app);
}, 180_000);

afterAll(() => {
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

describe(`the packed ${pkg.name}`, () => {
  it('installs without engine warnings on the Node version the README asks for', () => {
    expect(installLog).not.toMatch(/EBADENGINE|npm (error|ERR)/);
    expect(existsSync(join(app, 'node_modules', ...pkg.name.split('/'), 'package.json'))).toBe(true);
  });

  it('ships the compiled SDK and its declarations, not the sources, tests or source maps', () => {
    const root = join(app, 'node_modules', ...pkg.name.split('/'));
    for (const f of [
      'dist/src/sdk/index.js',
      'dist/src/sdk/index.d.ts',
      'dist/src/sdk/participant/index.d.ts',
      'dist/src/sdk/participant/postgres.d.ts',
      'dist/src/cli.js',
      'README.md',
    ]) {
      expect(existsSync(join(root, f)), f).toBe(true);
    }
    for (const f of ['src/sdk/index.ts', 'dist/test', 'dist/scripts', 'dist/src/sdk/index.js.map', 'test'])
      expect(existsSync(join(root, f)), f).toBe(false);
  });

  it('imports every entry point from an ESM script, and none of them loads pg', () => {
    writeFileSync(
      join(app, 'check.mjs'),
      `import { RatifyClient, isRatifyClientError } from '${pkg.name}/sdk';
import { createParticipant, ratifyParticipant, createNodeHandler, MemoryParticipantStore } from '${pkg.name}/sdk/participant';
import { createPostgresParticipant, gidOf } from '${pkg.name}/sdk/participant/postgres';
const client = new RatifyClient({ nodes: ['http://127.0.0.1:1'] });
await client.close();
const participant = createParticipant({ name: 'p', store: new MemoryParticipantStore(), handlers: { prepare: async () => ({ vote: 'commit' }), commit: async () => {}, abort: async () => {} } });
const pg = await import('pg').then(() => 'installed', (e) => e.code);
const deep = await import('${pkg.name}/dist/src/sdk/index.js').then(() => 'importable', (e) => e.code);
console.log(JSON.stringify({
  exports: [RatifyClient, isRatifyClientError, createParticipant, ratifyParticipant, createNodeHandler, createPostgresParticipant, gidOf].map((f) => typeof f),
  participant: typeof participant.handle, pg, deep,
}));
`,
    );
    expect(JSON.parse(node('check.mjs'))).toEqual({
      exports: Array(7).fill('function'),
      participant: 'function',
      // pg is an optional peer dependency: not installed here, so any entry that loaded it would have failed to import.
      pg: 'ERR_MODULE_NOT_FOUND',
      // Only the exports map is public.
      deep: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    });
  });

  it('typechecks a client and a participant against the declarations, with Node types and without pg types', () => {
    writeFileSync(
      join(app, 'client.ts'),
      `import { RatifyClient, isRatifyClientError, type TransactionView } from '${pkg.name}/sdk';
import { createParticipant, ratifyParticipant, type ParticipantHandlers, type ParticipantTxRecord, type TxRecord } from '${pkg.name}/sdk/participant';

const client = new RatifyClient({ nodes: ['http://127.0.0.1:7001'] });
export async function transfer(): Promise<TransactionView['outcome']> {
  try {
    const view = await client.run({ participants: [{ name: 'bank-a', url: 'http://127.0.0.1:7101/ratify', payload: { ops: [] } }] });
    return view.outcome;
  } catch (e) {
    if (isRatifyClientError(e)) return null;
    throw e;
  }
}
const handlers: ParticipantHandlers = { prepare: async () => ({ vote: 'commit' }), commit: async () => {}, abort: async () => {} };
export const participant = createParticipant({ name: 'inventory', dataDir: './data', handlers });
export const plugin = ratifyParticipant;
// The deprecated name is still the record type (src/sdk/README.md, "Types").
export const sameRecord = (r: TxRecord): ParticipantTxRecord => r;
// @ts-expect-error: the declarations are real types, not any: there is no such method
client.noSuchMethod();
`,
    );
    writeFileSync(join(app, 'tsconfig.client.json'), tsconfig(['client.ts']));
    const result = tsc('tsconfig.client.json');
    expect(result.output).toBe('');
    expect(result.ok).toBe(true);
  });

  it('typechecks the PostgreSQL adapter once the application has pg types', () => {
    writeFileSync(
      join(app, 'postgres.ts'),
      `import type { Pool } from 'pg';
import { createPostgresParticipant } from '${pkg.name}/sdk/participant/postgres';
export function make(pool: Pool) {
  return createPostgresParticipant({ name: 'bank-a', pool, async work(client, tx) { await client.query('SELECT $1::text', [tx.txId]); } });
}
`,
    );
    writeFileSync(join(app, 'tsconfig.postgres.json'), tsconfig(['postgres.ts']));
    npm(['install', '--no-audit', '--no-fund', '--prefer-offline', `@types/pg@${typesVersion('@types/pg')}`], app);
    const result = tsc('tsconfig.postgres.json');
    expect(result.output).toBe('');
    expect(result.ok).toBe(true);
  }, 120_000);

  it('installs the ratify command', () => {
    const help = execFileSync(join(app, 'node_modules', '.bin', 'ratify'), ['node', '--help'], { encoding: 'utf8', timeout: 60_000 });
    expect(help).toContain('--cluster-secret-file');
  });
});

/** A strict application setup; skipLibCheck off, so the shipped declarations are checked too. */
function tsconfig(files: readonly string[]): string {
  return JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      types: ['node'],
    },
    files,
  });
}
