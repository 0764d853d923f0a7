// GET /transactions: this bank's own record of every transaction it took part in,
// so a checker can hold each one against the coordinator's outcome (atomicity per
// transaction) and see that nothing is left in doubt here.
//
//   GET /transactions?state=prepared|committed|aborted&txId=<id>&limit=<1..10000>&cursor=<nextCursor>
//   200 { bank, participantInDoubt, transactions: [{txId, participant, state, ops, reason?}], nextCursor }
//
// No record for a (txId, participant) means this bank never held anything for it.
import type { FastifyError, FastifyPluginAsync } from 'fastify';
import { installStrictValidation } from '../../src/http/validation.js';
import type { Participant } from '../../src/sdk/participant/index.js';
import type { Ledger } from './ledger.js';
import { decodeCursor, LEDGER_TX_STATES, type LedgerTxState } from './ledger-records.js';

export const TRANSACTIONS_LIMIT_DEFAULT = 1_000;
export const TRANSACTIONS_LIMIT_MAX = 10_000;

export interface TransactionsRouteOptions {
  readonly bank: string;
  readonly ledger: Ledger;
  readonly participant: Participant;
}

interface Query {
  state?: LedgerTxState;
  txId?: string;
  limit?: number;
  cursor?: string;
}

const opSchema = {
  type: 'object',
  properties: { account: { type: 'string' }, delta: { type: 'integer' } },
  required: ['account', 'delta'],
} as const;

const recordSchema = {
  type: 'object',
  properties: {
    txId: { type: 'string' },
    participant: { type: 'string' },
    state: { type: 'string', enum: LEDGER_TX_STATES },
    ops: { type: 'array', items: opSchema },
    reason: { type: 'string' },
  },
  required: ['txId', 'participant', 'state', 'ops'],
} as const;

const schema = {
  querystring: {
    type: 'object',
    properties: {
      state: { type: 'string', enum: LEDGER_TX_STATES },
      txId: { type: 'string', minLength: 1, maxLength: 256 },
      limit: { type: 'integer', minimum: 1, maximum: TRANSACTIONS_LIMIT_MAX },
      cursor: { type: 'string', minLength: 1, maxLength: 2048 },
    },
    additionalProperties: false,
  },
  response: {
    200: {
      type: 'object',
      properties: {
        bank: { type: 'string' },
        participantInDoubt: { type: 'integer' },
        transactions: { type: 'array', items: recordSchema },
        nextCursor: { type: ['string', 'null'] },
      },
      required: ['bank', 'participantInDoubt', 'transactions', 'nextCursor'],
    },
  },
} as const;

/** Encapsulated: its error shape ({error: {code, message}}) applies to this route only. */
export const registerTransactionsRoute: FastifyPluginAsync<TransactionsRouteOptions> = async (app, o) => {
  // The coordinator's validators (in this plugin only): an unknown or misspelled
  // parameter is an error, not silently ignored, so a checker never reads an unfiltered list by mistake.
  installStrictValidation(app);
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    if (err.validation === undefined && err.statusCode !== 400) throw err;
    return reply.code(400).send({ error: { code: 'VALIDATION_FAILED', message: err.message } });
  });
  app.get<{ Querystring: Query }>('/transactions', { schema }, async (req, reply) => {
    const { state, txId, limit, cursor } = req.query;
    const afterKey = cursor === undefined ? null : decodeCursor(cursor);
    if (afterKey === null && cursor !== undefined) {
      return reply.code(400).send({ error: { code: 'VALIDATION_FAILED', message: 'cursor is not one this API returned' } });
    }
    const query = { limit: limit ?? TRANSACTIONS_LIMIT_DEFAULT, ...(state && { state }), ...(txId !== undefined && { txId }) };
    const page = await o.ledger.transactions(query, afterKey);
    // The SDK's own count: records preparing, prepared or precommitted (read after the
    // page; at rest both this and the page's prepared records are empty).
    return { bank: o.bank, participantInDoubt: o.participant.inDoubtCount(), ...page };
  });
};
