// Signed participant calls and the per-cluster fence, end to end: the real
// coordinator client (src/tx/participant-client.ts, signing with a keys file)
// against the real SDK participant behind fastify and node:http, plus forged,
// replayed and stale calls sent by hand.
import { createServer, type Server } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createNodeHandler,
  createParticipant,
  MemoryParticipantStore,
  ratifyParticipant,
  signatureHeaders,
  type Participant,
} from '../../src/sdk/participant/index.js';
import { recordKey } from '../../src/sdk/participant/record.js';
import { createHttpParticipantClient, type ClusterCaller } from '../../src/tx/participant-client.js';
import { ParticipantKeys } from '../../src/tx/participant-keys.js';
import { loopbackUrlPolicy } from '../tx/harness.js';
import { quiet, recordingHandlers, type RecordingHandlers } from './helpers.js';

const KEY_A = 'key-of-bank-a-0123456789abcdef0123';
const KEY_B = 'key-of-bank-b-0123456789abcdef0123';
const keys = ParticipantKeys.parse(`bank-a ${KEY_A}\nbank-b ${KEY_B}\n`, 'test');
const call = () => ({ timeoutMs: 3_000, signal: new AbortController().signal });
const caller = (clusterId: string, incarnation: string): ClusterCaller => ({
  clusterId,
  known: () => incarnation,
  incarnation: async () => incarnation,
});

interface Rig {
  readonly app: FastifyInstance;
  readonly url: string;
  readonly participant: Participant;
  readonly store: MemoryParticipantStore;
  readonly h: RecordingHandlers;
}

async function rig(key: string | undefined): Promise<Rig> {
  const store = new MemoryParticipantStore();
  const h = recordingHandlers();
  const participant = createParticipant({ store, handlers: h, logger: quiet, ...(key === undefined ? {} : { coordinatorKey: key }) });
  await participant.start();
  const app = Fastify();
  await app.register(ratifyParticipant, { prefix: '/ratify', participant });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { app, url: `http://127.0.0.1:${port}/ratify`, participant, store, h };
}

/** A hand-made call: body, headers signed with `key` (or none) for `signedPath`, sent to `path`. */
async function send(
  r: Rig,
  path: string,
  body: object,
  o: { key?: string; signedPath?: string; term?: number; timestampMs?: number; incarnation?: string } = {},
) {
  const json = JSON.stringify(body);
  const term = o.term ?? (body as { term: number }).term;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-ratify-term': String(term) };
  if (o.key !== undefined) {
    Object.assign(
      headers,
      signatureHeaders(o.key, {
        method: 'POST',
        path: o.signedPath ?? `/ratify/${path}`,
        clusterId: 'ratify',
        incarnation: o.incarnation ?? 'inc-1',
        term,
        timestampMs: o.timestampMs ?? Date.now(),
        body: json,
      }),
    );
  }
  const res = await r.app.inject({ method: 'POST', url: `/ratify/${path}`, headers, payload: json });
  return { status: res.statusCode, body: res.json() as { error?: { code: string; reason?: string } } };
}

describe('signed participant calls (SDK with coordinatorKey)', () => {
  let r: Rig;
  const client = createHttpParticipantClient({
    connectionsPerOrigin: 2,
    batchCallsMax: 1,
    urlPolicy: loopbackUrlPolicy(),
    caller: caller('ratify', 'inc-1'),
    keys,
  });

  beforeAll(async () => {
    r = await rig(KEY_A);
  });
  afterAll(async () => {
    await client.close();
    await r.app.close();
    await r.participant.close();
  });

  it("accepts the coordinator client's signed calls", async () => {
    const prepared = await client.prepare(
      { url: r.url, txId: 't1', participant: 'bank-a', payload: { amount: 5 }, protocol: '2pc', term: 3 },
      call(),
    );
    expect(prepared).toEqual({ kind: 'vote', vote: 'commit' });
    expect(r.participant.highestTerm('ratify/inc-1')).toBe(3);
  });

  it('refuses a forged commit to a prepared transaction with 401 and leaves the record and the fence as they were', async () => {
    await client.prepare({ url: r.url, txId: 'forged', participant: 'bank-a', payload: null, protocol: '2pc', term: 3 }, call());
    const before = await r.store.get(recordKey('forged', 'bank-a'));
    expect(before?.state).toBe('prepared');
    for (const attempt of [{}, { key: 'not-the-key-of-bank-a-0123456789abcdef' }]) {
      const res = await send(r, 'commit', { txId: 'forged', participant: 'bank-a', term: 4 }, attempt);
      expect(res.status).toBe(401);
      expect(res.body.error?.code).toBe('SIGNATURE_INVALID');
    }
    expect(await r.store.get(recordKey('forged', 'bank-a'))).toEqual(before);
    expect(r.h.count('commit', 'forged')).toBe(0);
    expect(r.participant.highestTerm()).toBe(3);
  });

  it('does not let a huge term with a bad signature poison the fence; the real leader still gets through', async () => {
    const huge = Number.MAX_SAFE_INTEGER;
    const res = await send(r, 'abort', { txId: 'x', participant: 'bank-a', term: huge }, { key: KEY_B });
    expect(res.status).toBe(401);
    expect(r.participant.highestTerm()).toBe(3);
    expect(r.participant.highestTerm('ratify/inc-1')).toBe(3);
    expect(await r.store.open().then((l) => l.highestTerm)).toBeLessThan(huge);
    const next = await client.prepare(
      { url: r.url, txId: 'after-forgery', participant: 'bank-a', payload: null, protocol: '2pc', term: 3 },
      call(),
    );
    expect(next).toEqual({ kind: 'vote', vote: 'commit' });
  });

  it('refuses a signed call replayed to another path or signed for another participant', async () => {
    await client.prepare({ url: r.url, txId: 'replay', participant: 'bank-a', payload: null, protocol: '2pc', term: 3 }, call());
    // A genuine abort signature (path /ratify/abort) sent as a commit.
    const asCommit = await send(
      r,
      'commit',
      { txId: 'replay', participant: 'bank-a', term: 3 },
      { key: KEY_A, signedPath: '/ratify/abort' },
    );
    expect(asCommit).toMatchObject({ status: 401, body: { error: { code: 'SIGNATURE_INVALID', reason: 'mismatch' } } });
    // A call the cluster signed for bank-b (its own key) replayed to bank-a.
    const otherParticipant = await send(r, 'commit', { txId: 'replay', participant: 'bank-a', term: 3 }, { key: KEY_B });
    expect(otherParticipant).toMatchObject({ status: 401, body: { error: { code: 'SIGNATURE_INVALID', reason: 'mismatch' } } });
    expect(r.h.count('commit', 'replay')).toBe(0);
    expect((await r.store.get(recordKey('replay', 'bank-a')))?.state).toBe('prepared');
  });

  it('refuses a call whose timestamp is beyond the allowed skew', async () => {
    const stale = await send(
      r,
      'commit',
      { txId: 'replay', participant: 'bank-a', term: 3 },
      { key: KEY_A, timestampMs: Date.now() - 10 * 60_000 },
    );
    expect(stale).toMatchObject({ status: 401, body: { error: { code: 'SIGNATURE_INVALID', reason: 'stale' } } });
    expect(r.h.count('commit', 'replay')).toBe(0);
    // The same call, fresh, commits: the refusals above were about the signature only.
    const fresh = await send(r, 'commit', { txId: 'replay', participant: 'bank-a', term: 3 }, { key: KEY_A });
    expect(fresh.status).toBe(200);
  });

  it('verifies batches through node:http too', async () => {
    const participant = createParticipant({
      store: new MemoryParticipantStore(),
      handlers: recordingHandlers(),
      logger: quiet,
      coordinatorKey: KEY_A,
    });
    const server: Server = createServer(createNodeHandler(participant, { prefix: '/p' }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/p`;
    const batching = createHttpParticipantClient({
      connectionsPerOrigin: 2,
      batchCallsMax: 8,
      urlPolicy: loopbackUrlPolicy(),
      caller: caller('ratify', 'inc-1'),
      keys,
    });
    const unsigned = createHttpParticipantClient({
      connectionsPerOrigin: 2,
      batchCallsMax: 8,
      urlPolicy: loopbackUrlPolicy(),
      caller: caller('ratify', 'inc-1'),
    });
    try {
      const votes = await Promise.all(
        ['n1', 'n2', 'n3'].map((txId) =>
          batching.prepare({ url, txId, participant: 'bank-a', payload: null, protocol: '2pc', term: 2 }, call()),
        ),
      );
      expect(votes).toEqual(Array(3).fill({ kind: 'vote', vote: 'commit' }));
      const refused = await unsigned.deliver('commit', { url, txId: 'n1', participant: 'bank-a', term: 2 }, call());
      expect(refused).toMatchObject({ kind: 'failure', code: 'SIGNATURE_INVALID' });
    } finally {
      await batching.close();
      await unsigned.close();
      await new Promise((resolve) => server.close(resolve));
      await participant.close();
    }
  });
});

describe('term fence per (cluster id, incarnation)', () => {
  let r: Rig;
  const clients: Array<ReturnType<typeof createHttpParticipantClient>> = [];
  const clientOf = (clusterId: string, incarnation: string) => {
    const c = createHttpParticipantClient({
      connectionsPerOrigin: 1,
      batchCallsMax: 1,
      urlPolicy: loopbackUrlPolicy(),
      caller: caller(clusterId, incarnation),
      keys,
    });
    clients.push(c);
    return c;
  };
  const prepare = (c: ReturnType<typeof clientOf>, txId: string, term: number) =>
    c.prepare({ url: r.url, txId, participant: 'bank-a', payload: null, protocol: '2pc', term }, call());

  beforeAll(async () => {
    r = await rig(KEY_A);
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    await r.app.close();
    await r.participant.close();
  });

  it('lets two clusters that share a participant both work, whatever their terms', async () => {
    const east = clientOf('east', 'e1');
    const west = clientOf('west', 'w1');
    expect(await prepare(east, 'east-1', 40)).toEqual({ kind: 'vote', vote: 'commit' });
    expect(await prepare(west, 'west-1', 2)).toEqual({ kind: 'vote', vote: 'commit' });
    expect(await prepare(east, 'east-2', 40)).toEqual({ kind: 'vote', vote: 'commit' });
    expect(r.participant.highestTerm('east/e1')).toBe(40);
    expect(r.participant.highestTerm('west/w1')).toBe(2);
  });

  it('does not fence out a cluster rebuilt from empty data (new incarnation, terms from 1)', async () => {
    const rebuilt = clientOf('east', 'e2');
    expect(await prepare(rebuilt, 'rebuilt-1', 1)).toEqual({ kind: 'vote', vote: 'commit' });
  });

  it('still fences a deposed leader of the same incarnation, also after a restart', async () => {
    const deposed = clientOf('east', 'e1');
    const refused = await deposed.deliver('commit', { url: r.url, txId: 'east-1', participant: 'bank-a', term: 39 }, call());
    expect(refused).toMatchObject({ kind: 'failure', code: 'STALE_TERM' });
    expect(r.h.count('commit', 'east-1')).toBe(0);
    // The fence is durable per scope: a participant reopened on the same store refuses it too.
    const again = createParticipant({ store: r.store, handlers: recordingHandlers(), logger: quiet, coordinatorKey: KEY_A });
    await r.participant.close();
    await again.start();
    expect(again.highestTerm('east/e1')).toBe(40);
    expect(again.highestTerm('west/w1')).toBe(2);
    expect(again.highestTerm('east/e2')).toBe(1);
    await again.close();
  });
});

describe('unsigned mode (no coordinatorKey)', () => {
  it('logs a warning at start and accepts unsigned calls', async () => {
    const warnings: string[] = [];
    const logger = { ...quiet, warn: (_o: object, msg: string) => warnings.push(msg), error() {}, info() {}, debug() {} };
    const participant = createParticipant({ store: new MemoryParticipantStore(), handlers: recordingHandlers(), logger });
    await participant.start();
    expect(warnings.some((w) => w.includes('coordinator calls are not verified'))).toBe(true);
    const answer = await participant.handle('prepare', { txId: 'u', participant: 'p', protocol: '2pc', term: 1, payload: null });
    expect(answer).toEqual({ status: 200, body: { vote: 'commit' } });
    await participant.close();
  });

  it('refuses a bad coordinatorKey at creation without repeating it', () => {
    expect(() =>
      createParticipant({ store: new MemoryParticipantStore(), handlers: recordingHandlers(), coordinatorKey: 'too-short-secret' }),
    ).toThrow(/32 to 512 characters/);
    expect(() =>
      createParticipant({ store: new MemoryParticipantStore(), handlers: recordingHandlers(), coordinatorKey: 'too-short-secret' }),
    ).not.toThrow(/too-short-secret/);
  });
});
