// The admin routes for stuck transactions (issue 14, "No wedge"):
//
//   GET  /v1/admin/stuck-transactions?olderThanMs=&limit=
//   POST /v1/admin/stuck-transactions/{id}/force-finish   {confirm: "<id>", outcome?}
//
// Both need the admin role (an admin token, or the cluster secret without
// tokens), like membership changes. The list is a linearizable read on any
// node; force-finish runs on the leader (a follower forwards it) and is in the
// audit log as `tx.forceFinish`, with the principal, which the replicated
// entry also carries.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ADMIN } from '../http/auth.js';
import { errorResponses } from '../http/schemas.js';
import type { TxConfig } from './config.js';
import { TX_ID_LENGTH_MAX, viewSchema } from './schemas.js';
import type { ForceFinishInput, StuckOperations } from './stuck-operations.js';
import type { TxRecord } from './types.js';
import { toView } from './views.js';

/** Default of olderThanMs: what the dashboard calls stuck (GET /v1/activity's stuckAfterMs). */
export const STUCK_OLDER_THAN_DEFAULT_MS = 10_000;

export interface StuckRoutesDeps {
  readonly stuck: StuckOperations;
  readonly config: TxConfig;
  /** Runs `op` on the leader (here, or forwarded), as the transaction writes do. */
  readonly onLeader: (req: FastifyRequest, reply: FastifyReply, op: () => Promise<{ status: number; tx: TxRecord }>) => Promise<void>;
}

export function registerStuckRoutes(app: FastifyInstance, deps: StuckRoutesDeps): void {
  const { stuck, config } = deps;
  const listSchema = {
    querystring: {
      type: 'object',
      properties: {
        olderThanMs: { type: 'integer', minimum: 0, maximum: 365 * 24 * 60 * 60 * 1000 },
        limit: { type: 'integer', minimum: 1, maximum: config.listLimitMax },
      },
      additionalProperties: false,
    },
    response: {
      200: {
        type: 'object',
        required: ['atMs', 'count', 'finishing', 'maxStuckTransactions', 'transactions'],
        properties: {
          atMs: { type: 'integer' },
          count: { type: 'integer' },
          finishing: { type: 'integer' },
          maxStuckTransactions: { type: 'integer' },
          transactions: {
            type: 'array',
            items: {
              type: 'object',
              required: ['ageMs', 'stuckForMs', 'tx'],
              properties: { ageMs: { type: 'integer' }, stuckForMs: { type: 'integer' }, tx: viewSchema },
            },
          },
        },
      },
      ...errorResponses,
    },
  } as const;
  const forceSchema = {
    params: { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: TX_ID_LENGTH_MAX } }, required: ['id'] },
    // confirm is checked by the operation (CONFIRMATION_REQUIRED names what to send), not here.
    body: {
      type: 'object',
      properties: { confirm: { type: 'string', maxLength: TX_ID_LENGTH_MAX }, outcome: { type: 'string', enum: ['committed', 'aborted'] } },
      additionalProperties: false,
    },
    response: { 200: viewSchema, ...errorResponses },
  } as const;

  app.get<{ Querystring: { olderThanMs?: number; limit?: number } }>(
    '/v1/admin/stuck-transactions',
    { config: ADMIN, schema: listSchema },
    async (req) => {
      const list = await stuck.list({
        olderThanMs: req.query.olderThanMs ?? STUCK_OLDER_THAN_DEFAULT_MS,
        limit: req.query.limit ?? config.listLimitDefault,
      });
      return { ...list, transactions: list.transactions.map((t) => ({ ageMs: t.ageMs, stuckForMs: t.stuckForMs, tx: toView(t.tx) })) };
    },
  );

  app.post<{ Params: { id: string }; Body: ForceFinishInput | undefined }>(
    '/v1/admin/stuck-transactions/:id/force-finish',
    {
      config: { ...ADMIN, audit: 'tx.forceFinish' },
      schema: forceSchema,
      bodyLimit: config.maxBodyBytes,
      preValidation: async (req) => {
        if (req.body === undefined) req.body = {};
      },
    },
    async (req, reply) =>
      deps.onLeader(req, reply, async () => ({
        status: 200,
        tx: await stuck.forceFinish(req.params.id, req.body ?? {}, req.principal?.name ?? null),
      })),
  );
}
