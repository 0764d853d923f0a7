// Admin endpoints require the cluster secret (header x-ratify-secret) when one is configured.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { RatifyError } from '../errors.js';
import { SECRET_HEADER } from './leader-forward.js';

/** Returns a preHandler hook; a null secret disables the check (development clusters). */
export function requireSecret(secret: string | null): (request: FastifyRequest) => Promise<void> {
  const expected = secret === null ? null : digest(secret);
  return async (request) => {
    if (expected === null) return;
    const given = request.headers[SECRET_HEADER];
    // Compare digests so that neither the length nor the content leaks through timing.
    if (typeof given !== 'string' || !timingSafeEqual(digest(given), expected)) {
      throw new RatifyError('UNAUTHORIZED', `missing or wrong ${SECRET_HEADER} header`);
    }
  };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
