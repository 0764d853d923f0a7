// Inbound side of the HTTP transport: POST /raft/v1/messages.
//
// Checks, in this order:
//   1. peer authentication (the app's auth hook)   401 UNAUTHORIZED / 403 FORBIDDEN
//   2. content type and size                       415 UNSUPPORTED_MEDIA_TYPE / 413 BODY_TOO_LARGE
//   2b. the body is the one the opening signed     401 UNAUTHORIZED (with a cluster secret)
//   3. decode + validate every message             400 VALIDATION_FAILED
//   4. cluster id                                  403 FORBIDDEN
//   5. sender is the authenticated one             403 FORBIDDEN
//   6. sender not removed (peer-admission.ts)      410 MEMBER_REMOVED
//   7. `from` of each message is the sender        403 FORBIDDEN
//   8. every message is addressed to this node     400 VALIDATION_FAILED
// Authentication comes first, in the app's onRequest hook (src/http/auth.ts,
// `access: 'peer'`), so that an unauthenticated caller never gets this node to
// buffer or decode a body. Errors go through the app's one handler
// (src/http/error-handler.ts); a wrong content type answers 415
// UNSUPPORTED_MEDIA_TYPE, as on every other route. (It was 400 while no code had 415.
// No sender reacts to either status: nodes always send the right type, and the
// transport treats both as a failed delivery, so mixed versions are unaffected.)
//
// On success the reply is 204 and the messages go to onMessages, which must
// only enqueue them: the node processes them asynchronously.
//
// POST /raft/v1/stream is the same traffic as one long request whose body is a
// sequence of length-prefixed envelopes (peer-stream.ts, raft-stream-inbound.ts);
// nodes use it for everything but snapshot chunks. Same authentication; the cluster
// id and sender come in headers and are checked before the 200.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { RatifyError } from '../errors.js';
import { PEER } from '../http/auth.js';
import type { PeerAuth } from '../http/peer-auth.js';
import { checkRange } from './check-range.js';
import { decodeEnvelope } from './codec.js';
import { bodySha256 } from './peer-mac.js';
import { DEFAULT_WIRE_LIMITS, validateWireLimits, type Envelope, type WireLimits } from './message-guard.js';
import type { PeerAdmission } from './peer-admission.js';
import { memberRemovedError } from './removal-answer.js';
import { checkStreamHeaders, InboundStreams, serveStream, type StreamContext } from './raft-stream-inbound.js';
import type { InboundHandler } from './transport.js';

export const RAFT_MESSAGES_PATH = '/raft/v1/messages';
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

  // This plugin is encapsulated: these parsers, hooks and handlers apply to its route only.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(MSGPACK_CONTENT_TYPE, { parseAs: 'buffer', bodyLimit: opts.bodyLimitBytes }, (_req, body, done) => {
    done(null, body);
  });
  // A refused stream must not leave the connection reading a body that never ends.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (reply.statusCode >= 400 && request.routeOptions.url === RAFT_STREAM_PATH) void reply.header('connection', 'close');
    done(null, payload);
  });

  app.post(
    RAFT_MESSAGES_PATH,
    {
      bodyLimit: opts.bodyLimitBytes,
      config: { ...PEER, bodyLimitSetting: 'raftBodyLimitBytes' },
      // Before the body is parsed, so the message names the type this route takes.
      onRequest: (request, _reply, done) => {
        requireContentType(request, MSGPACK_CONTENT_TYPE);
        done();
      },
    },
    async (request, reply) => {
      const envelope = admit(signedBody(request.body, request.peerAuth), opts, limits, request.peerAuth);
      noteSenderUrl(request, envelope.from, opts);
      try {
        opts.onMessages(envelope.messages);
      } catch (cause) {
        throw new RatifyError('INTERNAL', 'the node failed to accept inbound Raft messages', { cause });
      }
      return reply.code(204).send();
    },
  );

  // The body is read by serveStream(), frame by frame, never buffered whole.
  app.addContentTypeParser(STREAM_CONTENT_TYPE, (_req, _payload, done) => done(null, undefined));
  const streams = new InboundStreams();
  const streamContext: StreamContext = {
    clusterId: opts.clusterId,
    maxFrameBytes: opts.bodyLimitBytes,
    admitSender: (from) => admitSender(from, opts),
    admit: (bytes, auth) => admit(bytes, opts, limits, auth),
    onMessages: opts.onMessages,
    log: app.log,
  };
  // close() waits for open requests, and a stream never ends by itself.
  app.addHook('preClose', async () => streams.destroyAll());
  const streamSenders = new WeakMap<FastifyRequest, string>();
  app.post(RAFT_STREAM_PATH, {
    config: PEER,
    // Checked before any body parsing: a refused stream is answered at once (and closed, see sendError).
    onRequest: async (request) => {
      requireContentType(request, STREAM_CONTENT_TYPE);
      const from = checkStreamHeaders(request, streamContext, CLUSTER_ID_HEADER, FROM_HEADER);
      noteSenderUrl(request, from, opts);
      streamSenders.set(request, from);
    },
    handler: (request, reply) => serveStream(request, reply, streamSenders.get(request)!, streamContext, streams),
  });
};

function requireContentType(request: FastifyRequest, expected: string): void {
  const given = request.headers['content-type'];
  if (given?.split(';')[0]?.trim().toLowerCase() !== expected) {
    throw new RatifyError(
      'UNSUPPORTED_MEDIA_TYPE',
      `content-type must be ${expected} (got ${given === undefined ? 'none' : JSON.stringify(given)})`,
    );
  }
}

/** Step 2b: with a cluster secret, the body must hash to what the sender signed in its opening. */
function signedBody(body: unknown, auth: PeerAuth | null): unknown {
  if (auth === null || auth.key === null || !(body instanceof Uint8Array)) return body;
  if (auth.bodySha256 === null || bodySha256(body) !== auth.bodySha256) {
    throw new RatifyError('UNAUTHORIZED', 'the body is not the one the request was signed for');
  }
  return body;
}

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

/** Step 6 of the checks above. */
function admitSender(from: string, opts: RaftRoutesOptions): void {
  const a = opts.admit(from);
  if (a.kind === 'removed') throw memberRemovedError(from, a.appliedIndex);
}

/** Steps 3 to 8 of the checks above. */
function admit(body: unknown, opts: RaftRoutesOptions, limits: WireLimits, auth: PeerAuth | null): Envelope {
  if (!(body instanceof Uint8Array)) {
    throw new RatifyError('VALIDATION_FAILED', `the body must be a ${MSGPACK_CONTENT_TYPE} envelope`);
  }
  const envelope = decodeEnvelope(body, limits);
  if (auth !== null && auth.from !== null && envelope.from !== auth.from) {
    throw new RatifyError(
      'FORBIDDEN',
      `the envelope says it is from ${JSON.stringify(envelope.from)}, the request was authenticated as ${JSON.stringify(auth.from)}`,
    );
  }
  if (envelope.clusterId !== opts.clusterId) {
    throw new RatifyError('FORBIDDEN', `sender belongs to cluster ${JSON.stringify(envelope.clusterId)}, not this node's cluster`);
  }
  admitSender(envelope.from, opts);
  envelope.messages.forEach((m, i) => {
    if (m.from !== envelope.from) {
      throw new RatifyError(
        'FORBIDDEN',
        `messages[${i}].from ${JSON.stringify(m.from)} is not the sender ${JSON.stringify(envelope.from)}`,
      );
    }
    if (m.to !== opts.nodeId) {
      throw new RatifyError('VALIDATION_FAILED', `messages[${i}].to ${JSON.stringify(m.to)} is not this node (${opts.nodeId})`);
    }
  });
  return envelope;
}
