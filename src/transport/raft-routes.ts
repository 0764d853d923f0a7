// Inbound side of the HTTP transport: POST /raft/v1/messages.
//
// Checks, in this order:
//   1. secret (x-ratify-secret, timing-safe)       401 UNAUTHORIZED
//   2. content type and size                       400 VALIDATION_FAILED / 413 BODY_TOO_LARGE
//   3. decode + validate every message             400 VALIDATION_FAILED
//   4. cluster id                                  403 FORBIDDEN
//   5. sender not removed (peer-admission.ts)      410 MEMBER_REMOVED
//   6. `from` of each message is the sender        403 FORBIDDEN
//   7. every message is addressed to this node     400 VALIDATION_FAILED
// The secret comes first, in an onRequest hook, so that an unauthenticated
// caller never gets this node to buffer or decode a body.
// A wrong content type answers 400 VALIDATION_FAILED, not 415: every error
// code maps to one status (src/errors.ts) and no code has 415.
//
// On success the reply is 204 and the messages go to onMessages, which must
// only enqueue them: the node processes them asynchronously.
//
// POST /raft/v1/stream is the same traffic as one long request whose body is a
// sequence of length-prefixed envelopes (peer-stream.ts, raft-stream-inbound.ts);
// nodes use it for everything but snapshot chunks. Same secret check; the cluster
// id and sender come in headers and are checked before the 200.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { RatifyError } from '../errors.js';
import { checkRange } from './check-range.js';
import { decodeEnvelope } from './codec.js';
import { DEFAULT_WIRE_LIMITS, validateWireLimits, type Envelope, type WireLimits } from './message-guard.js';
import type { PeerAdmission } from './peer-admission.js';
import { memberRemovedError } from './removal-answer.js';
import { checkStreamHeaders, InboundStreams, serveStream, type StreamContext } from './raft-stream-inbound.js';
import type { InboundHandler } from './transport.js';

export const RAFT_MESSAGES_PATH = '/raft/v1/messages';
export const SECRET_HEADER = 'x-ratify-secret';
export const MSGPACK_CONTENT_TYPE = 'application/msgpack';
export const RAFT_STREAM_PATH = '/raft/v1/stream';
export const STREAM_CONTENT_TYPE = 'application/vnd.ratify.raft-stream';
export const CLUSTER_ID_HEADER = 'x-ratify-cluster-id';
export const FROM_HEADER = 'x-ratify-from';
/** Where the sender listens, so a node that has no address for it yet can answer (learned-addresses.ts). Optional. */
export const FROM_URL_HEADER = 'x-ratify-from-url';
const FROM_URL_LENGTH_MAX = 2048;

export interface RaftRoutesOptions {
  readonly clusterId: string;
  readonly nodeId: string;
  /** Shared cluster secret; null disables the check (trusted network only). */
  readonly secret: string | null;
  /** Whether the node takes messages from this sender (admitPeer in peer-admission.ts). */
  admit(from: string): PeerAdmission;
  /** An admitted sender's own URL (FROM_URL_HEADER), when it sent a valid one. */
  onSenderUrl?(from: string, url: string): void;
  readonly onMessages: InboundHandler;
  readonly bodyLimitBytes: number;
  readonly wireLimits?: WireLimits;
}

export const raftRoutes: FastifyPluginAsync<RaftRoutesOptions> = async (app, opts) => {
  checkRange('bodyLimitBytes', opts.bodyLimitBytes, 1024, 1024 * 1024 * 1024);
  const limits = validateWireLimits(opts.wireLimits ?? DEFAULT_WIRE_LIMITS);
  const expectedDigest = opts.secret === null ? null : digest(opts.secret);

  // This plugin is encapsulated: these parsers, hooks and handlers apply to its route only.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(MSGPACK_CONTENT_TYPE, { parseAs: 'buffer', bodyLimit: opts.bodyLimitBytes }, (_req, body, done) => {
    done(null, body);
  });
  app.setErrorHandler((err: FastifyError, request, reply) => sendError(toRatifyError(err, opts.bodyLimitBytes), request, reply));
  app.addHook('onRequest', async (request) => {
    if (expectedDigest !== null && !secretMatches(request.headers[SECRET_HEADER], expectedDigest)) {
      throw new RatifyError('UNAUTHORIZED', `missing or wrong ${SECRET_HEADER} header`);
    }
  });

  app.post(RAFT_MESSAGES_PATH, { bodyLimit: opts.bodyLimitBytes }, async (request, reply) => {
    const envelope = admit(request.body, opts, limits);
    noteSenderUrl(request, envelope.from, opts);
    try {
      opts.onMessages(envelope.messages);
    } catch (cause) {
      throw new RatifyError('INTERNAL', 'the node failed to accept inbound Raft messages', { cause });
    }
    return reply.code(204).send();
  });

  // The body is read by serveStream(), frame by frame, never buffered whole.
  app.addContentTypeParser(STREAM_CONTENT_TYPE, (_req, _payload, done) => done(null, undefined));
  const streams = new InboundStreams();
  const streamContext: StreamContext = {
    clusterId: opts.clusterId,
    maxFrameBytes: opts.bodyLimitBytes,
    admitSender: (from) => admitSender(from, opts),
    admit: (bytes) => admit(bytes, opts, limits),
    onMessages: opts.onMessages,
    log: app.log,
  };
  // close() waits for open requests, and a stream never ends by itself.
  app.addHook('preClose', async () => streams.destroyAll());
  const streamSenders = new WeakMap<FastifyRequest, string>();
  app.post(RAFT_STREAM_PATH, {
    // Checked before any body parsing: a refused stream is answered at once (and closed, see sendError).
    onRequest: async (request) => {
      if (request.headers['content-type'] !== STREAM_CONTENT_TYPE) {
        throw new RatifyError('VALIDATION_FAILED', `content-type must be ${STREAM_CONTENT_TYPE}`);
      }
      const from = checkStreamHeaders(request, streamContext, CLUSTER_ID_HEADER, FROM_HEADER);
      noteSenderUrl(request, from, opts);
      streamSenders.set(request, from);
    },
    handler: (request, reply) => serveStream(request, reply, streamSenders.get(request)!, streamContext, streams),
  });
};

/** A hint, never a reason to refuse: a missing or malformed header is ignored. */
function noteSenderUrl(request: FastifyRequest, from: string, opts: RaftRoutesOptions): void {
  const raw = request.headers[FROM_URL_HEADER];
  if (opts.onSenderUrl === undefined || typeof raw !== 'string' || raw.length > FROM_URL_LENGTH_MAX) return;
  let url: URL;
  try {
    url = new URL(decodeURIComponent(raw));
  } catch {
    return;
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') opts.onSenderUrl(from, url.href.replace(/\/+$/, ''));
}

/** Step 5 of the checks above. */
function admitSender(from: string, opts: RaftRoutesOptions): void {
  const a = opts.admit(from);
  if (a.kind === 'removed') throw memberRemovedError(from, a.appliedIndex);
}

/** Steps 3 to 7 of the checks above. */
function admit(body: unknown, opts: RaftRoutesOptions, limits: WireLimits): Envelope {
  if (!(body instanceof Uint8Array)) {
    throw new RatifyError('VALIDATION_FAILED', `the body must be a ${MSGPACK_CONTENT_TYPE} envelope`);
  }
  const envelope = decodeEnvelope(body, limits);
  if (envelope.clusterId !== opts.clusterId) {
    throw new RatifyError('FORBIDDEN', `sender belongs to cluster ${JSON.stringify(envelope.clusterId)}, not this node's cluster`);
  }
  admitSender(envelope.from, opts);
  envelope.messages.forEach((m, i) => {
    if (m.from !== envelope.from) {
      throw new RatifyError('FORBIDDEN', `messages[${i}].from ${JSON.stringify(m.from)} is not the sender ${JSON.stringify(envelope.from)}`);
    }
    if (m.to !== opts.nodeId) {
      throw new RatifyError('VALIDATION_FAILED', `messages[${i}].to ${JSON.stringify(m.to)} is not this node (${opts.nodeId})`);
    }
  });
  return envelope;
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Compares digests, so neither the secret's content nor its length leaks through timing. */
function secretMatches(header: string | string[] | undefined, expected: Buffer): boolean {
  return typeof header === 'string' && timingSafeEqual(digest(header), expected);
}

/** Maps fastify's own errors (body parsing, limits) onto our codes. */
function toRatifyError(err: FastifyError, bodyLimitBytes: number): RatifyError {
  if (err instanceof RatifyError) return err;
  switch (err.statusCode) {
    case 413:
      return new RatifyError('BODY_TOO_LARGE', `the body exceeds ${bodyLimitBytes} bytes`);
    case 415:
      return new RatifyError('VALIDATION_FAILED', `content-type must be ${MSGPACK_CONTENT_TYPE}`);
    default:
      if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
        return new RatifyError('VALIDATION_FAILED', err.message);
      }
      return new RatifyError('INTERNAL', 'internal error', { cause: err });
  }
}

function sendError(err: RatifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  // A refused stream must not leave the connection reading a body that never ends.
  if (request.routeOptions.url === RAFT_STREAM_PATH) void reply.header('connection', 'close');
  if (err.status >= 500) request.log.error({ err }, 'raft route failed');
  else request.log.debug({ code: err.code, message: err.message }, 'raft request refused');
  return reply.code(err.status).send(err.toJSON());
}
