// /healthz detects a wedged node: a real node (startNode, LevelDB, HTTP) whose log
// writes are stalled by the RATIFY_TEST_STALL_STORAGE_FILE test switch answers
// 503 with the reason once a write has been pending longer than healthStallMs,
// and 200 again once the disk answers. The unit half checks the Raft-loop rule
// (work pending, no Ready finished) on its own.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { resolveNodeConfig } from '../../src/node/config.js';
import { LoopProgress, wedgedReason } from '../../src/node/liveness.js';
import { startNode, type RunningNode } from '../../src/node/server.js';
import { STALL_STORAGE_FILE_ENV } from '../../src/node/test-switches.js';
import { freePorts } from '../helpers/cluster.js';
import { httpJson } from '../helpers/http.js';
import { waitUntil } from '../helpers/wait.js';

const dataRoot = mkdtempSync(join(tmpdir(), 'ratify-wedge-'));
const stallFile = join(dataRoot, 'stall');
let running: RunningNode | null = null;

afterAll(async () => {
  rmSync(stallFile, { force: true }); // a stalled write would hold up the stop
  await running?.stop();
  rmSync(dataRoot, { recursive: true, force: true });
});

describe('/healthz on a wedged node', () => {
  it('answers 503 with the reason while a log write is stuck past healthStallMs, and 200 once it moves', async () => {
    const [port] = await freePorts(1);
    const url = `http://127.0.0.1:${port}`;
    const config = resolveNodeConfig({
      flags: { id: 'w1', peers: `w1=${url}`, dataDir: join(dataRoot, 'w1'), stateMachine: 'tx', healthStallMs: '300' },
    });
    running = await startNode(config, {
      processMetrics: false,
      logger: silentLogger(),
      env: { NODE_ENV: 'test', [STALL_STORAGE_FILE_ENV]: stallFile },
    });
    await waitUntil(async () => (await httpJson('GET', `${url}/readyz`)).status === 200, { what: 'node ready' });
    expect(await httpJson('GET', `${url}/healthz`)).toMatchObject({ status: 200, body: { status: 'ok' } });

    writeFileSync(stallFile, '');
    // Work arrives: its entry must be written, and the write never returns.
    const pending = httpJson('POST', `${url}/v1/transactions`, { body: {}, timeoutMs: 30_000 }).catch(() => null);
    const wedged = await waitUntil(
      async () => {
        const r = await httpJson<{ status: string; reason?: string }>('GET', `${url}/healthz`);
        return r.status === 503 ? r.body : undefined;
      },
      { what: '/healthz to report the wedge', timeoutMs: 20_000 },
    );
    expect(wedged.status).toBe('wedged');
    expect(wedged.reason).toMatch(/^storage: a log write has been in flight for \d+ ms \(healthStallMs 300\)$/);

    rmSync(stallFile);
    await waitUntil(async () => (await httpJson('GET', `${url}/healthz`)).status === 200, { what: '/healthz healthy again' });
    expect((await pending)?.status).toBe(201);
  });

  it('refuses a bound below ten ticks, naming the value and the limit', () => {
    expect(() =>
      resolveNodeConfig({ flags: { id: 'a', peers: 'a=http://127.0.0.1:1', dataDir: '/tmp/x', healthStallMs: '150', tickMs: '20' } }),
    ).toThrow('healthStallMs (150) must be at least 10 x tickMs (200)');
    expect(() => resolveNodeConfig({ flags: { id: 'a', peers: 'a=http://127.0.0.1:1', dataDir: '/tmp/x', healthStallMs: '50' } })).toThrow(
      /healthStallMs \(50\)/,
    );
  });
});

describe('the wedge rules', () => {
  it('judges the Raft loop wedged only while work is pending and no Ready finishes', () => {
    let now = 1000;
    const loop = new LoopProgress(() => now);
    const sources = { loopStalledSince: () => loop.stalledSince(pending), oldestWriteStartedAt: () => null };
    let pending = false;
    now += 60_000; // idle for a minute: nothing pending, nothing wedged
    expect(wedgedReason(sources, 500, now)).toBeNull();
    pending = true; // a Ready waits, and nothing picks it up (a lost wake-up)
    expect(wedgedReason(sources, 500, now)).toBeNull();
    now += 501;
    expect(wedgedReason(sources, 500, now)).toMatch(/^raft loop: work pending and no Ready finished for 501 ms/);
    loop.begin(); // picked up at last, and the Ready itself hangs
    now += 400;
    expect(wedgedReason(sources, 500, now)).toBeNull();
    now += 200;
    expect(wedgedReason(sources, 500, now)).toMatch(/^raft loop: .* 600 ms/);
    loop.end();
    pending = false;
    expect(wedgedReason(sources, 500, now)).toBeNull();
  });

  it('names storage first when a write is what hangs', () => {
    const reason = wedgedReason({ loopStalledSince: () => 0, oldestWriteStartedAt: () => 100 }, 500, 1000);
    expect(reason).toBe('storage: a log write has been in flight for 900 ms (healthStallMs 500)');
  });
});
