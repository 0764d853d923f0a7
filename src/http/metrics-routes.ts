// GET /metrics in the Prometheus text format.
import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import { PUBLIC } from './auth.js';

export const metricsRoutes: FastifyPluginAsync<{ readonly registry: Registry }> = async (app, { registry }) => {
  app.get('/metrics', { config: PUBLIC }, async (_req, reply) => {
    const text = await registry.metrics();
    return reply.header('content-type', registry.contentType).send(text);
  });
};
