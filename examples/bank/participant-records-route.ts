// GET /participant-records: the participant SDK's own record of every transaction this
// bank took part in (the store the coordinator's calls write), read-only. A checker
// holds each one against the coordinator's outcome: the container chaos suite reads
// them here, where it cannot open the bank's LevelDB as the local chaos runner does.
// (GET /transactions is the ledger's view of the same transactions.)
//
//   GET /participant-records?sinceMs=<ms>&scanMax=<1..100000>
//   200 { bank, records: [{txId, participant, state, protocol, vote, reason, updatedAtMs}], complete }
//
// Who may read it: with no token set, callers on loopback only (403 from anywhere else);
// with a token (BANK_RECORDS_TOKEN), every caller, loopback included, must send
// `Authorization: Bearer <token>` (401 otherwise). Transaction ids and votes are not
// for anyone who can reach the participant port.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { installStrictValidation } from '../../src/http/validation.js';
import { isLoopbackHost } from '../../src/node/loopback.js';
import type { Participant } from '../../src/sdk/participant/index.js';

export const RECORDS_SCAN_DEFAULT = 10_000;
export const RECORDS_SCAN_MAX = 100_000;
/** The environment variable bank-service reads the token from (never a flag: `ps` shows flags). */
export const RECORDS_TOKEN_ENV = 'BANK_RECORDS_TOKEN';
export const RECORDS_TOKEN_CHARS_MIN = 16;
const RECORDS_TOKEN_CHARS_MAX = 1024;

export interface ParticipantRecordsRouteOptions {
  readonly bank: string;
  readonly participant: Participant;
  /** Null: loopback callers only. */
  readonly token: string | null;
}

/** Throws, naming the length and the limit (never the token), on a token too short or too long. */
export function checkRecordsToken(token: string): void {
  if (token.length < RECORDS_TOKEN_CHARS_MIN || token.length > RECORDS_TOKEN_CHARS_MAX) {
    throw new Error(
      `${RECORDS_TOKEN_ENV} length (${token.length}) must be ${RECORDS_TOKEN_CHARS_MIN}-${RECORDS_TOKEN_CHARS_MAX} characters`,
    );
  }
}

const schema = {
  querystring: {
    type: 'object',
    properties: {
      sinceMs: { type: 'integer', minimum: 0 },
      scanMax: { type: 'integer', minimum: 1, maximum: RECORDS_SCAN_MAX },
    },
    additionalProperties: false,
  },
  response: {
    200: {
      type: 'object',
      properties: {
        bank: { type: 'string' },
        records: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              txId: { type: 'string' },
              participant: { type: 'string' },
              state: { type: 'string' },
              protocol: { type: ['string', 'null'] },
              vote: { type: ['string', 'null'] },
              reason: { type: ['string', 'null'] },
              updatedAtMs: { type: 'integer' },
            },
            required: ['txId', 'participant', 'state', 'protocol', 'vote', 'reason', 'updatedAtMs'],
          },
        },
        complete: { type: 'boolean' },
      },
      required: ['bank', 'records', 'complete'],
    },
  },
} as const;

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Encapsulated: its access check and error shape apply to this route only. */
export const registerParticipantRecordsRoute: FastifyPluginAsync<ParticipantRecordsRouteOptions> = async (app, o) => {
  if (o.token !== null) checkRecordsToken(o.token);
  const expected = o.token === null ? null : digest(o.token);
  installStrictValidation(app);
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    if (err.validation === undefined && err.statusCode !== 400) throw err;
    return reply.code(400).send({ error: { code: 'VALIDATION_FAILED', message: err.message } });
  });
  // Before the query is validated: a caller without access learns nothing else.
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (expected === null) {
      if (isLoopbackHost(req.socket.remoteAddress ?? '')) return;
      return reply.code(403).send({
        error: {
          code: 'FORBIDDEN',
          message: `participant records are served to loopback callers only; set ${RECORDS_TOKEN_ENV} to serve them to callers with that token`,
        },
      });
    }
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    if (m === null || !timingSafeEqual(digest(m[1]!), expected)) {
      return reply.code(401).send({
        error: {
          code: 'UNAUTHORIZED',
          message: `participant records need the bank's records token (Authorization: Bearer <${RECORDS_TOKEN_ENV}>)`,
        },
      });
    }
  });
  app.get<{ Querystring: { sinceMs?: number; scanMax?: number } }>('/participant-records', { schema }, async (req) => {
    const listing = await o.participant.listRecords(req.query.sinceMs ?? 0, req.query.scanMax ?? RECORDS_SCAN_DEFAULT);
    return { bank: o.bank, records: listing.records, complete: listing.complete };
  });
};
