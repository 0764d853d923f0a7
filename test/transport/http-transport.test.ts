// HttpTransport over real sockets on 127.0.0.1: two fastify apps exchanging
// messages, and peers that are down, hang, or refuse us. Every case runs with
// streams (the default) and with one request per envelope; stream-only cases
// are in raft-stream.test.ts.
import { createServer, type Server, type Socket } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { isRatifyError } from '../../src/errors.js';
import type { Member, Message } from '../../src/raft/types.js';
import { HttpTransport, type HttpTransportOptions } from '../../src/transport/http-transport.js';
import { installEdge } from '../../src/http/edge.js';
import type { RemovalNotice } from '../../src/transport/peer-admission.js';
import { raftRoutes } from '../../src/transport/raft-routes.js';
import { samplesFrom } from './samples.js';
import { eventually } from '../helpers/wait.js';

const SECRET = 'cluster-secret';

interface Node {
  readonly id: string;
  readonly app: FastifyInstance;
  readonly url: string;
  readonly received: Message[];
}

function heartbeats(from: string, to: string, count: number): Message[] {
  return Array.from({ length: count }, (_, i) => ({ type: 'heartbeat', from, to, term: 1, leaderCommit: i, readSeq: 0 }) as const);
}

describe.each([{ streams: true }, { streams: false }])('HttpTransport (streams: $streams)', ({ streams }) => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function startNode(id: string, members: () => readonly Member[], bodyLimitBytes = 8 * 1024 * 1024): Promise<Node> {
    const received: Message[] = [];
    const app = Fastify({ logger: false });
    installEdge(app, { clusterSecret: SECRET, clusterId: 'c1', nodeId: id });
    await app.register(raftRoutes, {
      clusterId: 'c1',
      nodeId: id,
      // Here a peer missing from the list counts as removed.
      admit: (peer) => (members().some((m) => m.id === peer) ? { kind: 'admit' } : { kind: 'removed', appliedIndex: 42 }),
      onMessages: (messages) => received.push(...messages),
      bodyLimitBytes,
    });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => app.close());
    return { id, app, url: address, received };
  }

  function transport(nodeId: string, members: readonly Member[], overrides: Partial<HttpTransportOptions> = {}): HttpTransport {
    const t = new HttpTransport({
      clusterId: 'c1',
      nodeId,
      secret: SECRET,
      members,
      maxQueuedMessagesPerPeer: 10_000,
      maxInflightRequestsPerPeer: 2,
      requestTimeoutMs: 5000,
      streams,
      ...overrides,
    });
    cleanups.push(() => t.close());
    return t;
  }

  /** A port with nothing listening on it. */
  async function closedPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    await new Promise((r) => server.close(r));
    return port;
  }

  it('delivers messages of every type both ways between two nodes', async () => {
    let members: Member[] = [];
    const n1 = await startNode('n1', () => members);
    const n2 = await startNode('n2', () => members);
    members = [
      { id: 'n1', url: n1.url, voter: true },
      { id: 'n2', url: n2.url, voter: true },
    ];
    const t1 = transport('n1', members);
    const t2 = transport('n2', members);
    const toN2 = Object.values(samplesFrom('n1', 'n2'));
    const toN1 = Object.values(samplesFrom('n2', 'n1'));
    t1.send(toN2);
    t2.send(toN1);
    await eventually(() => {
      expect(n2.received).toHaveLength(toN2.length);
      expect(n1.received).toHaveLength(toN1.length);
    });
    // With several requests in flight, order across envelopes may vary; content may not (a stream keeps order).
    const byType = (ms: Message[]) => [...ms].sort((a, b) => a.type.localeCompare(b.type));
    expect(byType(n2.received)).toEqual(byType(toN2));
    expect(byType(n1.received)).toEqual(byType(toN1));
    // The sender counts after the 204 arrives, which may be after the receiver saw the messages.
    await eventually(() => expect(t1.counters()).toMatchObject({ sent: toN2.length, dropped: 0, failed: 0 }));
  });

  it('batches a burst into envelopes within the caps and loses nothing', async () => {
    let members: Member[] = [];
    const n1 = await startNode('n1', () => members);
    const n2 = await startNode('n2', () => members);
    members = [
      { id: 'n1', url: n1.url, voter: true },
      { id: 'n2', url: n2.url, voter: true },
    ];
    const t1 = transport('n1', members, { maxMessagesPerEnvelope: 64, maxInflightRequestsPerPeer: 1 });
    for (let round = 0; round < 10; round++) t1.send(heartbeats('n1', 'n2', 100));
    await eventually(() => expect(n2.received).toHaveLength(1000));
    // One request in flight: envelopes arrive in order, so messages do too.
    expect(n2.received.map((m) => (m.type === 'heartbeat' ? m.leaderCommit : -1))).toEqual(
      Array.from({ length: 10 }, () => Array.from({ length: 100 }, (_, i) => i)).flat(),
    );
    await eventually(() => expect(t1.counters()).toMatchObject({ sent: 1000, dropped: 0, failed: 0 }));
    // At most 64 messages per envelope, and batched: far fewer envelopes than messages.
    expect(t1.counters().envelopes).toBeGreaterThanOrEqual(16);
    expect(t1.counters().envelopes).toBeLessThan(1000);
  });

  it('survives a peer that is down: no throw, messages dropped or failed and counted', async () => {
    const debugLines: object[] = [];
    const logger = { debug: (obj: object) => debugLines.push(obj), warn: () => undefined };
    const port = await closedPort();
    const t = transport('n1', [{ id: 'n3', url: `http://127.0.0.1:${port}`, voter: true }], { maxQueuedMessagesPerPeer: 5, logger });
    expect(() => t.send(heartbeats('n1', 'n3', 100))).not.toThrow();
    // The queue takes 5 before the pump runs; the other 95 are dropped at once.
    expect(t.counters().dropped).toBe(95);
    await eventually(() => expect(t.counters().failed).toBe(5));
    expect(debugLines[0]).toMatchObject({ peer: 'n3', err: expect.stringMatching(/ECONNREFUSED/) });
    // Still usable afterwards: the message is tried (failed) or, while a broken stream backs off, dropped.
    t.send(heartbeats('n1', 'n3', 1));
    await eventually(() => expect(t.counters().failed + t.counters().dropped).toBe(101));
  });

  it('counts a peer that never answers as failed after the request timeout', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    });
    const port = (silent.address() as { port: number }).port;
    const t = transport('n1', [{ id: 'n3', url: `http://127.0.0.1:${port}`, voter: true }], { requestTimeoutMs: 200 });
    t.send(heartbeats('n1', 'n3', 3));
    await eventually(() => expect(t.counters()).toEqual({ sent: 0, dropped: 0, failed: 3, envelopes: 0 }));
  });

  it('counts messages a peer refuses (wrong secret) as failed', async () => {
    let members: Member[] = [];
    const n2 = await startNode('n2', () => members);
    members = [
      { id: 'n1', url: 'http://127.0.0.1:1', voter: true },
      { id: 'n2', url: n2.url, voter: true },
    ];
    const lines: object[] = [];
    const t = transport('n1', members, { secret: 'wrong', logger: { debug: (o) => lines.push(o), warn: (o) => lines.push(o) } });
    t.send(heartbeats('n1', 'n2', 2));
    await eventually(() => expect(t.counters().failed).toBe(2));
    expect(n2.received).toEqual([]);
    expect(lines[0]).toMatchObject({ peer: 'n2', status: 401, body: expect.stringMatching(/UNAUTHORIZED/) });
  });

  it('counts a message larger than the peer accepts as failed, and warns', async () => {
    let members: Member[] = [];
    const n2 = await startNode('n2', () => members, 64 * 1024);
    members = [
      { id: 'n1', url: 'http://127.0.0.1:1', voter: true },
      { id: 'n2', url: n2.url, voter: true },
    ];
    const warnings: object[] = [];
    const t = transport('n1', members, { logger: { debug: () => undefined, warn: (o) => warnings.push(o) } });
    const snapshot = samplesFrom('n1', 'n2').snapshot;
    t.send([{ ...snapshot, chunk: new Uint8Array(100 * 1024) }]);
    await eventually(() => expect(t.counters().failed).toBe(1));
    expect(warnings).toEqual([expect.objectContaining({ peer: 'n2', status: 413 })]);
    // The connection is still good for normal traffic.
    t.send(heartbeats('n1', 'n2', 1));
    await eventually(() => expect(t.counters().sent).toBe(1));
  });

  it('follows membership changes and drops messages to non-members, itself, and after close', async () => {
    let members: Member[] = [];
    const n2 = await startNode('n2', () => members);
    members = [{ id: 'n1', url: 'http://127.0.0.1:1', voter: true }];
    const warnings: object[] = [];
    const t = transport('n1', members, { logger: { debug: () => undefined, warn: (o) => warnings.push(o) } });
    t.send([...heartbeats('n1', 'n2', 1), ...heartbeats('n1', 'n1', 1)]);
    expect(t.counters().dropped).toBe(2);
    members = [...members, { id: 'n2', url: n2.url, voter: false }, { id: 'n4', url: 'not a url', voter: false }];
    t.setMembers(members);
    expect(warnings).toEqual([expect.objectContaining({ peer: 'n4' })]);
    t.send([...heartbeats('n1', 'n2', 1), ...heartbeats('n1', 'n4', 1)]);
    await eventually(() => expect(t.counters()).toMatchObject({ sent: 1, dropped: 3 }));
    // A stream counts a message sent once it is written: its arrival may come a little later.
    await eventually(() => expect(n2.received).toHaveLength(1));
    t.setMembers(members.filter((m) => m.id !== 'n2'));
    t.send(heartbeats('n1', 'n2', 1));
    expect(t.counters().dropped).toBe(4);
    await t.close();
    t.send(heartbeats('n1', 'n2', 1));
    expect(t.counters().dropped).toBe(5);
  });

  it("hands a peer's 410 MEMBER_REMOVED to onRemovedByPeer, with the peer's applied index", async () => {
    const n2 = await startNode('n2', () => [{ id: 'n2', url: 'http://127.0.0.1:1', voter: true }]);
    const notices: RemovalNotice[] = [];
    const t = transport('n1', [{ id: 'n2', url: n2.url, voter: true }], { onRemovedByPeer: (n) => notices.push(n) });
    t.send(heartbeats('n1', 'n2', 1));
    await eventually(() => expect(notices).toEqual([{ by: 'n2', appliedIndex: 42 }]));
    expect(n2.received).toEqual([]);
  });

  it('validates its options with messages naming the value and the range', () => {
    let err: unknown;
    try {
      transport('n1', [], { maxInflightRequestsPerPeer: 0 });
    } catch (e) {
      err = e;
    }
    expect(isRatifyError(err, 'CONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toBe('maxInflightRequestsPerPeer (0) must be an integer between 1 and 64');
  });
});
