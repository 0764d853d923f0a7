// Readable logs on a terminal, JSON lines everywhere else (issue 16: `npm start` filled
// the terminal with raw JSON). The formatter on its own, then `ratify cluster` under a
// real pseudo-terminal (util-linux `script`) and under a pipe.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { colorLogs, formatLogLine, prettyLogs } from '../../src/log-format.js';
import { relayLine } from '../../src/node/local-cluster.js';
import { CLI_PATH, freePorts } from '../helpers/cluster.js';
import { waitUntil } from '../helpers/wait.js';

const tmp = mkdtempSync(join(tmpdir(), 'ratify-log-format-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const ANSI = /\u001b\[[0-9;]*m/g;

describe('formatLogLine', () => {
  const line = JSON.stringify({
    level: 40,
    time: '2026-12-04T17:02:14.020Z',
    nodeId: 'n1',
    term: 2,
    msg: 'peer n3 unreachable',
    peer: 'n3',
    failures: 3,
    detail: 'two words',
    obj: { a: 1 },
  });

  it('turns a pino JSON line into one readable line: time, level, node, term, message, then the other fields', () => {
    expect(formatLogLine(`${line}\n`, { color: false })).toBe(
      '17:02:14.020 WARN  n1 t2 peer n3 unreachable  peer=n3 failures=3 detail="two words" obj={"a":1}\n',
    );
    expect(formatLogLine(line, { color: false, omitNodeId: true })).toBe(
      '17:02:14.020 WARN  t2 peer n3 unreachable  peer=n3 failures=3 detail="two words" obj={"a":1}',
    );
  });

  it('colours only when asked, and puts an error stack under its line', () => {
    expect(formatLogLine(line, { color: true })).toMatch(ANSI);
    expect(formatLogLine(line, { color: true }).replace(ANSI, '')).toBe(formatLogLine(line, { color: false }));
    const err = JSON.stringify({
      level: 50,
      time: '2026-12-04T17:02:15.001Z',
      nodeId: 'n1',
      msg: 'boom',
      err: { type: 'Error', message: 'x', stack: 'Error: x\n    at f (a.js:1:1)' },
    });
    expect(formatLogLine(err, { color: false })).toBe('17:02:15.001 ERROR n1 boom\n    Error: x\n        at f (a.js:1:1)');
  });

  it('leaves every other line as it is', () => {
    for (const other of ['plain text\n', '{not json', '[1,2]', '{"no":"level"}', ''])
      expect(formatLogLine(other, { color: false })).toBe(other);
  });

  it('pretty-prints on a terminal (auto) or when asked, never otherwise; colours unless NO_COLOR', () => {
    expect([prettyLogs('auto', true), prettyLogs('auto', false), prettyLogs('json', true), prettyLogs('pretty', false)]).toEqual([
      true,
      false,
      false,
      true,
    ]);
    expect([colorLogs(true, {}), colorLogs(true, { NO_COLOR: '1' }), colorLogs(false, {})]).toEqual([true, false, false]);
  });

  it('ratify cluster relays a line with its node id, as it came or readable', () => {
    expect(relayLine('n2', line, undefined)).toBe(`[n2] ${line}\n`);
    expect(relayLine('n2', '{"level":50,"msg":"boom","err":{"stack":"E\\n at f"}}', { color: false, omitNodeId: true })).toBe(
      '[n2] ERROR boom\n[n2]     E\n[n2]      at f\n',
    );
  });
});

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

describe('ratify cluster output', () => {
  it('writes JSON lines, prefixed with the node id, when stdout is a pipe', async () => {
    const [port] = await freePorts(1);
    const proc = spawn(process.execPath, [CLI_PATH, 'cluster', '--nodes', '1', '--base-port', String(port), '--data', join(tmp, 'pipe')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (b: Buffer) => (out += b.toString()));
    try {
      await waitUntil(() => out.includes('ratify node started'), {
        timeoutMs: 60_000,
        what: `the node to start (output: ${out.slice(-1500)})`,
      });
      const nodeLines = out.split('\n').filter((l) => l.startsWith('[n1] '));
      expect(nodeLines.length).toBeGreaterThan(2);
      for (const l of nodeLines)
        expect(JSON.parse(l.slice('[n1] '.length))).toMatchObject({ level: expect.any(Number), nodeId: 'n1', msg: expect.any(String) });
      expect(out).not.toMatch(ANSI);
    } finally {
      const exited = new Promise((r) => proc.once('exit', r));
      if (proc.pid !== undefined) process.kill(proc.pid, 'SIGINT');
      await exited;
    }
  });

  it('ratify node writes readable lines with --log-format pretty, even to a pipe', async () => {
    const [port] = await freePorts(1);
    const args = ['node', '--id', 'n1', '--peers', `n1=http://127.0.0.1:${port}`, '--data', join(tmp, 'node'), '--log-format', 'pretty'];
    const proc = spawn(process.execPath, [CLI_PATH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (b: Buffer) => (out += b.toString()));
    try {
      await waitUntil(() => out.includes('ratify node started'), {
        timeoutMs: 60_000,
        what: `the node to start (output: ${out.slice(-1500)})`,
      });
      expect(out).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}n1( t\d+)? ratify node started {2}listen=/m);
      expect(out).not.toContain('{"level"');
      expect(out).not.toMatch(ANSI); // not a terminal: no colours
    } finally {
      const exited = new Promise((r) => proc.once('exit', r));
      if (proc.pid !== undefined) process.kill(proc.pid, 'SIGTERM');
      await exited;
    }
  });

  // util-linux is part of every Debian (and CI) system; elsewhere say why this is skipped.
  it.skipIf(!hasScript)('writes readable lines on a terminal, and stops on Ctrl-C', async () => {
    const [port] = await freePorts(1);
    const command = `'${process.execPath}' '${CLI_PATH}' cluster --nodes 1 --base-port ${port} --data '${join(tmp, 'tty')}'`;
    const proc = spawn('script', ['-qefc', command, '/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '' },
    });
    let out = '';
    proc.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise((r) => proc.once('exit', r));
    try {
      await waitUntil(() => out.includes('ratify node started'), {
        timeoutMs: 60_000,
        what: `the node to start (output: ${out.slice(-1500)})`,
      });
      const plain = out.replace(ANSI, '');
      expect(plain).toMatch(/^\[n1\] \d\d:\d\d:\d\d\.\d{3} INFO {2}t\d+ ratify node started {2}listen=/m);
      expect(plain).toMatch(/^\[n1\] \d\d:\d\d:\d\d\.\d{3} INFO {2}effective configuration/m);
      expect(plain).not.toContain('[n1] {"level"');
      proc.stdin.write('\u0003'); // Ctrl-C, as a user stops it
      await exited;
      expect(out).toContain('[cluster] SIGINT: stopping');
    } finally {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL'); // its terminal closes: the cluster and the node get SIGHUP
        await exited;
      }
      for (const m of out.matchAll(/\(pid (\d+)\)/g)) {
        try {
          process.kill(Number(m[1]), 'SIGKILL');
        } catch {
          // already gone, as it should be
        }
      }
    }
  });
});
