// Fake Ratify nodes for client tests: fastify servers on 127.0.0.1 port 0 whose
// /v1/cluster answer and transaction-route behaviour each test programs.
import Fastify, { type FastifyInstance } from 'fastify';

export interface SeenRequest {
  readonly node: string;
  readonly method: string;
  readonly url: string;
  readonly idempotencyKey: string | undefined;
  readonly secret: string | undefined;
  readonly authorization: string | undefined;
  readonly body: unknown;
}

export interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}

export interface FakeNode {
  readonly id: string;
  url: string;
  role: 'leader' | 'follower' | 'candidate';
  leaderId: string | null;
  /** Answers for POST/GET under /v1/transactions; default: a view echoing the request. */
  respond: (req: SeenRequest) => Reply;
  close(): Promise<void>;
}

export interface FakeCluster {
  readonly nodes: FakeNode[];
  readonly seen: SeenRequest[];
  urls(): string[];
  /** Points every node's leaderId at `id` and gives that node the leader role. */
  elect(id: string | null): void;
  close(): Promise<void>;
}

export function view(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, state: 'active', outcome: null, protocol: '2pc', participants: [], createdAt: '2024-01-01T00:00:00.000Z', ...extra };
}

export async function startFakeCluster(size = 3): Promise<FakeCluster> {
  const seen: SeenRequest[] = [];
  const apps: FastifyInstance[] = [];
  const nodes: FakeNode[] = [];
  const cluster: FakeCluster = {
    nodes,
    seen,
    urls: () => nodes.map((n) => n.url),
    elect(id) {
      for (const n of nodes) {
        n.leaderId = id;
        n.role = n.id === id ? 'leader' : 'follower';
      }
    },
    close: async () => {
      await Promise.all(apps.map((a) => a.close()));
    },
  };
  for (let i = 1; i <= size; i++) {
    const app = Fastify({ logger: false });
    const node: FakeNode = {
      id: `n${i}`,
      url: '',
      role: 'follower',
      leaderId: null,
      respond: (req) => ({ status: req.method === 'POST' ? 201 : 200, body: view('tx-1') }),
      close: () => app.close(),
    };
    app.get('/v1/cluster', async () => ({
      nodeId: node.id,
      role: node.role,
      term: 3,
      leaderId: node.leaderId,
      leaderUrl: nodes.find((n) => n.id === node.leaderId)?.url ?? null,
      commitIndex: 10,
      appliedIndex: 10,
      members: nodes.map((n) => ({ id: n.id, url: n.url, voter: true })),
    }));
    app.all('/v1/transactions*', async (req, reply) => {
      const r: SeenRequest = {
        node: node.id,
        method: req.method,
        url: req.url,
        idempotencyKey: req.headers['idempotency-key'] as string | undefined,
        secret: req.headers['x-ratify-secret'] as string | undefined,
        authorization: req.headers.authorization,
        body: req.body,
      };
      seen.push(r);
      const answer = node.respond(r);
      for (const [k, v] of Object.entries(answer.headers ?? {})) void reply.header(k, v);
      return reply.code(answer.status).send(answer.body);
    });
    node.url = await app.listen({ host: '127.0.0.1', port: 0 });
    apps.push(app);
    nodes.push(node);
  }
  cluster.elect('n1');
  return cluster;
}
