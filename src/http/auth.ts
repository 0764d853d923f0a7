// The one authentication hook of a node. Every route says who may call it in its
// route config (`config: { access }`); one onRequest hook at the app's root checks
// it before any body is read or parsed, so an unauthenticated caller never makes
// the node buffer or decode anything. A route that declares no access does not
// build: nothing is open by omission.
//
//   public  no check (health, metrics, the client API while it has no tokens)
//   peer    Raft traffic between nodes: the cluster secret
//   admin   membership and leadership changes: the cluster secret
//
// A null secret disables the checks (loopback development clusters; the node
// refuses to listen beyond loopback without one, see src/node/config.ts).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RatifyError } from '../errors.js';
import { assertNever } from '../raft/types.js';

export type Access = 'public' | 'peer' | 'admin';
const ACCESS = { public: true, peer: true, admin: true } as const satisfies Record<Access, true>;

export function isAccess(x: unknown): x is Access {
  return typeof x === 'string' && Object.hasOwn(ACCESS, x);
}

/** Route config for the routes anyone who reaches the node may call. */
export const PUBLIC = { access: 'public' } as const;
/** Route config for membership and leadership changes. */
export const ADMIN = { access: 'admin' } as const;
/** Route config for Raft traffic between nodes. */
export const PEER = { access: 'peer' } as const;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route. Required on every route of a node (installAuth checks). */
    access?: Access;
  }
}

export const SECRET_HEADER = 'x-ratify-secret';

export interface AuthOptions {
  readonly clusterSecret: string | null;
}

export function installAuth(app: FastifyInstance, opts: AuthOptions): void {
  const check = secretCheck(opts.clusterSecret);
  // Every route says who may call it: a route that forgot is a programmer error,
  // caught when the app is built, not a silently open endpoint.
  app.addHook('onRoute', (route) => {
    const access = (route.config as { access?: unknown } | undefined)?.access;
    if (!isAccess(access)) throw new RatifyError('INTERNAL', `route ${route.method.toString()} ${route.url} declares no access (config.access)`);
  });
  app.addHook('onRequest', async (request) => {
    // The not-found handler has no route config: nothing to protect there.
    const access = (request.routeOptions.config as { access?: Access } | undefined)?.access ?? 'public';
    switch (access) {
      case 'public':
        return;
      case 'peer':
      case 'admin':
        return check(request);
      default:
        return assertNever(access);
    }
  });
}

/** Throws UNAUTHORIZED unless the request carries the secret; a null secret admits everyone. */
export function secretCheck(secret: string | null): (request: FastifyRequest) => void {
  const expected = secret === null ? null : digest(secret);
  return (request) => {
    if (expected === null) return;
    const given = request.headers[SECRET_HEADER];
    // Compare digests so that neither the length nor the content leaks through timing.
    if (typeof given !== 'string' || !timingSafeEqual(digest(given), expected)) {
      throw new RatifyError('UNAUTHORIZED', `missing or wrong ${SECRET_HEADER} header`);
    }
  };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

