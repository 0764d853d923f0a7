// SIGTERM of a busy leader (real node processes on loopback): the process must
// stop gracefully and exit 0 on its own, never needing SIGKILL. Load that held the
// old stop (fastify's close() waits for every open request and connection):
// keep-alive clients streaming writes, and transactions committed in one request
// whose replies wait for a decision that the stopped coordinator never reaches.
//
// stopNode() sends the signal and waits 15 s (three times the configured bound)
// before it falls back to SIGKILL, which would show up as signal "SIGKILL" and
// code null. The exit code is asserted, never the time it took.
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { httpJson } from '../helpers/http.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const SHUTDOWN_TIMEOUT_MS = 5000;
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function cluster(stateMachine: 'kv' | 'tx', args: readonly string[] = []): Promise<TestCluster> {
  const c = await startCluster({ nodes: 3, stateMachine, args: ['--shutdown-timeout-ms', String(SHUTDOWN_TIMEOUT_MS), ...args] });
  cleanups.push(() => c.cleanup());
  return c;
}

/** A TCP server that accepts connections and never answers: a participant that hangs. */
async function silentParticipant(): Promise<string> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return `http://127.0.0.1:${addr.port}/participant`;
}

describe('graceful stop of a leader under load', () => {
  it('exits 0 on SIGTERM while keep-alive clients stream KV writes at it', async () => {
    const c = await cluster('kv');
    const { leaderId, url } = await c.waitForLeader();
    const agent = new Agent({ connections: 8, keepAliveTimeout: 60_000 });
    cleanups.push(() => agent.destroy());
    let running = true;
    let acked = 0;
    const writer = async (w: number): Promise<void> => {
      for (let i = 0; running; i++) {
        try {
          const res = await agent.request({
            origin: url,
            path: `/v1/kv/w${w}-${i}`,
            method: 'PUT',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ value: String(i) }),
          });
          await res.body.text();
          if (res.statusCode === 200) acked++;
        } catch {
          await sleep(20); // the node went away; keep knocking until told to stop
        }
      }
    };
    const writers = Array.from({ length: 8 }, (_, w) => writer(w));
    try {
      await waitUntil(() => acked >= 100, { what: '100 acknowledged writes' });
      const exit = await c.stopNode(leaderId, 'SIGTERM');
      expect(exit, c.dumpLogs([leaderId])).toEqual({ code: 0, signal: null });
    } finally {
      running = false;
      await Promise.all(writers);
    }
  });

  it('exits 0 on SIGTERM while transactions stream in and a commit waits on a silent participant; the waiting commit is answered SHUTTING_DOWN', async () => {
    const c = await cluster('tx', ['--tx', 'prepareCallTimeoutMs=120000', '--tx', 'defaultTimeoutMs=300000']);
    const silent = await silentParticipant();
    const slow = await slowParticipant(100);
    const { leaderId, url } = await c.waitForLeader();
    const created = await httpJson<{ id: string }>('POST', `${url}/v1/transactions`, {
      body: { participants: [{ name: 'silent', url: silent }] },
    });
    expect(created.status).toBe(201);
    const commit = httpJson('POST', `${url}/v1/transactions/${created.body.id}/commit`, { timeoutMs: 60_000 }).catch((err: unknown) => err);
    // The commit request is in flight: the transaction has left "active".
    await waitUntil(
      async () => (await httpJson<{ state: string }>('GET', `${url}/v1/transactions/${created.body.id}`)).body.state !== 'active',
      {
        what: 'commit to be requested',
      },
    );
    // Transactions that commit in one request each wait for their decision while the node stops.
    const agent = new Agent({ connections: 16, keepAliveTimeout: 60_000 });
    cleanups.push(() => agent.destroy());
    let running = true;
    let decided = 0;
    const client = async (): Promise<void> => {
      while (running) {
        try {
          const res = await agent.request({
            origin: url,
            path: '/v1/transactions',
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              participants: [
                { name: 'a', url: `${slow}/a` },
                { name: 'b', url: `${slow}/b` },
              ],
              commit: true,
            }),
          });
          await res.body.text();
          if (res.statusCode === 200) decided++; // created and decided in one request
        } catch {
          await sleep(20);
        }
      }
    };
    const clients = Array.from({ length: 16 }, () => client());
    try {
      await waitUntil(() => decided >= 50, { what: '50 decided transactions' });
      const exit = await c.stopNode(leaderId, 'SIGTERM');
      expect(exit, c.dumpLogs([leaderId])).toEqual({ code: 0, signal: null });
      const reply = await commit;
      expect(reply).toMatchObject({ status: 503, body: { error: { code: 'SHUTTING_DOWN' } } });
    } finally {
      running = false;
      await Promise.all(clients);
    }
  });
});

/** A participant that votes commit and acknowledges everything, each after `delayMs`. */
async function slowParticipant(delayMs: number): Promise<string> {
  const server = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      setTimeout(() => {
        res.setHeader('content-type', 'application/json');
        res.end(req.url?.endsWith('/prepare') === true ? '{"vote":"commit"}' : '{}');
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return `http://127.0.0.1:${addr.port}`;
}
