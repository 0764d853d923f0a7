// One error shape for every reply: {error: {code, message, ...details}}, and the
// one place that maps an error onto it. RatifyError keeps its code and status;
// fastify's own client errors map to VALIDATION_FAILED (with a message that names
// the field and what was expected, validation-messages.ts) / UNSUPPORTED_MEDIA_TYPE /
// BODY_TOO_LARGE / URI_TOO_LONG; anything else is a 500 INTERNAL whose cause goes
// to the log, never to the client.
//
// The node's app installs the handler once at its root (installErrorHandling);
// every route group inherits it. The participant SDK's fastify plugin runs inside
// a user's app, whose root handler is not ours, so it installs sendError in its
// own encapsulated context: the same mapping, the same shape.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RatifyError, isRatifyError, type ErrorCode } from '../errors.js';
import { describeIssues } from './validation-messages.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The setting behind the route's bodyLimit, named in a 413's message (for example `--tx maxBodyBytes`). */
    bodyLimitSetting?: string;
  }
  interface FastifyInstance {
    /** Told of every error reply (installErrorHandling); absent in apps whose root is not ours (the SDK's plugin). */
    ratifyRejections?: RejectionObserver;
  }
}

/** Counts error replies (ratify_http_requests_rejected_total). */
export interface RejectionObserver {
  rejected(code: ErrorCode, status: number): void;
}

/** Every error reply of a node goes through here, whoever sends it (error handler, 404, draining). */
export function noteRejection(request: FastifyRequest, e: RatifyError): void {
  // Before routing (frameworkErrors) request.server may be missing, whatever the types say.
  (request.server as FastifyInstance | undefined)?.ratifyRejections?.rejected(e.code, e.status);
}

/** What a 413's message names: the limit, and the setting behind it when the route says which. */
export interface BodyLimit {
  readonly bytes: number;
  readonly setting?: string | undefined;
}

/** `limit`, when known, is named in a 413's message; `contentType`, the request's, in a 415's. */
export function toRatifyError(err: unknown, limit?: BodyLimit, contentType?: string): RatifyError {
  if (isRatifyError(err)) return err;
  const fe = err as Partial<FastifyError> | null;
  if (fe === null || typeof fe !== 'object') return new RatifyError('INTERNAL', 'internal error', { cause: err });
  if (Array.isArray(fe.validation)) {
    const issues = describeIssues(fe.validationContext ?? 'request', fe.validation);
    const message = issues.length === 0 ? (fe.message ?? 'validation failed') : issues.map((i) => i.message).join('; ');
    return new RatifyError('VALIDATION_FAILED', message, { cause: err, details: { issues } });
  }
  // A body in a type no route here parses: no content-type (curl -d without -H sends
  // a form), text/plain, a form. The hint says what to send instead.
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || fe.statusCode === 415) {
    const given = contentType === undefined || contentType === '' ? 'no content-type' : `content-type ${JSON.stringify(contentType)}`;
    return new RatifyError(
      'UNSUPPORTED_MEDIA_TYPE',
      `a request body with ${given} is not accepted: send JSON with the header "content-type: application/json"`,
      { cause: err },
    );
  }
  if (fe.code === 'FST_ERR_MAX_PARAM_LENGTH' || fe.statusCode === 414) {
    return new RatifyError('URI_TOO_LONG', 'a path parameter is longer than any valid id or key', { cause: err });
  }
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || fe.statusCode === 413) {
    return new RatifyError('BODY_TOO_LARGE', `the request body exceeds ${describeLimit(limit)}`, { cause: err });
  }
  // fastify's other client errors (bad JSON, an empty JSON body, ...) carry safe messages.
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new RatifyError('VALIDATION_FAILED', fe.message ?? 'bad request', { cause: err });
  }
  return new RatifyError('INTERNAL', 'internal error', { cause: err });
}

/** Maps, logs and sends `err`. Every error reply of the node and of the SDK's plugin goes through here. */
export function sendError(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  // Before routing (frameworkErrors) a request may have no route options yet, whatever the types say.
  const route = request.routeOptions as Partial<typeof request.routeOptions> | undefined;
  const limit = route?.bodyLimit === undefined ? undefined : { bytes: route.bodyLimit, setting: route.config?.bodyLimitSetting };
  const e = toRatifyError(err, limit, request.headers['content-type']);
  if (e.code === 'INTERNAL') request.log.error({ err, url: request.url, method: request.method }, 'unhandled error in request');
  else if (e.status >= 500) request.log.warn({ code: e.code, url: request.url }, e.message);
  else request.log.debug({ code: e.code, url: request.url }, e.message);
  // NOT_LEADER, NO_LEADER, TOO_MANY_PENDING, ...: an election takes well under a second.
  if (e.status === 503 || e.status === 429) void reply.header('retry-after', '1');
  noteRejection(request, e);
  return reply.code(e.status).send(e.toJSON());
}

/** `rejections`, when given, hears of every error reply of the app (the node's metric). */
export function installErrorHandling(app: FastifyInstance, rejections?: RejectionObserver): void {
  if (rejections !== undefined) app.decorate('ratifyRejections', rejections);
  app.setErrorHandler((err, request, reply) => sendError(err, request, reply));
  app.setNotFoundHandler((request, reply) => {
    const e = new RatifyError('ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`);
    noteRejection(request, e);
    return reply.code(e.status).send(e.toJSON());
  });
}

/**
 * fastify's `frameworkErrors` hook: errors raised before a route is found (a path
 * parameter over maxParamLength, a malformed URL) skip the error handler, and
 * fastify would answer them in its own shape.
 */
export function sendFrameworkError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  void sendError(err, request, reply);
}

function describeLimit(limit: BodyLimit | undefined): string {
  if (limit === undefined) return 'the configured limit';
  return limit.setting === undefined ? `its limit of ${limit.bytes} bytes` : `${limit.setting} (${limit.bytes})`;
}
