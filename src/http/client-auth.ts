// Authentication of the client API's callers (routes whose access is a role:
// reader, client or admin), for the one auth hook in auth.ts.
//
//   no tokens configured  reader and client routes are open (principal null);
//                         admin routes need the cluster secret, as before tokens
//                         existed (open too when there is none)
//   tokens configured     `Authorization: Bearer <token>`: missing or unknown is
//                         401 UNAUTHORIZED, a role below the route's is 403
//                         FORBIDDEN; admin routes also take the cluster secret
//                         (x-ratify-secret) from a caller that sends no token
//
// A forwarded request is authenticated again on the leader from the client's own
// Authorization header, which the forwarder replays (leader-forward.ts).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RatifyError } from '../errors.js';
import { bearerToken, ROLE_RANK, type ClientTokens, type Principal, type Role } from './tokens.js';

/** The principal of a caller admitted by the cluster secret (an operator's script, or an older client). */
export const CLUSTER_SECRET_PRINCIPAL: Principal = { name: 'cluster-secret', role: 'admin' };

declare module 'fastify' {
  interface FastifyRequest {
    /** Who called a reader, client or admin route; null when the client API is open (no tokens). */
    principal: Principal | null;
  }
}

export type ClientAuthenticator = (request: FastifyRequest, reply: FastifyReply, need: Role) => Principal | null;

/**
 * `secretCheck` throws UNAUTHORIZED unless the request carries the cluster
 * secret (and admits everyone when there is none): the admin path as it was.
 */
export function clientAuthenticator(
  tokens: ClientTokens,
  secretCheck: (request: FastifyRequest) => void,
  hasSecret: boolean,
): ClientAuthenticator {
  return (request, reply, need) => {
    const header = request.headers.authorization;
    if (!tokens.enabled) {
      if (need !== 'admin') return null;
      secretCheck(request);
      return hasSecret ? CLUSTER_SECRET_PRINCIPAL : null;
    }
    if (header === undefined && need === 'admin' && hasSecret && request.headers['x-ratify-secret'] !== undefined) {
      secretCheck(request);
      return CLUSTER_SECRET_PRINCIPAL;
    }
    const token = bearerToken(header);
    const principal = token === null ? null : tokens.verify(token);
    if (principal === null) {
      void reply.header('www-authenticate', 'Bearer realm="ratify"');
      const why = header === undefined ? 'missing Authorization: Bearer <token> header' : 'the Authorization header holds no valid token';
      throw new RatifyError('UNAUTHORIZED', why);
    }
    // Known before the role check, so the audit line of a refusal names who was refused.
    request.principal = principal;
    if (ROLE_RANK[principal.role] < ROLE_RANK[need]) {
      throw new RatifyError('FORBIDDEN', `principal ${principal.name} has role ${principal.role}; this call needs ${need}`, {
        details: { role: principal.role, needs: need },
      });
    }
    return principal;
  };
}
