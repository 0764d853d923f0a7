// The participant behind fastify (inject, no socket) and behind node:http.
import { createServer, type Server } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createNodeHandler,
  createParticipant,
  MemoryParticipantStore,
  ratifyParticipant,
  type Participant,
} from '../../src/sdk/participant/index.js';
import { callBody, prepareBody, quiet, recordingHandlers, withTempDir, type RecordingHandlers } from './helpers.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function appWith(h: RecordingHandlers, bodyLimit?: number): Promise<{ app: FastifyInstance; p: Participant }> {
  const p = createParticipant({ store: new MemoryParticipantStore(), handlers: h, logger: quiet });
  const app = Fastify({ logger: false });
  await app.register(ratifyParticipant, { prefix: '/ratify', participant: p, ...(bodyLimit === undefined ? {} : { bodyLimit }) });
  cleanups.push(
    () => p.close(),
    () => app.close(),
  );
  return { app, p };
}

function post(app: FastifyInstance, path: string, body: unknown, term?: number) {
  return app.inject({
    method: 'POST',
    url: `/ratify/${path}`,
    payload: body as object,
    headers: term === undefined ? {} : { 'x-ratify-term': String(term) },
  });
}

describe('fastify plugin', () => {
  it('runs a 2PC round through the four routes under the prefix', async () => {
    const h = recordingHandlers();
    const { app } = await appWith(h);
    const prep = await post(app, 'prepare', prepareBody('t1', 2), 2);
    expect(prep.statusCode).toBe(200);
    expect(prep.json()).toEqual({ vote: 'commit' });
    expect((await post(app, 'commit', callBody('t1', 2), 2)).json()).toEqual({ ok: true, state: 'committed' });
    expect((await post(app, 'commit', callBody('t1', 2), 2)).json()).toEqual({ ok: true, state: 'committed' });
    expect((await post(app, 'abort', callBody('t2', 2), 2)).json()).toEqual({ ok: true, state: 'aborted' });
    expect((await post(app, 'prepare', prepareBody('t2', 2), 2)).json()).toMatchObject({ vote: 'abort' });
    expect(h.calls.map((c) => c.handler)).toEqual(['prepare', 'commit']);
  });

  it('answers schema failures with 400 VALIDATION_FAILED in the error shape', async () => {
    const { app } = await appWith(recordingHandlers());
    const cases: unknown[] = [
      { participant: 'p', term: 1, protocol: '2pc' },
      prepareBody('t', 1, { protocol: 'xpc' }),
      prepareBody('t', 1, { term: 'high' }),
      prepareBody('t', 1, { txId: 42 }),
      callBody('t', 1, { term: -3 }),
    ];
    for (const body of cases) {
      const res = await post(app, 'prepare', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED', message: expect.any(String) } });
    }
    const badHeader = await post(app, 'prepare', prepareBody('t', 1), 2);
    expect(badHeader.statusCode).toBe(400);
    const badJson = await app.inject({
      method: 'POST',
      url: '/ratify/prepare',
      payload: '{nope',
      headers: { 'content-type': 'application/json' },
    });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
  });

  it('answers an oversized body with 413 BODY_TOO_LARGE', async () => {
    const { app } = await appWith(recordingHandlers(), 1024);
    const res = await post(app, 'prepare', prepareBody('t', 1, { payload: 'x'.repeat(2048) }));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: { code: 'BODY_TOO_LARGE' } });
  });

  it('fences a stale term with 409 STALE_TERM', async () => {
    const { app } = await appWith(recordingHandlers());
    await post(app, 'prepare', prepareBody('t', 6), 6);
    const res = await post(app, 'commit', callBody('t', 5), 5);
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({ error: { code: 'STALE_TERM', message: expect.any(String), highestTerm: 6 } });
  });

  it('reports protocol violations with 409 and the code', async () => {
    const { app } = await appWith(recordingHandlers());
    await post(app, 'abort', callBody('t', 1), 1);
    const res = await post(app, 'commit', callBody('t', 1), 1);
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ error: { code: 'TX_ALREADY_ABORTED' } });
  });

  it('serves POST /batch under the prefix, answering each call as its own route would', async () => {
    const h = recordingHandlers();
    const { app } = await appWith(h);
    const calls = [
      { call: 'prepare', body: prepareBody('b1', 2) },
      { call: 'commit', body: callBody('b0', 2) },
    ];
    const res = await post(app, 'batch', { term: 2, calls }, 2);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      results: [
        { status: 200, body: { vote: 'commit' } },
        { status: 404, body: { error: { code: 'TX_NOT_FOUND', message: expect.any(String) } } },
      ],
    });
    expect((await app.inject({ method: 'GET', url: '/ratify/batch' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/batch', payload: { term: 2, calls } })).statusCode).toBe(404);
    expect(h.count('prepare')).toBe(1);
  });

  it('creates, starts and closes its own participant when given options', async () => {
    await withTempDir(async (dir) => {
      const h = recordingHandlers();
      const app = Fastify({ logger: false });
      await app.register(ratifyParticipant, { dataDir: dir, handlers: h, logger: quiet });
      await app.ready();
      const res = await app.inject({ method: 'POST', url: '/prepare', payload: prepareBody('t', 1) });
      expect(res.json()).toEqual({ vote: 'commit' });
      await app.close();
      // The LevelDB lock is released: a second participant can open the same directory.
      const again = createParticipant({ dataDir: dir, handlers: h, logger: quiet });
      expect((await again.handle('prepare', prepareBody('t', 1))).body).toEqual({ vote: 'commit' });
      await again.close();
      expect(h.count('prepare')).toBe(1);
    });
  });
});

describe('node:http handler', () => {
  async function serve(h: RecordingHandlers): Promise<string> {
    const p = createParticipant({ store: new MemoryParticipantStore(), handlers: h, logger: quiet });
    const server: Server = createServer(createNodeHandler(p, { prefix: '/tx', bodyLimit: 4096 }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(
      () => p.close(),
      () => new Promise((r) => server.close(r)),
    );
    return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  }

  async function call(base: string, path: string, body: string, method = 'POST') {
    const res = await request(`${base}${path}`, {
      method,
      body: method === 'POST' ? body : null,
      headers: { 'content-type': 'application/json' },
    });
    return { status: res.statusCode, body: (await res.body.json()) as unknown };
  }

  it('serves the protocol and maps errors to the error shape', async () => {
    const h = recordingHandlers();
    const base = await serve(h);
    expect(await call(base, '/tx/prepare', JSON.stringify(prepareBody('t', 3)))).toEqual({ status: 200, body: { vote: 'commit' } });
    expect(await call(base, '/tx/commit', JSON.stringify(callBody('t', 3)))).toEqual({
      status: 200,
      body: { ok: true, state: 'committed' },
    });
    expect(await call(base, '/tx/commit', JSON.stringify(callBody('t', 2)))).toMatchObject({
      status: 409,
      body: { error: { code: 'STALE_TERM' } },
    });
    expect(await call(base, '/tx/prepare', '{bad')).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
    expect(await call(base, '/tx/prepare', JSON.stringify(prepareBody('big', 3, { payload: 'x'.repeat(5000) })))).toMatchObject({
      status: 413,
      body: { error: { code: 'BODY_TOO_LARGE' } },
    });
    expect(await call(base, '/tx/explode', '{}')).toMatchObject({ status: 404, body: { error: { code: 'ROUTE_NOT_FOUND' } } });
    expect(await call(base, '/tx/prepare', '', 'GET')).toMatchObject({ status: 404 });
    expect(h.calls.map((c) => c.handler)).toEqual(['prepare', 'commit']);
  });

  it('serves POST /batch and nothing else at that path', async () => {
    const h = recordingHandlers();
    const base = await serve(h);
    const batch = {
      term: 3,
      calls: [
        { call: 'prepare', body: prepareBody('t', 3) },
        { call: 'undo', body: callBody('t', 3) },
      ],
    };
    expect(await call(base, '/tx/batch', JSON.stringify(batch))).toEqual({
      status: 200,
      body: {
        results: [
          { status: 200, body: { vote: 'commit' } },
          { status: 400, body: { error: { code: 'VALIDATION_FAILED', message: expect.any(String) } } },
        ],
      },
    });
    expect(await call(base, '/tx/batch', '', 'GET')).toMatchObject({ status: 404, body: { error: { code: 'ROUTE_NOT_FOUND' } } });
    expect(await call(base, '/tx/batch', '{bad')).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
    expect(h.count('prepare')).toBe(1);
  });
});
