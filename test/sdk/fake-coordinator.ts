// A fake Ratify node for participant tests: programmable answers to
// GET /v1/transactions/:id and GET /v1/cluster, listening on 127.0.0.1 port 0.
import { createServer } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';

export type FakeTx = { outcome: 'committed' | 'aborted' | null; state: string } | 'missing';

export interface FakeCoordinator {
  readonly url: string;
  readonly txs: Map<string, FakeTx>;
  cluster: { term: number; leaderId: string | null };
  /**
   * up: answer. no-leader: every route answers 503 NO_LEADER in the API's error
   * shape (a node reached, but no leader). down: drop every connection without
   * an answer (no node reached).
   */
  mode: 'up' | 'no-leader' | 'down';
  /** Every request path, in order. */
  readonly seen: string[];
  /** Named on every reply as x-ratify-cluster / x-ratify-incarnation, as real nodes do; null: no headers (an old node). */
  identity: { clusterId: string; incarnation: string } | null;
  /** x-ratify-tx-visibility on every reply; null: no header (an old node). */
  visibility: 'all' | 'own' | null;
  close(): Promise<void>;
}

export async function startFakeCoordinator(): Promise<FakeCoordinator> {
  const app: FastifyInstance = Fastify({ logger: false });
  const fake = {
    url: '',
    txs: new Map<string, FakeTx>(),
    cluster: { term: 1, leaderId: 'n1' as string | null },
    mode: 'up' as FakeCoordinator['mode'],
    seen: [] as string[],
    identity: null as FakeCoordinator['identity'],
    visibility: null as FakeCoordinator['visibility'],
    close: () => app.close(),
  };
  app.addHook('onRequest', async (req, reply) => {
    fake.seen.push(req.url);
    if (fake.identity !== null)
      void reply.header('x-ratify-cluster', fake.identity.clusterId).header('x-ratify-incarnation', fake.identity.incarnation);
    if (fake.visibility !== null) void reply.header('x-ratify-tx-visibility', fake.visibility);
    if (fake.mode === 'no-leader') return reply.code(503).send({ error: { code: 'NO_LEADER', message: 'no leader is known' } });
    if (fake.mode === 'down') {
      reply.hijack();
      req.raw.socket.destroy();
    }
    return undefined;
  });
  app.get<{ Params: { id: string } }>('/v1/transactions/:id', async (req, reply) => {
    const tx = fake.txs.get(req.params.id) ?? 'missing';
    if (tx === 'missing') return reply.code(404).send({ error: { code: 'TX_NOT_FOUND', message: 'no such transaction' } });
    return { id: req.params.id, protocol: '2pc', participants: [], createdAt: 0, ...tx };
  });
  app.get('/v1/cluster', async () => ({ nodeId: 'n1', role: 'leader', commitIndex: 1, appliedIndex: 1, members: [], ...fake.cluster }));
  fake.url = await app.listen({ host: '127.0.0.1', port: 0 });
  return fake;
}

/** A loopback URL on which nothing listens (connection refused). */
export async function refusedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return `http://127.0.0.1:${port}`;
}
