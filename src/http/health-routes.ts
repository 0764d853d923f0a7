// Liveness and readiness.
//   GET /healthz: 200 while the process serves HTTP and is not wedged; 503 with the
//                 reason when the Raft loop or storage has had work pending and made
//                 no progress for healthStallMs (src/node/liveness.ts).
//   GET /readyz:  200 once a leader is known and this node has applied everything
//                 the leader told it is committed (minus readyLagEntriesMax), else 503.
import type { FastifyPluginAsync } from 'fastify';
import { PUBLIC } from './auth.js';
import type { ClusterNode } from './cluster-node.js';

export interface HealthRoutesOptions {
  readonly node: ClusterNode;
  /** Applied may trail the leader's commit index by this many entries and still count as caught up. */
  readonly readyLagEntriesMax: number;
  /** Why the node is wedged, or null (liveness.ts); absent: never judged wedged. */
  readonly wedged?: () => string | null;
}

const healthSchema = {
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string' }, reason: { type: 'string' } },
} as const;

const readySchema = {
  type: 'object',
  required: ['ready', 'leaderKnown', 'appliedIndex', 'leaderCommitIndex'],
  properties: {
    ready: { type: 'boolean' },
    leaderKnown: { type: 'boolean' },
    removed: { type: 'boolean' },
    appliedIndex: { type: 'integer' },
    leaderCommitIndex: { type: 'integer' },
  },
} as const;

export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { node, readyLagEntriesMax, wedged }) => {
  app.get('/healthz', { config: PUBLIC, schema: { response: { 200: healthSchema, 503: healthSchema } } }, async (_req, reply) => {
    const reason = wedged?.() ?? null;
    if (reason === null) return { status: 'ok' };
    // Not the error shape: a probe reads the status code, an operator the reason.
    return reply.code(503).send({ status: 'wedged', reason });
  });

  app.get('/readyz', { config: PUBLIC, schema: { response: { 200: readySchema, 503: readySchema } } }, async (_req, reply) => {
    const r = node.readiness();
    const ready = !r.removed && r.leaderKnown && r.appliedIndex + readyLagEntriesMax >= r.leaderCommitIndex;
    return reply.code(ready ? 200 : 503).send({ ready, ...r });
  });
};
