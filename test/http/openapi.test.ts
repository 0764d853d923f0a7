// The OpenAPI document a node serves at /openapi.json: every route a client can
// call is in it (compared with the router's own list of routes), peer routes are
// not, every error code of src/errors.ts is, and the README's endpoint tables name
// the same operations.
import { readFileSync } from 'node:fs';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';
import { buildApp } from '../../src/http/app.js';
import { ADMIN, CLIENT, PEER, PUBLIC } from '../../src/http/auth.js';
import { installOpenApi, openApiPath, packageVersion, swaggerOptions } from '../../src/http/openapi.js';
import { errorBodySchema } from '../../src/http/schemas.js';
import { silentLogger } from '../../src/logger.js';
import { createKvStateMachine, type KvStateMachine } from '../../src/kv/state-machine.js';
import { InProcessCluster } from '../helpers/in-process-cluster.js';
import { startTxAppCluster, type TxAppCluster } from '../helpers/tx-app-cluster.js';

type Doc = {
  openapi: string;
  info: { version: string };
  paths: Record<
    string,
    Record<
      string,
      {
        tags?: string[];
        security?: unknown[];
        responses: Record<string, { content?: Record<string, { schema?: Record<string, unknown> }> }>;
      }
    >
  >;
  components: { schemas: Record<string, Record<string, unknown>>; securitySchemes: Record<string, unknown> };
};

let txCluster: TxAppCluster;
let kvCluster: InProcessCluster<KvStateMachine>;
let txApp: FastifyInstance;
let kvApp: FastifyInstance;
let txDoc: Doc;
let kvDoc: Doc;

beforeAll(async () => {
  txCluster = await startTxAppCluster();
  txApp = (await txCluster.leader()).app;
  kvCluster = new InProcessCluster({ ids: ['k1'], createStateMachine: () => createKvStateMachine() });
  await kvCluster.startAll();
  const node = kvCluster.node('k1');
  kvApp = await buildApp({
    config: {
      nodeId: 'k1',
      clusterId: 'ratify',
      clusterSecret: 'a-secret-of-16-chars',
      bodyLimitBytes: 1 << 16,
      raftBodyLimitBytes: 1 << 20,
      readyLagEntriesMax: 0,
      forwardTimeoutMs: 1000,
    },
    node,
    logger: silentLogger(),
    metrics: kvCluster.member('k1').metrics,
    onRaftMessages: (msgs) => node.receive(msgs),
    kv: kvCluster.member('k1').stateMachine,
  });
  txDoc = (await txApp.inject({ method: 'GET', url: '/openapi.json' })).json<Doc>();
  kvDoc = (await kvApp.inject({ method: 'GET', url: '/openapi.json' })).json<Doc>();
});
afterAll(async () => {
  await kvApp?.close();
  await kvCluster?.stopAll();
  await txCluster?.close();
});

/** Every method and path the router knows, read from fastify's own route tree. */
function routerRoutes(app: FastifyInstance): Array<{ method: string; url: string }> {
  const out: Array<{ method: string; url: string }> = [];
  const pathAt: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│ ]*)(?:└── |├── )(.+?)(?: \(([^)]+)\))?$/.exec(line);
    if (m === null) continue;
    const depth = m[1]!.length / 4;
    const url = (depth === 0 ? '' : pathAt[depth - 1]!) + m[2]!;
    pathAt[depth] = url;
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim())) if (method !== '') out.push({ method, url });
  }
  return out;
}

const operations = (doc: Doc): string[] =>
  Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`));

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document of this version of the package', () => {
    expect(txDoc.openapi).toBe('3.1.0');
    expect(txDoc.info.version).toBe(packageVersion());
    expect(txDoc.info.version).toBe(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);
  });

  it('has every route a client can call, on a coordinator node and on a kv node, and no peer route', () => {
    for (const [app, doc] of [
      [txApp, txDoc],
      [kvApp, kvDoc],
    ] as const) {
      const routes = routerRoutes(app).filter((r) => r.method !== 'HEAD');
      expect(routes.length).toBeGreaterThan(15);
      const peer = routes.filter((r) => r.url.startsWith('/raft/'));
      expect(peer.length).toBeGreaterThan(0); // they exist on the node ...
      expect(Object.keys(doc.paths).filter((p) => p.startsWith('/raft'))).toEqual([]); // ... and stay out of the document
      const missing = routes.filter(
        (r) => !r.url.startsWith('/raft/') && doc.paths[openApiPath(r.url)]?.[r.method.toLowerCase()] === undefined,
      );
      expect(missing).toEqual([]);
    }
    expect(operations(txDoc)).toEqual(
      expect.arrayContaining(['POST /v1/transactions', 'GET /v1/transactions/{id}', 'GET /v1/activity', 'GET /v1/cluster/nodes', 'GET /']),
    );
    expect(operations(kvDoc)).toEqual(expect.arrayContaining(['PUT /v1/kv/{key}', 'GET /v1/stats']));
    expect(operations(kvDoc)).not.toContain('GET /v1/activity');
  });

  it('names every error code of src/errors.ts, with its status, and every error answer points at the Error schema', () => {
    const codeSchema = txDoc.components.schemas['ErrorCode']!;
    expect(codeSchema['enum']).toEqual(Object.keys(ERROR_CODES));
    expect(codeSchema['x-errors']).toEqual(
      Object.entries(ERROR_CODES).map(([code, v]) => ({ code, status: v.status, description: v.description })),
    );
    for (const code of Object.keys(ERROR_CODES))
      expect(codeSchema['description']).toContain(`\`${code}\` (${ERROR_CODES[code as keyof typeof ERROR_CODES].status})`);
    let errorAnswers = 0;
    for (const [path, ops] of Object.entries(txDoc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const [status, response] of Object.entries(op.responses)) {
          if (!/^[45]XX$/.test(status)) continue; // (a 503 of /readyz is its readiness body, not an error)
          errorAnswers++;
          expect(response.content?.['application/json']?.schema, `${method} ${path} ${status}`).toEqual({
            $ref: '#/components/schemas/Error',
          });
        }
      }
    }
    expect(errorAnswers).toBeGreaterThan(20);
  });

  it('marks the admin routes with the cluster-secret header, and only them; every operation has a tag', () => {
    expect(txDoc.components.securitySchemes['clusterSecret']).toEqual(
      expect.objectContaining({ type: 'apiKey', in: 'header', name: 'x-ratify-secret' }),
    );
    const secured = Object.entries(txDoc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => op.security !== undefined)
        .map(([m]) => `${m.toUpperCase()} ${path}`),
    );
    expect(secured.sort()).toEqual([
      'DELETE /v1/cluster/members/{id}',
      'GET /v1/admin/stuck-transactions',
      'GET /v1/cluster/snapshot',
      'POST /v1/admin/stuck-transactions/{id}/force-finish',
      'POST /v1/cluster/leadership-transfer',
      'POST /v1/cluster/members',
      'POST /v1/cluster/members/{id}/promote',
    ]);
    for (const ops of Object.values(txDoc.paths)) for (const op of Object.values(ops)) expect(op.tags?.length).toBe(1);
  });

  it('describes the transaction view with the enums the server uses', () => {
    const view = txDoc.paths['/v1/transactions/{id}']!['get']!.responses['200']!.content!['application/json']!.schema as {
      properties: Record<string, { enum?: unknown[] }>;
    };
    expect(view.properties['state']?.enum).toEqual([
      'active',
      'preparing',
      'precommitted',
      'committing',
      'aborting',
      'committed',
      'aborted',
    ]);
    expect(view.properties['protocol']?.enum).toEqual(['2pc', '3pc']);
  });
});

describe('the document, made on first use', () => {
  it('is the one @fastify/swagger makes when registered on the app itself', async () => {
    // Routes of every shape the node has: under a prefix, with params, a body, error
    // answers, a GET and its HEAD twin, an admin route and a peer route (left out).
    const app = Fastify();
    const openApi = installOpenApi(app, { version: '9.9.9' });
    await app.register(fastifySwagger, swaggerOptions('9.9.9'));
    const handler = async (): Promise<object> => ({});
    const idParams = { type: 'object', properties: { id: { type: 'string', maxLength: 64 } }, required: ['id'] };
    await app.register(
      async (scope) => {
        scope.post(
          '/transactions/:id/commit',
          {
            config: CLIENT,
            schema: {
              params: idParams,
              body: { type: 'object', properties: { reason: { type: ['string', 'null'] } }, additionalProperties: false },
              response: {
                200: { type: 'object', properties: { state: { type: 'string', enum: ['committed', 'aborted'] } } },
                409: errorBodySchema,
              },
            },
          },
          handler,
        );
        scope.get('/transactions/:id', { config: CLIENT, schema: { params: idParams, response: { 404: errorBodySchema } } }, handler);
        scope.delete('/cluster/members/:id', { config: ADMIN, schema: { params: idParams } }, handler);
      },
      { prefix: '/v1' },
    );
    app.get('/healthz', { config: PUBLIC }, handler);
    app.post('/raft/messages', { config: PEER }, handler);
    await app.ready();
    const eager = app.swagger() as unknown as Doc;
    const made = (await openApi.document()) as Doc;
    expect(made).toEqual(eager);
    expect(Object.keys(made.paths).sort()).toEqual([
      '/healthz',
      '/v1/cluster/members/{id}',
      '/v1/transactions/{id}',
      '/v1/transactions/{id}/commit',
    ]);
    expect(made.paths['/v1/cluster/members/{id}']!['delete']!.security).toEqual([{ clusterSecret: [] }]);
    expect(await openApi.document()).toBe(made); // made once
    await app.close();
  });
});

describe('GET /docs', () => {
  it('is the page that renders the document, under the same content security policy as the dashboard', async () => {
    const res = await txApp.inject({ method: 'GET', url: '/docs' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.body).toContain('src="assets/docs.js"');
  });
});

describe('README', () => {
  it("names exactly the document's operations in its endpoint tables", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const documented = new Set([...readme.matchAll(/^\| `(GET|POST|PUT|DELETE) ([^`?\s]+)/gm)].map((m) => `${m[1]} ${m[2]}`));
    const served = new Set([...operations(txDoc), ...operations(kvDoc)]);
    expect([...documented].filter((op) => !served.has(op)).sort()).toEqual([]);
    expect([...served].filter((op) => !documented.has(op)).sort()).toEqual([]);
  });
});
