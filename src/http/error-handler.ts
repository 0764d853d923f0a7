// One error shape for every reply: {error: {code, message, ...details}}.
// RatifyError keeps its code and status; fastify's own client errors map to
// VALIDATION_FAILED / BODY_TOO_LARGE; anything else is a 500 INTERNAL whose cause
// goes to the log, never to the client.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RatifyError, isRatifyError } from '../errors.js';

export function toRatifyError(err: unknown): RatifyError {
  if (isRatifyError(err)) return err;
  const fe = err as Partial<FastifyError> | null;
  if (fe !== null && typeof fe === 'object') {
    if (Array.isArray(fe.validation)) {
      const issues = fe.validation.map((v) => ({ path: v.instancePath, message: v.message ?? 'invalid' }));
      return new RatifyError('VALIDATION_FAILED', fe.message ?? 'validation failed', { cause: err, details: { issues } });
    }
    if (fe.code === 'FST_ERR_MAX_PARAM_LENGTH' || fe.statusCode === 414) {
      return new RatifyError('URI_TOO_LONG', 'a path parameter is longer than any valid id or key', { cause: err });
    }
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || fe.statusCode === 413) {
      return new RatifyError('BODY_TOO_LARGE', 'the request body exceeds the configured limit', { cause: err });
    }
    // fastify's own client errors (bad JSON, unsupported media type, ...) carry safe messages.
    if (typeof fe.code === 'string' && fe.code.startsWith('FST_') && typeof fe.statusCode === 'number' && fe.statusCode < 500) {
      return new RatifyError('VALIDATION_FAILED', fe.message ?? 'bad request', { cause: err });
    }
  }
  return new RatifyError('INTERNAL', 'internal error', { cause: err });
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const e = toRatifyError(err);
    if (e.code === 'INTERNAL') request.log.error({ err, url: request.url, method: request.method }, 'unhandled error in request');
    else if (e.status >= 500) request.log.warn({ code: e.code, url: request.url }, e.message);
    // NOT_LEADER, NO_LEADER, LEADERSHIP_LOST, ...: an election takes well under a second.
    if (e.status === 503) void reply.header('retry-after', '1');
    return reply.code(e.status).send(e.toJSON());
  });
  app.setNotFoundHandler((request, reply) => {
    const e = new RatifyError('ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`);
    return reply.code(e.status).send(e.toJSON());
  });
}

/**
 * fastify's `frameworkErrors` hook: errors raised before a route is found (a path
 * parameter over maxParamLength, a malformed URL) skip the error handler, and
 * fastify would answer them in its own shape.
 */
export function sendFrameworkError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const e = toRatifyError(err);
  if (e.code === 'INTERNAL') request.log.error({ err, url: request.url }, 'framework error before routing');
  void reply.code(e.status).send(e.toJSON());
}
