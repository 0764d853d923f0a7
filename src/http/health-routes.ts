// Liveness and readiness.
//   GET /healthz: 200 while the process serves HTTP at all.
//   GET /readyz:  200 once a leader is known and this node has applied everything
//                 the leader told it is committed (minus readyLagEntriesMax), else 503.
import type { FastifyPluginAsync } from 'fastify';
import { PUBLIC } from './auth.js';
import type { ClusterNode } from './cluster-node.js';

export interface HealthRoutesOptions {
  readonly node: ClusterNode;
  /** Applied may trail the leader's commit index by this many entries and still count as caught up. */
  readonly readyLagEntriesMax: number;
}

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

export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { node, readyLagEntriesMax }) => {
  app.get(
    '/healthz',
    { config: PUBLIC, schema: { response: { 200: { type: 'object', required: ['status'], properties: { status: { type: 'string' } } } } } },
    async () => ({ status: 'ok' }),
  );

  app.get('/readyz', { config: PUBLIC, schema: { response: { 200: readySchema, 503: readySchema } } }, async (_req, reply) => {
    const r = node.readiness();
    const ready = !r.removed && r.leaderKnown && r.appliedIndex + readyLagEntriesMax >= r.leaderCommitIndex;
    return reply.code(ready ? 200 : 503).send({ ready, ...r });
  });
};
