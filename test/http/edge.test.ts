// The one HTTP edge (src/http/edge.ts): every route of a node declares who may
// call it, one hook checks it before the body is read, and one handler shapes
// every error. These tests mount the edge as buildApp does.
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { RatifyError } from '../../src/errors.js';
import { PUBLIC } from '../../src/http/auth.js';
import { installEdge } from '../../src/http/edge.js';
import { peerHead } from '../transport/signing.js';

const SECRET = 'edge-secret-0123456789';
const apps: Array<{ close(): Promise<unknown> }> = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

function edgeApp(secret: string | null = SECRET) {
  const app = Fastify({ logger: false });
  apps.push(app);
  installEdge(app, { clusterSecret: secret, clusterId: 'ratify', nodeId: 'n1' });
  return app;
}

describe('the HTTP edge', () => {
  it('refuses to build a route that declares no access', async () => {
    const app = edgeApp();
    expect(() => app.get('/open-by-omission', async () => 'x')).toThrow(/declares no access/);
    app.get('/declared', { config: PUBLIC }, async () => 'x');
    await app.ready();
    expect((await app.inject({ method: 'GET', url: '/declared' })).statusCode).toBe(200);
  });

  it('checks admin and peer access before reading the body: a malformed body without the secret is 401, not 400', async () => {
    const app = edgeApp();
    let handled = 0;
    for (const access of ['admin', 'peer'] as const) {
      app.post(`/${access}`, { config: { access }, schema: { body: { type: 'object', required: ['x'] } } }, async () => {
        handled++;
        return { ok: true };
      });
    }
    await app.ready();
    for (const url of ['/admin', '/peer']) {
      const bad = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: '{not json' });
      expect(bad.statusCode).toBe(401);
      expect(bad.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
      const headers =
        url === '/admin' ? { 'x-ratify-secret': SECRET } : peerHead({ secret: SECRET, clusterId: 'ratify', from: 'n2', to: 'n1' }, '/peer');
      const ok = await app.inject({ method: 'POST', url, headers, payload: { x: 1 } });
      expect(ok.statusCode).toBe(200);
      // A peer route takes a signed head, never the bare secret; an admin route takes the secret.
      if (url === '/peer')
        expect((await app.inject({ method: 'POST', url, headers: { 'x-ratify-secret': SECRET }, payload: { x: 1 } })).statusCode).toBe(401);
    }
    expect(handled).toBe(2);
  });

  it('takes any secret of a rotation on admin routes', async () => {
    const app = edgeApp(`rotated-in-0123456789,${SECRET}`);
    app.post('/admin', { config: { access: 'admin' } }, async () => ({ ok: true }));
    await app.ready();
    for (const secret of [SECRET, 'rotated-in-0123456789']) {
      expect((await app.inject({ method: 'POST', url: '/admin', headers: { 'x-ratify-secret': secret }, payload: {} })).statusCode).toBe(
        200,
      );
    }
    expect(
      (await app.inject({ method: 'POST', url: '/admin', headers: { 'x-ratify-secret': 'rotated-in' }, payload: {} })).statusCode,
    ).toBe(401);
  });

  it('admits everyone when no secret is set (loopback development clusters)', async () => {
    const app = edgeApp(null);
    app.post('/admin', { config: { access: 'admin' } }, async () => ({ ok: true }));
    await app.ready();
    expect((await app.inject({ method: 'POST', url: '/admin', payload: {} })).statusCode).toBe(200);
  });

  it('shapes every error the same way: RatifyError, validation, body limit with its setting, unknown route, internal', async () => {
    const app = edgeApp();
    app.post('/typed', { config: PUBLIC }, async () => {
      throw new RatifyError('NO_LEADER', 'no leader');
    });
    app.post(
      '/schema',
      {
        config: PUBLIC,
        schema: { body: { type: 'object', required: ['x'], additionalProperties: false, properties: { x: { type: 'integer' } } } },
      },
      async () => 'ok',
    );
    app.post('/small', { config: { ...PUBLIC, bodyLimitSetting: 'someLimitBytes' }, bodyLimit: 16 }, async () => 'ok');
    app.get('/boom', { config: PUBLIC }, async () => {
      throw new Error('secret internal detail');
    });
    await app.ready();
    const typed = await app.inject({ method: 'POST', url: '/typed', payload: {} });
    expect([typed.statusCode, typed.headers['retry-after'], typed.json()]).toEqual([
      503,
      '1',
      { error: { code: 'NO_LEADER', message: 'no leader' } },
    ]);
    // Strict bodies: a string is not coerced to an integer.
    const schema = await app.inject({ method: 'POST', url: '/schema', payload: { x: '1' } });
    expect(schema.statusCode).toBe(400);
    expect(schema.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED', issues: [{ path: '/x' }] } });
    const big = await app.inject({ method: 'POST', url: '/small', payload: { pad: 'x'.repeat(64) } });
    expect(big.statusCode).toBe(413);
    expect(big.json().error).toMatchObject({ code: 'BODY_TOO_LARGE', message: 'the request body exceeds someLimitBytes (16)' });
    const missing = await app.inject({ method: 'GET', url: '/nope' });
    expect([missing.statusCode, missing.json().error.code]).toEqual([404, 'ROUTE_NOT_FOUND']);
    const boom = await app.inject({ method: 'GET', url: '/boom' });
    expect([boom.statusCode, boom.json().error.code]).toEqual([500, 'INTERNAL']);
    expect(boom.body).not.toContain('secret internal detail');
  });
});
