// The transaction HTTP API (issue 3), as an encapsulated fastify plugin.
// Writes run on the leader; a follower forwards them (one hop). Reads are
// linearizable on any node (ReadIndex barrier, then the local table).
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type pino from 'pino';
import { isRatifyError, RatifyError } from '../errors.js';
import type { ReplicatedLog } from '../node/replicated-log.js';
import type { TxConfig } from './config.js';
import type { Forwarder } from './forwarder.js';
import type { CreateInput, ParticipantInput, TxOperations } from './operations.js';
import { txSchemas } from './schemas.js';
import type { TxRecord, TxState } from './types.js';
import { toView } from './views.js';

export interface RoutesDeps {
  readonly ops: TxOperations;
  readonly forwarder: Forwarder;
  readonly log: ReplicatedLog;
  readonly config: TxConfig;
  readonly logger: pino.Logger;
  /** The term whose leadership the driver has taken up, or null. */
  readonly leadingTerm: () => number | null;
}

interface IdParams {
  id: string;
}

export function createTxRoutes(deps: RoutesDeps): FastifyPluginAsync {
  const { ops, forwarder, log, config } = deps;
  return async (app) => {
    const s = txSchemas(config);
    app.setErrorHandler((err: FastifyError | RatifyError, req, reply) => {
      const e = toRatifyError(err, config.maxBodyBytes);
      if (e.code === 'INTERNAL') deps.logger.error({ err, url: req.url }, 'transaction route failed');
      if (e.status === 503 || e.status === 429) void reply.header('retry-after', '1');
      return reply.code(e.status).send(e.toJSON());
    });

    /** Runs `op` here if this node leads, else hands the request to the leader. */
    async function onLeader(req: FastifyRequest, reply: FastifyReply, op: () => Promise<{ status: number; tx: TxRecord }>): Promise<void> {
      const status = log.status();
      if (status.role !== 'leader') return forwarder.forward(req, reply);
      // Newly elected and not yet told (its term's no-op may not be applied): make
      // the table current first, so a transaction the old leader created is found.
      if (deps.leadingTerm() !== status.term) await log.readBarrier({ timeoutMs: config.readBarrierTimeoutMs });
      const { status: code, tx } = await op();
      await reply.code(code).send(toView(tx));
    }
    const withStatus = (status: number) => (tx: TxRecord) => ({ status, tx });

    app.post<{ Body: CreateInput | undefined; Headers: { 'idempotency-key'?: string } }>(
      '/v1/transactions',
      {
        schema: s.create,
        bodyLimit: config.maxBodyBytes,
        // Every field is optional, so no body at all means the same as {}.
        preValidation: async (req) => {
          if (req.body === undefined) req.body = {};
        },
      },
      async (req, reply) => onLeader(req, reply, () => ops.create(req.body ?? {}, req.headers['idempotency-key'] ?? null)),
    );

    app.post<{ Params: IdParams; Body: ParticipantInput }>(
      '/v1/transactions/:id/participants',
      { schema: s.enlist, bodyLimit: config.maxBodyBytes },
      async (req, reply) => onLeader(req, reply, () => ops.enlist(req.params.id, req.body).then(withStatus(200))),
    );

    app.post<{ Params: IdParams }>('/v1/transactions/:id/commit', { schema: s.byId, bodyLimit: config.maxBodyBytes }, async (req, reply) =>
      onLeader(req, reply, () => ops.commit(req.params.id).then(withStatus(200))),
    );

    app.post<{ Params: IdParams }>('/v1/transactions/:id/abort', { schema: s.byId, bodyLimit: config.maxBodyBytes }, async (req, reply) =>
      onLeader(req, reply, () => ops.abort(req.params.id).then(withStatus(200))),
    );

    app.get<{ Params: IdParams }>('/v1/transactions/:id', { schema: s.byId }, async (req) => toView(await ops.get(req.params.id)));

    app.get<{ Querystring: { state?: TxState; limit?: number; cursor?: string } }>('/v1/transactions', { schema: s.list }, async (req) => {
      const { state, limit, cursor } = req.query;
      const page = await ops.list({ ...(state && { state }), ...(limit && { limit }), ...(cursor && { cursor }) });
      return { transactions: page.transactions.map(toView), nextCursor: page.nextCursor };
    });
  };
}

/** Every failure leaves as `{error: {code, message}}` with the code's status. */
export function toRatifyError(err: unknown, bodyLimitBytes: number): RatifyError {
  if (isRatifyError(err)) return err;
  const fe = err as Partial<FastifyError>;
  if (fe.validation !== undefined) return new RatifyError('VALIDATION_FAILED', fe.message ?? 'invalid request', { cause: err });
  if (fe.statusCode === 413 || fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new RatifyError('BODY_TOO_LARGE', `request body exceeds maxBodyBytes (${bodyLimitBytes})`, { cause: err });
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    // Malformed JSON, empty JSON body, unsupported media type: the request is wrong, not the server.
    return new RatifyError('VALIDATION_FAILED', fe.message ?? 'invalid request', { cause: err });
  }
  return new RatifyError('INTERNAL', 'internal error', { cause: err });
}
