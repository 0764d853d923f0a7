// The one authentication hook of a node. Every route says who may call it in its
// route config (`config: { access }`); one onRequest hook at the app's root checks
// it before any body is read or parsed, so an unauthenticated caller never makes
// the node buffer or decode anything. A route that declares no access does not
// build: nothing is open by omission.
//
//   public  no check (health, readiness, metrics)
//   peer    Raft traffic between nodes: the cluster secret
//   reader  GET routes of the client API   } a client token of at least that
//   client  transaction writes              } role (client-auth.ts, tokens.ts);
//   admin   membership and leadership       } open while no tokens are set, but
//                                             admin takes the cluster secret then
//
// A null secret disables the checks (loopback development clusters; the node
// refuses to listen beyond loopback without one, see src/node/config.ts).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RatifyError } from '../errors.js';
import { assertNever } from '../raft/types.js';
import { clientAuthenticator } from './client-auth.js';
import { CLIENT_ADDRESS_HEADER, FORWARDED_HEADER } from './leader-forward.js';
import { ClientTokens, type Role } from './tokens.js';

/** A role (client-auth.ts) is the least role a caller's token must have. */
export type Access = 'public' | 'peer' | Role;
const ACCESS = { public: true, peer: true, reader: true, client: true, admin: true } as const satisfies Record<Access, true>;

export function isAccess(x: unknown): x is Access {
  return typeof x === 'string' && Object.hasOwn(ACCESS, x);
}

/** Route config for the routes anyone who reaches the node may call. */
export const PUBLIC = { access: 'public' } as const;
/** Route config for the client API's reads. */
export const READER = { access: 'reader' } as const;
/** Route config for the client API's writes (create, enlist, commit, abort). */
export const CLIENT = { access: 'client' } as const;
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
  /** Whether `id` names a cluster member: a forwarded mark must name one. Without it no mark is honoured. */
  readonly isMember?: (id: string) => boolean;
  /** Client API tokens; none (the default) leaves reader and client routes open. */
  readonly clientTokens?: ClientTokens;
}

export function installAuth(app: FastifyInstance, opts: AuthOptions): void {
  const check = secretCheck(opts.clusterSecret);
  const authenticate = clientAuthenticator(opts.clientTokens ?? ClientTokens.NONE, check, opts.clusterSecret !== null);
  app.decorateRequest('principal', null);
  const hopOf = trustedHop(isPeerRequest(opts.clusterSecret), opts.isMember ?? (() => false));
  app.decorateRequest('forwardedBy', null);
  app.decorateRequest('clientAddress', '');
  app.decorateRequest('forwardedTo', null);
  // Every route says who may call it: a route that forgot is a programmer error,
  // caught when the app is built, not a silently open endpoint.
  app.addHook('onRoute', (route) => {
    const access = (route.config as { access?: unknown } | undefined)?.access;
    if (!isAccess(access)) throw new RatifyError('INTERNAL', `route ${route.method.toString()} ${route.url} declares no access (config.access)`);
  });
  app.addHook('onRequest', async (request, reply) => {
    hopOf(request);
    // The not-found handler has no route config: nothing to protect there.
    const access = (request.routeOptions.config as { access?: Access } | undefined)?.access ?? 'public';
    switch (access) {
      case 'public':
        return;
      case 'peer':
        return check(request);
      case 'reader':
      case 'client':
      case 'admin':
        request.principal = authenticate(request, reply, access);
        return;
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

declare module 'fastify' {
  interface FastifyRequest {
    /** The member that forwarded this request, when its mark is trusted (trustedHop); else null. */
    forwardedBy: string | null;
    /** Where the client's request came from: this connection, or what a trusted hop says. */
    clientAddress: string;
  }
}

/**
 * Sets forwardedBy and clientAddress. A forwarded mark (leader-forward.ts) is
 * honoured only when the request passes the peer check, the same as Raft
 * traffic, and the mark names a member. Anything else is a client's header and
 * is ignored: served as an ordinary request, no 503, no borrowed address.
 */
function trustedHop(isPeer: (request: FastifyRequest) => boolean, isMember: (id: string) => boolean): (request: FastifyRequest) => void {
  return (request) => {
    const mark = request.headers[FORWARDED_HEADER];
    const trusted = typeof mark === 'string' && isMember(mark) && isPeer(request);
    request.forwardedBy = trusted ? mark : null;
    const address = request.headers[CLIENT_ADDRESS_HEADER];
    request.clientAddress = trusted && typeof address === 'string' && address.length <= 64 ? address : request.ip;
    if (mark !== undefined && !trusted) request.log.debug({ url: request.url }, `ignoring an ${FORWARDED_HEADER} header that does not come from a peer`);
  };
}

/** True when the request passes the peer check (a forwarded hop is trusted only then; see leader-forward.ts). */
export function isPeerRequest(secret: string | null): (request: FastifyRequest) => boolean {
  const check = secretCheck(secret);
  return (request) => {
    try {
      check(request);
      return true;
    } catch {
      return false;
    }
  };
}

/** What a node adds to a request it sends a peer over plain HTTP (a forwarded hop) to pass the peer check. */
export function peerCredentialHeaders(secret: string | null): Readonly<Record<string, string>> {
  return secret === null ? {} : { [SECRET_HEADER]: secret };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

