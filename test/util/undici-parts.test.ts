// src/util/undici-parts.ts loads undici's Agent, Pool, connector and request API by
// file, without the index. They must be the index's very exports, and work as they
// do once the index has loaded: an undici upgrade that moves or replaces one of
// those files fails here. This file imports the index only in its last test, so
// the ones before it see what a node sees.
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, buildConnector, Pool, request } from '../../src/util/undici-parts.js';

let server: Server;
let origin: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ method: req.method, url: req.url, auth: req.headers.authorization ?? null }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const requireHere = createRequire(import.meta.url);

describe('undici-parts', () => {
  it("give every dispatcher undici's request API without the index, as the index does", async () => {
    expect(
      requireHere.cache[requireHere.resolve('undici')],
      "undici's index is loaded already: this test would prove nothing",
    ).toBeUndefined();
    for (const method of ['request', 'stream', 'pipeline', 'connect', 'upgrade'] as const) {
      expect(typeof Pool.prototype[method], method).toBe('function');
    }
    const pool = new Pool(origin);
    try {
      const res = await pool.request({ path: '/raft/x', method: 'POST', body: '{}' });
      expect(await res.body.json()).toEqual({ method: 'POST', url: '/raft/x', auth: null });
    } finally {
      await pool.close();
    }
  });

  it('request sends method, path, query and headers through the given dispatcher', async () => {
    const agent = new Agent();
    let dispatched = 0;
    const counting = agent.compose((dispatch) => (opts, handler) => {
      dispatched++;
      return dispatch(opts, handler);
    });
    try {
      const res = await request(counting, `${origin}/v1/cluster?x=1`, { method: 'GET', headers: { authorization: 'Bearer t' } });
      expect(res.statusCode).toBe(200);
      expect(await res.body.json()).toEqual({ method: 'GET', url: '/v1/cluster?x=1', auth: 'Bearer t' });
      const post = await request(counting, `${origin}/p`, { method: 'POST', body: '{}' });
      expect(await post.body.json()).toEqual({ method: 'POST', url: '/p', auth: null });
      expect(dispatched).toBe(2);
    } finally {
      await agent.close();
    }
  });

  it("are undici's own exports (the last test: it loads the index)", async () => {
    const undici = await import('undici');
    expect(Agent).toBe(undici.Agent);
    expect(Pool).toBe(undici.Pool);
    expect(buildConnector).toBe(undici.buildConnector);
  });
});
