// JSON schemas of the transaction routes: body, params, query, headers, and a
// response schema per status so replies carry the view and nothing internal.
import { errorResponses } from '../http/schemas.js';
import type { TxConfig } from './config.js';
import { ABANDON_REASONS, TX_STATES } from './types.js';
import { DECISION_REASON_CODES } from './decision-reason.js';

/**
 * Longest transaction id the routes accept (400 VALIDATION_FAILED beyond it).
 * Ids are UUIDs (36 characters). Kept below the router's maxParamLength
 * (fastify's default is 100) so that the schema, not the router, judges every
 * id up to there: the router answers a longer path parameter with its own 414
 * before any route or error handler runs, which only the app's
 * `frameworkErrors` option can put into the `{error: {code, message}}` shape.
 */
export const TX_ID_LENGTH_MAX = 64;

export const viewSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    state: { type: 'string', enum: TX_STATES },
    outcome: { type: ['string', 'null'], enum: ['committed', 'aborted', null] },
    protocol: { type: 'string', enum: ['2pc', '3pc'] },
    participants: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          url: { type: 'string' },
          vote: { type: ['string', 'null'], enum: ['commit', 'abort', null] },
          acknowledged: { type: 'boolean' },
          lastError: { type: 'string' },
          failingSince: { type: 'string' },
          call: { type: 'string', enum: ['prepare', 'precommit', 'commit', 'abort'] },
          attempts: { type: 'integer' },
          lastAttemptAt: { type: 'string' },
          nextRetryAt: { type: 'string' },
          abandoned: { type: 'string', enum: ABANDON_REASONS },
        },
        required: ['name', 'url', 'vote', 'acknowledged'],
      },
    },
    createdAt: { type: 'string' },
    deadlineAt: { type: 'string' },
    decidedAt: { type: 'string' },
    completedAt: { type: 'string' },
    decisionReason: {
      type: 'object',
      properties: {
        code: { type: 'string', enum: DECISION_REASON_CODES },
        message: { type: 'string' },
        participant: { type: 'string' },
      },
      required: ['code', 'message'],
    },
  },
  required: ['id', 'state', 'outcome', 'protocol', 'participants', 'createdAt', 'deadlineAt'],
} as const;

export function txSchemas(config: TxConfig) {
  const participant = {
    type: 'object',
    properties: {
      name: { type: 'string', minLength: 1, maxLength: config.maxNameLength },
      url: { type: 'string', minLength: 1, maxLength: config.maxUrlLength },
      payload: {},
    },
    required: ['name', 'url'],
    additionalProperties: false,
  } as const;
  const idParams = {
    type: 'object',
    properties: { id: { type: 'string', minLength: 1, maxLength: TX_ID_LENGTH_MAX } },
    required: ['id'],
  } as const;
  return {
    create: {
      headers: {
        type: 'object',
        properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: config.maxIdempotencyKeyLength } },
      },
      body: {
        type: 'object',
        properties: {
          // No maxItems: too many participants is 413 TOO_MANY_PARTICIPANTS, not a 400.
          participants: { type: 'array', items: participant },
          protocol: { type: 'string', enum: ['2pc', '3pc'] },
          timeoutMs: { type: 'integer', minimum: 1, maximum: config.maxTimeoutMs },
          commit: { type: 'boolean' },
        },
        additionalProperties: false,
      },
      response: { 200: viewSchema, 201: viewSchema, ...errorResponses },
    },
    enlist: { params: idParams, body: participant, response: { 200: viewSchema, ...errorResponses } },
    byId: { params: idParams, response: { 200: viewSchema, ...errorResponses } },
    list: {
      querystring: {
        type: 'object',
        properties: {
          state: { type: 'string', enum: TX_STATES },
          limit: { type: 'integer', minimum: 1, maximum: config.listLimitMax },
          cursor: { type: 'string', minLength: 1, maxLength: 64 },
        },
        additionalProperties: false,
      },
      response: {
        200: {
          type: 'object',
          properties: { transactions: { type: 'array', items: viewSchema }, nextCursor: { type: ['string', 'null'] } },
          required: ['transactions', 'nextCursor'],
        },
        ...errorResponses,
      },
    },
  };
}
