// The transaction HTTP API, as an encapsulated fastify plugin. Writes run on the
// leader; a follower forwards them (one hop, through the app's LeaderForwarder).
// Reads are linearizable on any node (ReadIndex barrier, then the local table).
// Errors, validation, authentication and the audit log come from the app's root
// (src/http/): reads need a reader token, writes a client token, once tokens are set.
// With ownTransactionsOnly, a client-role principal sees and touches only the
// transactions it created (src/tx/operations.ts, Caller).
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyContextConfig } from 'fastify';
import type { AuditAction } from '../http/audit.js';
import { CLIENT, READER } from '../http/auth.js';
import type { LeaderForwarder } from '../http/leader-forward.js';
import type { ReplicatedLog } from '../node/replicated-log.js';
import type { TxConfig } from './config.js';
import type { Caller, CreateInput, ParticipantInput, TxOperations } from './operations.js';
import { txSchemas } from './schemas.js';
import type { StuckOperations } from './stuck-operations.js';
import { registerStuckRoutes } from './stuck-routes.js';
import type { TxRecord, TxState } from './types.js';
import type { ParticipantAttempt } from './participant-attempts.js';
import { toView as recordView } from './views.js';
import { TX_VISIBILITY_HEADER } from '../sdk/participant/answer-scope.js';

export interface RoutesDeps {
  readonly ops: TxOperations;
  /** The admin routes for stuck transactions (stuck-routes.ts). */
  readonly stuck: StuckOperations;
  readonly log: ReplicatedLog;
  readonly config: TxConfig;
  /** The term whose leadership the driver has taken up, or null. */
  readonly leadingTerm: () => number | null;
  /** A client-role principal sees only its own transactions (resolved: on by default once tokens are set). */
  readonly ownTransactionsOnly: boolean;
  /** The leader's own attempts per participant (participant-attempts.ts); empty on other nodes. */
  readonly attemptsOf?: (txId: string) => ReadonlyMap<string, ParticipantAttempt>;
}

/** What the app hands the plugin when it registers it. */
export interface TxPluginOptions {
  readonly forwarder: LeaderForwarder;
}

/** Writes need a client token (once tokens are set) and are audited; the setting is named in a 413's message. */
const write = (audit: AuditAction): FastifyContextConfig => ({ ...CLIENT, bodyLimitSetting: 'maxBodyBytes', audit });

interface IdParams {
  id: string;
}

export function createTxRoutes(deps: RoutesDeps): FastifyPluginAsync<TxPluginOptions> {
  const { ops, log, config } = deps;
  const toView = (tx: TxRecord): ReturnType<typeof recordView> => recordView(tx, deps.attemptsOf?.(tx.id));
  return async (app, { forwarder }) => {
    const s = txSchemas(config);
    const caller = (req: FastifyRequest): Caller => ({
      principal: req.principal?.name ?? null,
      ownOnly: deps.ownTransactionsOnly && req.principal?.role === 'client',
    });

    // Tells an asker whether TX_NOT_FOUND is authoritative: "own" when this caller
    // sees only the transactions it created, so a 404 may just mean "not yours".
    // Cooperative termination presumes abort only on a 404 marked "all"
    // (src/sdk/participant/answer-scope.ts).
    app.addHook('onSend', (req, reply, payload, done) => {
      void reply.header(TX_VISIBILITY_HEADER, caller(req).ownOnly ? 'own' : 'all');
      done(null, payload);
    });

    /** Runs `op` here if this node leads, else hands the request to the leader. */
    async function onLeader(req: FastifyRequest, reply: FastifyReply, op: () => Promise<{ status: number; tx: TxRecord }>): Promise<void> {
      const status = log.status();
      if (status.role !== 'leader') {
        await forwarder.toLeader(req, reply, status, config.forwardTimeoutMs);
        return;
      }
      // Newly elected and not yet told (its term's no-op may not be applied): make
      // the table current first, so a transaction the old leader created is found.
      if (deps.leadingTerm() !== status.term) await log.readBarrier({ timeoutMs: config.readBarrierTimeoutMs });
      const { status: code, tx } = await op();
      req.auditTxId = tx.id;
      await reply.code(code).send(toView(tx));
    }
    const withStatus = (status: number) => (tx: TxRecord) => ({ status, tx });

    app.post<{ Body: CreateInput | undefined; Headers: { 'idempotency-key'?: string } }>(
      '/v1/transactions',
      {
        schema: s.create,
        bodyLimit: config.maxBodyBytes,
        config: write('tx.create'),
        // Every field is optional, so no body at all means the same as {}.
        preValidation: (req, _reply, done) => {
          if (req.body === undefined) req.body = {};
          done();
        },
      },
      async (req, reply) => onLeader(req, reply, () => ops.create(req.body ?? {}, req.headers['idempotency-key'] ?? null, caller(req))),
    );

    app.post<{ Params: IdParams; Body: ParticipantInput }>(
      '/v1/transactions/:id/participants',
      { schema: s.enlist, bodyLimit: config.maxBodyBytes, config: write('tx.enlist') },
      async (req, reply) => onLeader(req, reply, () => ops.enlist(req.params.id, req.body, caller(req)).then(withStatus(200))),
    );

    app.post<{ Params: IdParams }>(
      '/v1/transactions/:id/commit',
      { schema: s.byId, bodyLimit: config.maxBodyBytes, config: write('tx.commit') },
      async (req, reply) => onLeader(req, reply, () => ops.commit(req.params.id, caller(req)).then(withStatus(200))),
    );

    app.post<{ Params: IdParams }>(
      '/v1/transactions/:id/abort',
      { schema: s.byId, bodyLimit: config.maxBodyBytes, config: write('tx.abort') },
      async (req, reply) => onLeader(req, reply, () => ops.abort(req.params.id, caller(req)).then(withStatus(200))),
    );

    app.get<{ Params: IdParams }>('/v1/transactions/:id', { config: READER, schema: s.byId }, async (req) =>
      toView(await ops.get(req.params.id, caller(req))),
    );

    app.get<{ Querystring: { state?: TxState; limit?: number; cursor?: string } }>(
      '/v1/transactions',
      { config: READER, schema: s.list },
      async (req) => {
        const { state, limit, cursor } = req.query;
        const page = await ops.list({ ...(state && { state }), ...(limit && { limit }), ...(cursor && { cursor }) }, caller(req));
        return { transactions: page.transactions.map(toView), nextCursor: page.nextCursor };
      },
    );

    registerStuckRoutes(app, { stuck: deps.stuck, config, onLeader });
  };
}
