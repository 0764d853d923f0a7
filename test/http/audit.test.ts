// The audit line's txId (src/http/audit.ts): a route that knows which
// transaction it answered about says so (request.auditTxId), and the line uses
// that rather than parsing the reply back; the reply is read only as a fallback.
import fastify, { type FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { installAudit } from '../../src/http/audit.js';

const apps: Array<{ close: () => Promise<unknown> }> = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

async function appWith(route: (req: { auditTxId: string | null }) => string) {
  const lines: Record<string, unknown>[] = [];
  const logger: FastifyBaseLogger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const app = fastify({ loggerInstance: logger });
  apps.push(app);
  // What installAuth decorates in a node (the audit hook reads them).
  app.decorateRequest('principal', null);
  app.decorateRequest('forwardedBy', null);
  app.decorateRequest('forwardedTo', null);
  app.decorateRequest('clientAddress', '');
  installAudit(app);
  app.post('/v1/transactions', { config: { audit: 'tx.create' } }, async (req, reply) => {
    void reply.code(201).header('content-type', 'application/json');
    return route(req);
  });
  await app.ready();
  return { app, audit: () => lines.filter((l) => l['msg'] === 'audit') };
}

describe('the audit line of a create', () => {
  it('names the transaction the route set, without reading the reply', async () => {
    const { app, audit } = await appWith((req) => {
      req.auditTxId = 'tx-from-route';
      return '{"id":"tx-in-reply"}';
    });
    const res = await app.inject({ method: 'POST', url: '/v1/transactions' });
    expect(res.statusCode).toBe(201);
    expect(audit()).toEqual([expect.objectContaining({ audit: 'tx.create', txId: 'tx-from-route', status: 201 })]);
  });

  it('falls back to the id of the reply when the route set none', async () => {
    const { app, audit } = await appWith(() => '{"id":"tx-in-reply"}');
    await app.inject({ method: 'POST', url: '/v1/transactions' });
    expect(audit()).toEqual([expect.objectContaining({ txId: 'tx-in-reply' })]);
  });
});
