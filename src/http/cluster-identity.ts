// Every reply names the cluster that gave it: `x-ratify-cluster` (the cluster id)
// and, once the cluster has replicated one, `x-ratify-incarnation`
// (src/node/cluster-incarnation.ts). These are the same two values a participant
// call carries, so a participant that stored them with its prepare can tell
// whether an answer to its cooperative-termination inquiry comes from the cluster
// that prepared it (src/sdk/participant/answer-scope.ts). Without them, another
// cluster's 404 for a transaction it never saw reads as "forgotten, so abort"
// while the real coordinator may have decided commit.
//
// Neither value is a secret: the id is in every peer message and the
// incarnation in every participant call; the keys that sign those stay private.
import type { FastifyInstance } from 'fastify';
import { CLUSTER_HEADER, INCARNATION_HEADER } from '../sdk/participant/signature.js';

export interface ClusterIdentity {
  readonly clusterId: string;
  /** The replicated incarnation, or null before this node has applied it (or on a KV node, which has none). */
  readonly incarnation: () => string | null;
}

export function installClusterIdentity(app: FastifyInstance, id: ClusterIdentity): void {
  // onSend runs for error replies too (401, 404, 503...), which is where it matters most.
  app.addHook('onSend', (_req, reply, payload, done) => {
    void reply.header(CLUSTER_HEADER, id.clusterId);
    const incarnation = id.incarnation();
    if (incarnation !== null) void reply.header(INCARNATION_HEADER, incarnation);
    done(null, payload);
  });
}
