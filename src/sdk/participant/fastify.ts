// The participant as a fastify plugin: POST {prefix}/prepare, /precommit, /commit,
// /abort and /batch, schema-first, all delegating to the framework-free core.
//
//   app.register(ratifyParticipant, { prefix: '/ratify', participant })
//
// Given `participant`, the caller owns its lifecycle. Given participant options
// instead, the plugin creates the participant, starts it when the app is ready and
// closes it with the app.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from '../../http/error-handler.js';
import { errorResponses } from '../../http/schemas.js';
import { BATCH_CALLS_MAX, decodeBatch } from './batch.js';
import { decodeCall, PARTICIPANT_NAME_CHARS_MAX, TX_ID_CHARS_MAX } from './decode.js';
import type { ParticipantOptions } from './options.js';
import { createParticipant, type Participant, type ReceivedRequest } from './participant.js';
import { CALL_PATHS, PARTICIPANT_TX_STATES, type CallPath } from './types.js';

export type RatifyParticipantPluginOptions = ({ readonly participant: Participant } | ParticipantOptions) & {
  /** Largest request body in bytes (default 1 MiB). */
  readonly bodyLimit?: number;
};

const BODY_LIMIT_DEFAULT = 1024 * 1024;

const common = {
  txId: { type: 'string', minLength: 1, maxLength: TX_ID_CHARS_MAX },
  participant: { type: 'string', minLength: 1, maxLength: PARTICIPANT_NAME_CHARS_MAX },
  term: { type: 'integer', minimum: 0 },
} as const;

const bodySchemas: Record<CallPath, object> = {
  prepare: {
    type: 'object',
    required: ['txId', 'participant', 'protocol', 'term'],
    properties: { ...common, protocol: { type: 'string', enum: ['2pc', '3pc'] }, payload: {} },
  },
  precommit: { type: 'object', required: ['txId', 'participant', 'term'], properties: common },
  commit: { type: 'object', required: ['txId', 'participant', 'term'], properties: common },
  abort: { type: 'object', required: ['txId', 'participant', 'term'], properties: common },
};

/**
 * Only the envelope: each item is decoded by the core, because an item that is
 * not a call is that item's 400, not the batch's (so `items` stays unconstrained).
 */
const batchBodySchema = {
  type: 'object',
  required: ['term', 'calls'],
  properties: {
    term: common.term,
    calls: { type: 'array', minItems: 1, maxItems: BATCH_CALLS_MAX, items: {} },
  },
} as const;

const okSchema = {
  prepare: {
    type: 'object',
    properties: { vote: { type: 'string', enum: ['commit', 'abort'] }, reason: { type: 'string' } },
    required: ['vote'],
  },
  ack: {
    type: 'object',
    properties: { ok: { type: 'boolean' }, state: { type: 'string', enum: PARTICIPANT_TX_STATES } },
    required: ['ok', 'state'],
  },
  // `body: {}` has no type, so fast-json-stringify writes it with JSON.stringify:
  // each item's body leaves exactly as the core made it (a test checks this).
  batch: {
    type: 'object',
    properties: {
      results: {
        type: 'array',
        items: { type: 'object', properties: { status: { type: 'integer' }, body: {} }, required: ['status', 'body'] },
      },
    },
    required: ['results'],
  },
} as const;

const termHeaderSchema = {
  type: 'object',
  properties: { 'x-ratify-term': { type: 'string', pattern: '^[0-9]{1,16}$' } },
} as const;

export async function ratifyParticipant(app: FastifyInstance, opts: RatifyParticipantPluginOptions): Promise<void> {
  const participant = 'participant' in opts ? opts.participant : ownedParticipant(app, opts);
  const bodyLimit = opts.bodyLimit ?? BODY_LIMIT_DEFAULT;
  // The user's app has its own root handler; ours applies inside this plugin only.
  app.setErrorHandler(sendError);
  // Signatures cover the exact body bytes, so this plugin's JSON parser keeps
  // them (fastify's own parser otherwise; a parent app's parser is replaced
  // inside this plugin only).
  const rawBodies = new WeakMap<FastifyRequest, string>();
  const parseJson = app.getDefaultJsonParser('error', 'ignore');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    rawBodies.set(req, body as string);
    parseJson(req, body as string, done);
  });
  const received = (req: FastifyRequest): ReceivedRequest => ({
    method: req.method,
    path: req.url.split('?', 1)[0] ?? req.url,
    body: rawBodies.get(req) ?? '',
  });
  for (const path of CALL_PATHS) {
    app.post(
      `/${path}`,
      {
        bodyLimit,
        // The app's Ajv may coerce types ("42" for 42); the core's decoder is strict,
        // and running it before schema validation keeps the wire contract exact.
        // Callback style: no promise per call; a throw fails the call as a rejection would.
        preValidation: (req: FastifyRequest, _reply: FastifyReply, done: () => void) => {
          decodeCall(path, req.body, req.headers);
          done();
        },
        schema: {
          body: bodySchemas[path],
          headers: termHeaderSchema,
          response: { 200: path === 'prepare' ? okSchema.prepare : okSchema.ack, ...errorResponses },
        },
      },
      async (req: FastifyRequest, reply: FastifyReply) => {
        const result = await participant.handle(path, req.body, req.headers, received(req));
        return reply.code(result.status).send(result.body);
      },
    );
  }
  app.post(
    '/batch',
    {
      bodyLimit,
      // Strict before Ajv for the same reason as above (a coerced `calls` would wrap a non-array).
      preValidation: (req: FastifyRequest, _reply: FastifyReply, done: () => void) => {
        decodeBatch(req.body, req.headers);
        done();
      },
      schema: { body: batchBodySchema, headers: termHeaderSchema, response: { 200: okSchema.batch, ...errorResponses } },
    },
    async (req: FastifyRequest, reply: FastifyReply) => {
      const result = await participant.handleBatch(req.body, req.headers, received(req));
      return reply.code(result.status).send(result.body);
    },
  );
}

function ownedParticipant(app: FastifyInstance, opts: ParticipantOptions): Participant {
  const participant = createParticipant(opts);
  app.addHook('onReady', () => participant.start());
  app.addHook('onClose', () => participant.close());
  return participant;
}
