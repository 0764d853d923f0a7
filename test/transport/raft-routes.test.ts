// POST /raft/v1/messages through fastify's inject(): no socket.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { isRatifyError } from '../../src/errors.js';
import type { Message } from '../../src/raft/types.js';
import { encodeEnvelope } from '../../src/transport/codec.js';
import type { Envelope } from '../../src/transport/message-guard.js';
import { installEdge } from '../../src/http/edge.js';
import { RAFT_MESSAGES_PATH, raftRoutes, type RaftRoutesOptions } from '../../src/transport/raft-routes.js';
import { samplesFrom } from './samples.js';
import { messagesHeaders, type Signer } from './signing.js';

const SECRET = 's3cret-value-0123';
const N2: Signer = { secret: SECRET, clusterId: 'cluster-a', from: 'n2', to: 'n1' };
const BODY_LIMIT = 256 * 1024;
const FROM_N2 = Object.values(samplesFrom('n2', 'n1')).filter((m) => m.type !== 'append');

function envelope(overrides: Partial<Envelope> = {}): Envelope {
  return { v: 1, clusterId: 'cluster-a', from: 'n2', messages: FROM_N2, ...overrides };
}

describe('raftRoutes', () => {
  let app: FastifyInstance;
  let received: Message[][];

  async function build({
    secret = SECRET,
    ...overrides
  }: Partial<RaftRoutesOptions> & { secret?: string | null } = {}): Promise<FastifyInstance> {
    received = [];
    app = Fastify({ logger: false });
    // The node's edge (auth hook, error handler), as buildApp installs it.
    installEdge(app, { clusterSecret: secret, clusterId: 'cluster-a', nodeId: 'n1' });
    await app.register(raftRoutes, {
      clusterId: 'cluster-a',
      nodeId: 'n1',
      // n8 was removed (as of applied index 7); anyone else is admitted, n9 (never heard of) too.
      admit: (id) => (id === 'n8' ? { kind: 'removed', appliedIndex: 7 } : { kind: 'admit' }),
      onMessages: (messages) => {
        received.push([...messages]);
      },
      bodyLimitBytes: BODY_LIMIT,
      ...overrides,
    });
    await app.ready();
    return app;
  }

  /** POSTs `body`, signed as `signer` (by default n2 with the cluster secret). */
  function post(body: Uint8Array | string, headers: Record<string, string> = {}, signer: Signer = N2) {
    const payload = Buffer.from(body);
    return app.inject({
      method: 'POST',
      url: RAFT_MESSAGES_PATH,
      headers: { 'content-type': 'application/msgpack', ...messagesHeaders(signer, payload), ...headers },
      payload,
    });
  }

  afterEach(async () => {
    await app?.close();
  });

  it('accepts a good envelope with 204 and hands every message to the node', async () => {
    await build();
    const res = await post(encodeEnvelope(envelope()));
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    expect(received).toEqual([FROM_N2]);
  });

  it('accepts appends with binary entries, and an empty envelope', async () => {
    await build();
    const append = samplesFrom('n2', 'n1').append;
    expect((await post(encodeEnvelope(envelope({ messages: [append] })))).statusCode).toBe(204);
    expect((await post(encodeEnvelope(envelope({ messages: [] })))).statusCode).toBe(204);
    expect(received).toEqual([[append], []]);
  });

  it('refuses a request not signed with the cluster secret with 401, before reading the body; the bare secret is not enough', async () => {
    await build();
    const body = encodeEnvelope(envelope());
    const cases: Array<[Record<string, string>, Signer, RegExp]> = [
      [{}, { ...N2, secret: 'not-the-secret-0123' }, /does not verify/],
      [{}, { ...N2, to: 'n3' }, /does not verify/],
      [{}, { ...N2, nowMs: Date.now() + 3 * 60_000 }, /clock/],
      [{ 'x-ratify-auth': 'v1.0.aaaaaaaaaaaaaaaaaaaa.AAAA' }, N2, /does not verify/],
    ];
    for (const [headers, signer, why] of cases) {
      const res = await post(body, headers, signer);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ error: { code: 'UNAUTHORIZED', message: expect.stringMatching(why) } });
    }
    const bare = await app.inject({
      method: 'POST',
      url: RAFT_MESSAGES_PATH,
      headers: { 'content-type': 'application/msgpack', 'x-ratify-secret': SECRET, 'x-ratify-from': 'n2' },
      payload: Buffer.from('garbage'),
    });
    expect(bare.statusCode).toBe(401);
    expect(bare.json()).toMatchObject({ error: { code: 'UNAUTHORIZED', message: expect.stringMatching(/missing x-ratify-auth/) } });
    expect(received).toEqual([]);
  });

  it('refuses a replayed request, another body under a signed head, and an envelope from another sender than the signer', async () => {
    await build();
    const body = encodeEnvelope(envelope());
    const headers = { 'content-type': 'application/msgpack', ...messagesHeaders(N2, body) };
    expect((await app.inject({ method: 'POST', url: RAFT_MESSAGES_PATH, headers, payload: Buffer.from(body) })).statusCode).toBe(204);
    const replay = await app.inject({ method: 'POST', url: RAFT_MESSAGES_PATH, headers, payload: Buffer.from(body) });
    expect(replay.statusCode).toBe(401);
    expect(replay.json()).toMatchObject({ error: { message: expect.stringMatching(/seen before/) } });
    const other = encodeEnvelope(envelope({ messages: [samplesFrom('n2', 'n1').timeoutNow] }));
    const swapped = await app.inject({
      method: 'POST',
      url: RAFT_MESSAGES_PATH,
      headers: { ...headers, ...messagesHeaders(N2, body), 'content-type': 'application/msgpack' },
      payload: Buffer.from(other),
    });
    expect(swapped.statusCode).toBe(401);
    expect(swapped.json()).toMatchObject({ error: { message: expect.stringMatching(/not the one the request was signed for/) } });
    // Signed by n3 (any holder of the secret can), but the envelope speaks for n2.
    const asN3 = await post(body, {}, { ...N2, from: 'n3' });
    expect(asN3.statusCode).toBe(403);
    expect(asN3.json()).toMatchObject({ error: { code: 'FORBIDDEN', message: expect.stringMatching(/authenticated as "n3"/) } });
    expect(received).toEqual([FROM_N2]);
  });

  it('accepts a request signed with any secret of a rotation, and skips the checks when the cluster has no secret', async () => {
    await build({ secret: `new-secret-abcdefg,${SECRET}` });
    expect((await post(encodeEnvelope(envelope()))).statusCode).toBe(204);
    expect((await post(encodeEnvelope(envelope()), {}, { ...N2, secret: 'new-secret-abcdefg' })).statusCode).toBe(204);
    await app.close();
    await build({ secret: null });
    expect((await post(encodeEnvelope(envelope()), { 'x-ratify-secret': 'anything' })).statusCode).toBe(204);
  });

  it('refuses another cluster with 403', async () => {
    await build();
    const res = await post(encodeEnvelope(envelope({ clusterId: 'cluster-b' })));
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ error: { code: 'FORBIDDEN', message: expect.stringMatching(/cluster/) } });
  });

  it('refuses a removed sender with 410 MEMBER_REMOVED and its applied index, and admits a sender it never heard of', async () => {
    await build();
    const removed = Object.values(samplesFrom('n8', 'n1'));
    const res = await post(encodeEnvelope(envelope({ from: 'n8', messages: removed })), {}, { ...N2, from: 'n8' });
    expect(res.statusCode).toBe(410);
    expect(res.json()).toEqual({ error: { code: 'MEMBER_REMOVED', message: expect.stringMatching(/n8.*removed/), appliedIndex: 7 } });
    expect(received).toEqual([]);
    // A node lagging behind a member's addition must still take that member's messages.
    const stranger = Object.values(samplesFrom('n9', 'n1'));
    const admitted = await post(encodeEnvelope(envelope({ from: 'n9', messages: stranger })), {}, { ...N2, from: 'n9' });
    expect(admitted.statusCode).toBe(204);
    expect(received).toEqual([stranger]);
  });

  it("passes an admitted sender's x-ratify-from-url on, and ignores a malformed one or a refused sender's", async () => {
    const urls: [string, string][] = [];
    await build({ onSenderUrl: (from, url) => urls.push([from, url]) });
    const hint = (url: string) => ({ 'x-ratify-from-url': encodeURIComponent(url) });
    expect((await post(encodeEnvelope(envelope()), hint('http://127.0.0.1:7004/'))).statusCode).toBe(204);
    expect((await post(encodeEnvelope(envelope()), hint('ftp://127.0.0.1:7004'))).statusCode).toBe(204);
    expect((await post(encodeEnvelope(envelope()), { 'x-ratify-from-url': '%E0%A4%A' })).statusCode).toBe(204);
    const removed = Object.values(samplesFrom('n8', 'n1'));
    expect(
      (await post(encodeEnvelope(envelope({ from: 'n8', messages: removed })), hint('http://127.0.0.1:7008'), { ...N2, from: 'n8' }))
        .statusCode,
    ).toBe(410);
    expect(urls).toEqual([['n2', 'http://127.0.0.1:7004']]);
  });

  it('refuses messages whose from is not the sender with 403', async () => {
    await build();
    // n3 is a member, but the envelope says n2 sent it.
    const spoofed = await post(encodeEnvelope(envelope({ messages: [samplesFrom('n3', 'n1').heartbeat] })));
    expect(spoofed.statusCode).toBe(403);
    expect(spoofed.json()).toMatchObject({ error: { code: 'FORBIDDEN', message: expect.stringMatching(/messages\[0\]\.from/) } });
    expect(received).toEqual([]);
  });

  it('refuses messages addressed to another node with 400', async () => {
    await build();
    const res = await post(encodeEnvelope(envelope({ messages: [samplesFrom('n2', 'n3').heartbeat] })));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED', message: expect.stringMatching(/not this node/) } });
  });

  it('refuses malformed bodies with 400 VALIDATION_FAILED', async () => {
    await build();
    const bad = [
      new Uint8Array([1, 2, 3, 4]),
      new Uint8Array(0),
      encodeEnvelope({ ...envelope(), messages: [{ ...FROM_N2[0], term: -1 } as Message] }),
      encodeEnvelope({ ...envelope(), v: 7 } as unknown as Envelope),
    ];
    for (const body of bad) {
      const res = await post(body);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
    }
    expect(received).toEqual([]);
  });

  it('refuses a body over the limit with 413 BODY_TOO_LARGE', async () => {
    await build();
    const big = samplesFrom('n2', 'n1').snapshot;
    const res = await post(encodeEnvelope(envelope({ messages: [{ ...big, chunk: new Uint8Array(BODY_LIMIT + 1) }] })));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: { code: 'BODY_TOO_LARGE' } });
  });

  it('refuses other content types with 415 UNSUPPORTED_MEDIA_TYPE, like every route', async () => {
    await build();
    for (const type of ['application/json', 'text/plain', 'application/octet-stream']) {
      const res = await post(type === 'application/json' ? '{"v":1}' : 'hello', { 'content-type': type });
      expect(res.statusCode).toBe(415);
      expect(res.json()).toMatchObject({
        error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: expect.stringMatching(/application\/msgpack/) },
      });
    }
    const none = await app.inject({ method: 'POST', url: RAFT_MESSAGES_PATH, headers: messagesHeaders(N2, new Uint8Array(0)) });
    expect(none.statusCode).toBe(415);
  });

  it('answers 500 INTERNAL when the node cannot take the messages', async () => {
    await build({
      onMessages: () => {
        throw new Error('queue broken');
      },
    });
    const res = await post(encodeEnvelope(envelope({ messages: [samplesFrom('n2', 'n1').heartbeat] })));
    expect(res.statusCode).toBe(500);
    expect(res.json()).toMatchObject({ error: { code: 'INTERNAL' } });
  });

  it('validates its options at registration', async () => {
    const err = await build({ bodyLimitBytes: 10 }).catch((e: unknown) => e);
    expect(isRatifyError(err, 'CONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toMatch(/bodyLimitBytes \(10\) must be an integer between 1024 and/);
  });
});
