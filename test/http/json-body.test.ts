// The edge's JSON body parser (src/http/json-body.ts): a nesting-depth limit on
// every body, and a correct message for "__proto__" keys. Checked on a bare edge
// and through the transaction routes on a leader and on a follower, where a deep
// body used to become 500 (msgpackr overflowing the stack) and 503 (the forward).
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { PUBLIC } from '../../src/http/auth.js';
import { installEdge } from '../../src/http/edge.js';
import fc from 'fast-check';
import { checkJsonValue, JSON_DEPTH_MAX_DEFAULT, parseJsonBody, plainlyWithinLimits } from '../../src/http/json-body.js';
import { FakeCluster } from '../tx/fake-log.js';
import { startNode, type TestNode } from '../tx/harness.js';

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** `[[[...null...]]]` nested `depth` deep: depth 1 is `[null]`. */
function nested(depth: number): string {
  return `${'['.repeat(depth)}null${']'.repeat(depth)}`;
}

async function echoApp(jsonDepthMax?: number) {
  const app = Fastify({ logger: false });
  closers.push(() => app.close());
  installEdge(app, { clusterSecret: null, clusterId: 'ratify', nodeId: 'n1', ...(jsonDepthMax === undefined ? {} : { jsonDepthMax }) });
  app.post('/echo', { config: PUBLIC }, async (req) => ({ body: req.body }));
  await app.ready();
  return (payload: string, contentType = 'application/json') =>
    app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': contentType }, payload });
}

describe('JSON bodies at the edge', () => {
  it('accepts nesting up to jsonDepthMax and refuses one level more with 400 naming the limit', async () => {
    const post = await echoApp();
    expect((await post(nested(JSON_DEPTH_MAX_DEFAULT))).statusCode).toBe(200);
    const deeper = await post(nested(JSON_DEPTH_MAX_DEFAULT + 1));
    expect(deeper.statusCode).toBe(400);
    expect(deeper.json().error).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining('deeper than 64 levels') });
    // The body that made msgpackr overflow, and one deep enough for JSON.stringify to: 400, never 500.
    for (const depth of [1_500, 100_000]) expect((await post(nested(depth))).statusCode).toBe(400);
    const custom = await echoApp(3);
    expect((await custom('{"a":{"b":[1]}}')).statusCode).toBe(200);
    expect((await custom('{"a":{"b":[[1]]}}')).json().error.message).toContain('at /a/b/0');
  });

  it('refuses "__proto__" and constructor.prototype keys with a message that says so, not "not valid JSON"', async () => {
    const post = await echoApp();
    const proto = await post('{"participants":[{"name":"a","url":"http://127.0.0.1:1","payload":{"__proto__":{"admin":true}}}]}');
    expect(proto.statusCode).toBe(400);
    expect(proto.json().error.code).toBe('VALIDATION_FAILED');
    expect(proto.json().error.message).toContain('"__proto__" at /participants/0/payload');
    expect(proto.json().error.message).not.toMatch(/not valid JSON/);
    const ctor = await post('{"constructor":{"prototype":{"x":1}}}');
    expect(ctor.json().error.message).toContain('constructor.prototype');
    // "constructor" alone, and keys that merely contain the word, are ordinary data.
    expect((await post('{"constructor":"x","my__proto__":1}')).json()).toEqual({ body: { constructor: 'x', my__proto__: 1 } });
    expect(({} as Record<string, unknown>)['admin']).toBeUndefined();
  });

  it('still answers malformed and empty JSON with 400, and parses a content type with a charset', async () => {
    const post = await echoApp();
    expect((await post('{"a":')).json().error).toMatchObject({ code: 'VALIDATION_FAILED', message: 'the body is not valid JSON' });
    expect((await post('')).statusCode).toBe(400);
    expect((await post('{"a":1}', 'application/json; charset=utf-8')).json()).toEqual({ body: { a: 1 } });
  });

  it('skips the walk only for bodies the walk would pass: the shortcut never lets a refused body through', () => {
    // JSON texts written by hand, so "__proto__" can be an own key (an object literal would set the prototype).
    const key = fc.oneof(
      fc.constantFrom('__proto__', 'constructor', 'prototype', 'a', 'b'),
      fc.constantFrom('\\u005f_proto__', 'x\\"y', '{', '['),
      fc.string({ maxLength: 4 }).map((k) => JSON.stringify(k).slice(1, -1)),
    );
    const { text } = fc.letrec<{ text: string }>((tie) => ({
      text: fc.oneof(
        { depthSize: 'small' },
        fc.constantFrom('null', '1', '"s"', '"{["', '"__proto__"'),
        fc.array(tie('text'), { maxLength: 3 }).map((items) => `[${items.join(',')}]`),
        fc.array(fc.tuple(key, tie('text')), { maxLength: 3 }).map((kv) => `{${kv.map(([k, v]) => `"${k}":${v}`).join(',')}}`),
      ),
    }));
    fc.assert(
      fc.property(text, fc.integer({ min: 1, max: 6 }), (body, depthMax) => {
        const value: unknown = JSON.parse(body);
        let walkRefuses = false;
        try {
          checkJsonValue(value, depthMax);
        } catch {
          walkRefuses = true;
        }
        if (plainlyWithinLimits(body, depthMax)) expect(walkRefuses).toBe(false);
        // And the parser as a whole refuses exactly what the walk refuses.
        expect(() => parseJsonBody(body, depthMax)).toSatisfy((parse: () => unknown) => {
          try {
            parse();
            return !walkRefuses;
          } catch {
            return walkRefuses;
          }
        });
      }),
      { numRuns: 2_000 },
    );
    // The shortcut is taken for the bodies the API sees most.
    expect(plainlyWithinLimits('{"participants":[{"name":"a","url":"http://127.0.0.1:1/a"}],"commit":true}', JSON_DEPTH_MAX_DEFAULT)).toBe(
      true,
    );
    expect(plainlyWithinLimits('{"value":"x"}', 1)).toBe(true);
  });

  it('walks any depth without recursion', () => {
    let deep: unknown = null;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(() => checkJsonValue(deep, JSON_DEPTH_MAX_DEFAULT)).toThrow(/deeper than 64/);
    expect(() => checkJsonValue(deep, 1_000_000)).not.toThrow();
  });
});

describe('deep payloads through the transaction routes', () => {
  async function twoNodes(): Promise<{ leader: TestNode; follower: TestNode }> {
    const cluster = new FakeCluster();
    const leader = await startNode(cluster, 'n1');
    const follower = await startNode(cluster, 'n2');
    closers.push(
      () => leader.close(),
      () => follower.close(),
    );
    await leader.listen();
    cluster.elect('n1');
    return { leader, follower };
  }

  it('answers 400 on the leader and on a follower (was 500 and 503), and nothing is created', async () => {
    const { leader, follower } = await twoNodes();
    const body = `{"participants":[{"name":"a","url":"http://127.0.0.1:1","payload":${nested(1_500)}}]}`;
    for (const node of [leader, follower]) {
      const res = await node.app.inject({
        method: 'POST',
        url: '/v1/transactions',
        headers: { 'content-type': 'application/json' },
        payload: body,
      });
      expect([res.statusCode, res.json().error.code]).toEqual([400, 'VALIDATION_FAILED']);
    }
    expect(leader.sm.activeCount()).toBe(0);
  });
});
