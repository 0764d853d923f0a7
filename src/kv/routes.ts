// The key-value API of `--state-machine kv` (raw-consensus tests and benchmarks).
//   PUT /v1/kv/:key {value}  replicated write; followers forward to the leader.
//   GET /v1/kv/:key          linearizable read (ReadIndex barrier, works on followers).
import type { FastifyPluginAsync } from 'fastify';
import { KV_KEY_BYTES_MAX, encodeKvCommand, type KvPutResult, type KvStateMachine } from './state-machine.js';
import type { ClusterNode } from '../http/cluster-node.js';
import type { LeaderForwarder } from '../http/leader-forward.js';
import { CLIENT, READER } from '../http/auth.js';
import { errorResponses } from '../http/schemas.js';

export interface KvRoutesOptions {
  readonly node: ClusterNode;
  readonly kv: KvStateMachine;
  readonly forwarder: LeaderForwarder;
  /**
   * Test only, and unsafe (src/node/test-switches.ts): a follower answers reads from its
   * own state without the ReadIndex round, so the linearizability check can be shown to
   * catch the stale reads that follow.
   */
  readonly staleFollowerReads: boolean;
}

const keyParams = {
  type: 'object',
  required: ['key'],
  properties: { key: { type: 'string', minLength: 1, maxLength: KV_KEY_BYTES_MAX } },
} as const;

export const kvRoutes: FastifyPluginAsync<KvRoutesOptions> = async (app, { node, kv, forwarder, staleFollowerReads }) => {
  app.put<{ Params: { key: string }; Body: { value: string } }>(
    '/v1/kv/:key',
    {
      config: CLIENT,
      schema: {
        params: keyParams,
        body: { type: 'object', required: ['value'], additionalProperties: false, properties: { value: { type: 'string' } } },
        response: {
          200: { type: 'object', required: ['key', 'index'], properties: { key: { type: 'string' }, index: { type: 'integer' } } },
          ...errorResponses,
        },
      },
    },
    (req, reply) =>
      forwarder.run(req, reply, () =>
        node
          .propose(encodeKvCommand({ op: 'put', key: req.params.key, value: req.body.value }))
          .then((result) => ({ key: req.params.key, index: (result as KvPutResult).index })),
      ),
  );

  app.get<{ Params: { key: string } }>(
    '/v1/kv/:key',
    {
      config: READER,
      schema: {
        params: keyParams,
        response: {
          200: {
            type: 'object',
            required: ['key', 'found', 'value'],
            properties: { key: { type: 'string' }, found: { type: 'boolean' }, value: { type: ['string', 'null'] } },
          },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      if (!staleFollowerReads || node.status().role === 'leader') await node.readBarrier();
      const value = kv.get(req.params.key);
      return { key: req.params.key, found: value !== undefined, value: value ?? null };
    },
  );
};
