// Raft streams (POST /raft/v1/stream) over real sockets on 127.0.0.1: order,
// reconnection after a peer restarts, a peer that stops acknowledging, a peer
// that predates streams, the inbound checks, and a server that closes while
// streams are open.
import diagnostics from 'node:diagnostics_channel';
import { request as httpRequest, createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { Member, Message } from '../../src/raft/types.js';
import { decodeEnvelope, encodeEnvelope } from '../../src/transport/codec.js';
import { encodeFrame } from '../../src/transport/frames.js';
import { HttpTransport, type HttpTransportOptions } from '../../src/transport/http-transport.js';
import { STREAM_BATCH_BYTES_MAX } from '../../src/transport/peer-stream.js';
import { installEdge } from '../../src/http/edge.js';
import {
  CLUSTER_ID_HEADER,
  FROM_HEADER,
  RAFT_MESSAGES_PATH,
  RAFT_STREAM_PATH,
  raftRoutes,
  STREAM_CONTENT_TYPE,
} from '../../src/transport/raft-routes.js';
import { eventually } from '../helpers/wait.js';
import { streamOpening, taggedFrame, type Signer } from './signing.js';

const SECRET = 'cluster-secret-0123';

function heartbeats(from: string, to: string, first: number, count: number): Message[] {
  return Array.from({ length: count }, (_, i) => ({ type: 'heartbeat', from, to, term: 1, leaderCommit: first + i, readSeq: 0 }) as const);
}

const commits = (ms: readonly Message[]): number[] => ms.map((m) => (m.type === 'heartbeat' ? m.leaderCommit : -1));

interface Peer {
  readonly app: FastifyInstance;
  readonly url: string;
  readonly received: Message[];
  readonly warnings: object[];
}

describe('Raft streams', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  const members = (peerUrl: string): Member[] => [
    { id: 'n1', url: 'http://127.0.0.1:1', voter: true },
    { id: 'n2', url: peerUrl, voter: true },
  ];

  async function startPeer(port = 0, received: Message[] = [], bodyLimitBytes = 64 * 1024): Promise<Peer> {
    const warnings: object[] = [];
    const app = Fastify({ logger: false });
    installEdge(app, { clusterSecret: SECRET, clusterId: 'c1', nodeId: 'n2' });
    await app.register(raftRoutes, {
      clusterId: 'c1',
      nodeId: 'n2',
      admit: (id) => (id === 'n9' ? { kind: 'removed', appliedIndex: 3 } : { kind: 'admit' }),
      onMessages: (messages) => received.push(...messages),
      bodyLimitBytes,
    });
    // raftRoutes logs through app.log; capture its warnings.
    app.log.warn = ((obj: object) => warnings.push(obj)) as typeof app.log.warn;
    const url = await app.listen({ host: '127.0.0.1', port });
    let closed = false;
    cleanups.push(async () => {
      if (!closed) await app.close();
      closed = true;
    });
    return { app, url, received, warnings };
  }

  function transport(peerUrl: string, overrides: Partial<HttpTransportOptions> = {}): HttpTransport {
    const t = new HttpTransport({
      clusterId: 'c1',
      nodeId: 'n1',
      secret: SECRET,
      members: members(peerUrl),
      maxQueuedMessagesPerPeer: 10_000,
      maxInflightRequestsPerPeer: 4,
      requestTimeoutMs: 5000,
      ...overrides,
    });
    cleanups.push(() => t.close());
    return t;
  }

  it('delivers in order across many sends and small envelopes', async () => {
    const n2 = await startPeer();
    const t = transport(n2.url, { maxMessagesPerEnvelope: 7 });
    for (let round = 0; round < 50; round++) {
      t.send(heartbeats('n1', 'n2', round * 20, 20));
      if (round % 5 === 0) await new Promise((r) => setImmediate(r));
    }
    await eventually(() => expect(n2.received).toHaveLength(1000));
    expect(commits(n2.received)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(t.counters()).toMatchObject({ sent: 1000, dropped: 0, failed: 0 });
    expect(t.counters().envelopes).toBeGreaterThanOrEqual(Math.ceil(1000 / 7));
  });

  it('gathers at most STREAM_BATCH_BYTES_MAX of messages per frame, however high the envelope limit (a follower catching up)', async () => {
    const n2 = await startPeer(0, [], 16 * 1024 * 1024);
    const t = transport(n2.url, { maxEnvelopeBytes: 8 * 1024 * 1024, maxMessagesPerEnvelope: 1000 });
    // 12 appends of 300 KiB each: 3.6 MB, one 8 MiB envelope before.
    const appends: Message[] = Array.from({ length: 12 }, (_, i) => ({
      type: 'append',
      from: 'n1',
      to: 'n2',
      term: 1,
      prevLogIndex: i,
      prevLogTerm: 1,
      entries: [{ kind: 'normal', index: i + 1, term: 1, data: new Uint8Array(300 * 1024).fill(i) }],
      leaderCommit: 0,
    }));
    t.send(appends);
    await eventually(() => expect(n2.received).toHaveLength(12));
    expect(n2.received.map((m) => (m.type === 'append' ? m.prevLogIndex : -1))).toEqual(appends.map((_, i) => i));
    const { envelopes } = t.counters();
    expect(envelopes).toBeGreaterThanOrEqual(Math.ceil((12 * 300 * 1024) / STREAM_BATCH_BYTES_MAX));
    expect(envelopes).toBeLessThanOrEqual(12);
  });

  it('puts a frame on the wire within the microtasks of the send, not on the next tick', async () => {
    // The leader's storage write of the same entries runs in the microtasks after the send;
    // the append must not wait for them behind Node's cork-until-next-tick (see PeerStream.flush).
    const n2 = await startPeer();
    // Every client socket the transport opens (the stream's is the only one to this peer).
    const sockets: Socket[] = [];
    const onSocket = (msg: unknown): void => {
      sockets.push((msg as { socket: Socket }).socket);
    };
    // Held in a variable: Node 20 keeps channels weakly, and a collected one loses its subscribers.
    const channel = diagnostics.channel('net.client.socket');
    channel.subscribe(onSocket);
    cleanups.push(async () => channel.unsubscribe(onSocket));
    const t = transport(n2.url);
    t.send(heartbeats('n1', 'n2', 0, 1));
    await eventually(() => expect(n2.received).toHaveLength(1));
    const port = Number(new URL(n2.url).port);
    const toPeer = sockets.filter((sock) => sock.remotePort === port);
    expect(toPeer).toHaveLength(1);
    const socket = toPeer[0]!;
    let corkedAfterSend: number | null = null;
    let bufferedAfterSend: number | null = null;
    await new Promise<void>((resolve) => {
      t.send(heartbeats('n1', 'n2', 1, 3));
      // Runs after the transport's drain microtask, before any process.nextTick callback.
      void Promise.resolve()
        .then(() => Promise.resolve())
        .then(() => {
          corkedAfterSend = socket.writableCorked;
          bufferedAfterSend = socket.writableLength;
          resolve();
        });
    });
    expect(corkedAfterSend).toBe(0);
    expect(bufferedAfterSend).toBe(0);
    await eventually(() => expect(commits(n2.received)).toEqual([0, 1, 2, 3]));
  });

  it('reconnects after the peer restarts on the same address', async () => {
    const received: Message[] = [];
    const first = await startPeer(0, received);
    const port = Number(new URL(first.url).port);
    const t = transport(first.url);
    t.send(heartbeats('n1', 'n2', 0, 1));
    await eventually(() => expect(received).toHaveLength(1));
    await first.app.close(); // cuts the open stream (preClose)
    await startPeer(port, received);
    // Raft keeps sending; so does this loop, until a message gets through the new stream.
    let next = 1;
    await eventually(() => {
      t.send(heartbeats('n1', 'n2', next++, 1));
      expect(received.length).toBeGreaterThan(1);
    });
    const after = commits(received.slice(1));
    expect(after).toEqual([...after].sort((a, b) => a - b)); // still in order
  });

  it('tears down a stream whose peer answered and then stopped acknowledging, and opens a new one', async () => {
    // A peer that answers 200 and then reads nothing and writes nothing: a paused process.
    const opened: IncomingMessage[] = [];
    const silent: Server = createServer((req, res) => {
      opened.push(req);
      res.writeHead(200);
      res.flushHeaders();
      req.pause();
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanups.push(async () => {
      silent.closeAllConnections();
      await new Promise((r) => silent.close(r));
    });
    const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
    const t = transport(url, { requestTimeoutMs: 200 });
    let next = 0;
    await eventually(() => {
      t.send(heartbeats('n1', 'n2', next++, 1));
      expect(opened.length).toBeGreaterThanOrEqual(2);
    });
    expect(t.counters().sent).toBeGreaterThan(0);
  });

  it('falls back to one request per envelope for a peer without the stream route', async () => {
    const received: Message[] = [];
    const old = Fastify({ logger: false });
    old.addContentTypeParser('application/msgpack', { parseAs: 'buffer' }, (_r, body, done) => done(null, body));
    old.post(RAFT_MESSAGES_PATH, async (req, reply) => {
      received.push(...decodeEnvelope(req.body as Buffer).messages);
      return reply.code(204).send();
    });
    const url = await old.listen({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => old.close());
    const warnings: object[] = [];
    const t = transport(url, { logger: { debug: () => undefined, warn: (o) => warnings.push(o) } });
    let next = 0;
    await eventually(() => {
      t.send(heartbeats('n1', 'n2', next++, 1));
      expect(received.length).toBeGreaterThan(0);
    });
    expect(warnings).toContainEqual(expect.objectContaining({ peer: 'n2', retryInMs: 60_000 }));
  });

  it('lets the server close while streams are open', async () => {
    const n2 = await startPeer();
    const t = transport(n2.url);
    t.send(heartbeats('n1', 'n2', 0, 1));
    await eventually(() => expect(n2.received).toHaveLength(1));
    // Without the preClose hook this would wait for the stream forever (and time the test out).
    await n2.app.close();
  });

  describe('inbound checks', () => {
    function openStream(
      url: string,
      headers: Record<string, string>,
    ): Promise<{ status: number; body: string; ended: Promise<void>; write(b: Buffer): void }> {
      return new Promise((resolve, reject) => {
        const u = new URL(url);
        const req = httpRequest({ host: u.hostname, port: u.port, path: RAFT_STREAM_PATH, method: 'POST', headers, agent: false });
        req.on('error', () => undefined); // the server may cut us; the test looks at what it received
        req.on('response', (res) => {
          let body = '';
          const ended = new Promise<void>((r) => res.on('end', () => r()).on('close', () => r()));
          res.on('data', (c: Buffer) => (body += c.toString('latin1')));
          resolve({
            status: res.statusCode ?? 0,
            get body() {
              return body;
            },
            ended,
            write: (b) => req.write(b),
          });
        });
        req.on('error', reject);
        req.flushHeaders();
      });
    }

    const N1: Signer = { secret: SECRET, clusterId: 'c1', from: 'n1', to: 'n2' };
    /** A signed opening as n1 (a fresh nonce every call: each may be used once). */
    const good = (signer: Signer = N1, nonce?: string) => {
      const o = streamOpening(signer, nonce);
      return { ...o, headers: { 'content-type': STREAM_CONTENT_TYPE, [CLUSTER_ID_HEADER]: 'c1', ...o.headers } };
    };

    it('refuses a wrong secret, cluster, removed sender or content type before accepting the stream', async () => {
      const n2 = await startPeer();
      const replayed = good();
      const cases: Array<[Record<string, string>, number, RegExp]> = [
        [good({ ...N1, secret: 'another-secret-4567' }).headers, 401, /UNAUTHORIZED.*does not verify/],
        [{ ...good().headers, 'x-ratify-auth': 'v1.1.2.3' }, 401, /UNAUTHORIZED/],
        [(({ 'x-ratify-auth': _, ...rest }: Record<string, string>) => rest)(good().headers), 401, /UNAUTHORIZED.*missing x-ratify-auth/],
        // Signed for another receiver, or at a time too far from the receiver's clock.
        [good({ ...N1, to: 'n3' }).headers, 401, /UNAUTHORIZED.*does not verify/],
        [good({ ...N1, nowMs: Date.now() - 5 * 60_000 }).headers, 401, /UNAUTHORIZED.*off this node's clock/],
        // A captured opening sent again, or its headers relabelled with another sender.
        [replayed.headers, 200, /^/],
        [replayed.headers, 401, /UNAUTHORIZED.*seen before/],
        [{ ...good().headers, [FROM_HEADER]: 'n3' }, 401, /UNAUTHORIZED.*not from n3/],
        [{ ...good().headers, [CLUSTER_ID_HEADER]: 'c2' }, 403, /FORBIDDEN/],
        // A removed sender, properly signed (any holder of the secret can sign as any id).
        [good({ ...N1, from: 'n9' }).headers, 410, /MEMBER_REMOVED.*"appliedIndex":3/],
        [{ ...good().headers, [FROM_HEADER]: '%E0%A4%A' }, 401, /UNAUTHORIZED/],
        [{ ...good().headers, 'content-type': 'application/msgpack' }, 415, /UNSUPPORTED_MEDIA_TYPE/],
      ];
      for (const [headers, status, body] of cases) {
        const s = await openStream(n2.url, headers);
        if (status === 200) {
          expect(s.status).toBe(200);
          continue;
        }
        await s.ended;
        expect({ status: s.status, body: s.body }).toEqual({ status, body: expect.stringMatching(body) });
      }
      expect(n2.received).toEqual([]);
    });

    it('delivers good frames, acknowledges them, and ends the stream at a bad frame', async () => {
      const n2 = await startPeer();
      const o = good();
      const s = await openStream(n2.url, o.headers);
      expect(s.status).toBe(200);
      s.write(
        taggedFrame(o.key, o.nonce, 0, encodeEnvelope({ v: 1, clusterId: 'c1', from: 'n1', messages: heartbeats('n1', 'n2', 0, 2) })),
      );
      await eventually(() => expect(n2.received).toHaveLength(2));
      await eventually(() => expect(s.body.length).toBeGreaterThan(0)); // the acknowledgement byte
      // A frame claiming another sender on n1's stream.
      s.write(
        taggedFrame(o.key, o.nonce, 1, encodeEnvelope({ v: 1, clusterId: 'c1', from: 'n2', messages: heartbeats('n2', 'n2', 5, 1) })),
      );
      await s.ended;
      expect(n2.received).toHaveLength(2);
      expect(n2.warnings).toContainEqual(expect.objectContaining({ peer: 'n1', code: 'FORBIDDEN' }));
    });

    it('ends a stream at a frame captured elsewhere: from another stream, repeated, out of order, or unsigned', async () => {
      const n2 = await startPeer();
      const envelope = (first: number): Uint8Array =>
        encodeEnvelope({ v: 1, clusterId: 'c1', from: 'n1', messages: heartbeats('n1', 'n2', first, 1) });
      const other = good();
      const bad: Array<(o: ReturnType<typeof good>) => Buffer> = [
        () => taggedFrame(other.key, other.nonce, 1, envelope(10)), // right sender and number, another stream
        (o) => taggedFrame(o.key, o.nonce, 0, envelope(0)), // frame 0 again
        (o) => taggedFrame(o.key, o.nonce, 2, envelope(10)), // skips frame 1
        () => encodeFrame(envelope(10)), // no tag
        (o) => taggedFrame(good({ ...N1, secret: 'another-secret-4567' }).key, o.nonce, 1, envelope(10)), // another secret
      ];
      for (const frame of bad) {
        const before = n2.received.length;
        const o = good();
        const s = await openStream(n2.url, o.headers);
        expect(s.status).toBe(200);
        s.write(taggedFrame(o.key, o.nonce, 0, envelope(0)));
        s.write(frame(o));
        await s.ended;
        expect(n2.received).toHaveLength(before + 1);
      }
      expect(n2.warnings.filter((w) => (w as { code?: string }).code === 'UNAUTHORIZED')).toHaveLength(bad.length);
    });

    it('ends a stream whose frame header announces more than the body limit', async () => {
      const n2 = await startPeer();
      const s = await openStream(n2.url, good().headers);
      const header = Buffer.alloc(4);
      header.writeUInt32BE(64 * 1024 + 1, 0);
      s.write(header);
      await s.ended;
      expect(n2.warnings).toContainEqual(expect.objectContaining({ peer: 'n1', code: 'BODY_TOO_LARGE' }));
    });
  });
});
