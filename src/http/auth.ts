// The one authentication hook of a node. Every route says who may call it in its
// route config (`config: { access }`); one onRequest hook at the app's root checks
// it before any body is read or parsed, so an unauthenticated caller never makes
// the node buffer or decode anything. A route that declares no access does not
// build: nothing is open by omission.
//
//   public  no check (health, readiness, metrics)
//   peer    Raft traffic between nodes: a request head signed under the sender's
//           key derived from the cluster secret, and with mutual TLS a certificate
//           naming the sender (peer-auth.ts); the result is request.peerAuth
//   reader  GET routes of the client API   } a client token of at least that
//   client  transaction writes              } role (client-auth.ts, tokens.ts);
//   admin   membership and leadership       } open while no tokens are set, but
//                                             admin then takes the cluster secret
//                                             (adminCheck)
//
// Neither secret nor mutual TLS disables the peer and admin checks (loopback
// development clusters; the node refuses to listen beyond loopback without one,
// see src/node/loopback.ts).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RatifyError } from '../errors.js';
import { parseSecretList } from '../node/secrets.js';
import { assertNever } from '../util/assert-never.js';
import { clientIdentity } from '../transport/peer-tls.js';
import { clientAuthenticator } from './client-auth.js';
import { CLIENT_ADDRESS_HEADER, FORWARDED_HEADER } from './leader-forward.js';
import { peerAuthenticator, type PeerAuth } from './peer-auth.js';
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
  interface FastifyRequest {
    /** Set by the auth hook on peer routes: who sent the request and the key its body must verify under. */
    peerAuth: PeerAuth | null;
    /** The member that forwarded this request, when its mark is trusted (trustedHop); else null. */
    forwardedBy: string | null;
    /** Where the client's request came from: this connection, or what a trusted hop says. */
    clientAddress: string;
  }
}

export const SECRET_HEADER = 'x-ratify-secret';

export interface AuthOptions {
  /** One secret, or several separated by commas while rotating (src/node/secrets.ts); null: none. */
  readonly clusterSecret: string | null;
  readonly clusterId: string;
  /** This node: peer requests are signed for it. */
  readonly nodeId: string;
  /** Mutual TLS between nodes (the server asks clients for certificates). */
  readonly tlsMutual?: boolean;
  /** Whether `id` names a cluster member: a forwarded mark must name one. Without it no mark is honoured. */
  readonly isMember?: (id: string) => boolean;
  /** Client API tokens; none (the default) leaves reader and client routes open. */
  readonly clientTokens?: ClientTokens;
}

export function installAuth(app: FastifyInstance, opts: AuthOptions): void {
  const secrets = parseSecretList(opts.clusterSecret);
  const mutual = opts.tlsMutual ?? false;
  const admin = adminCheck(secrets, mutual);
  const peer = peerAuthenticator({ clusterId: opts.clusterId, nodeId: opts.nodeId, secrets, tlsMutual: mutual });
  const authenticate = clientAuthenticator(opts.clientTokens ?? ClientTokens.NONE, admin, secrets.length > 0);
  // A forwarded hop proves it comes from a node the way an admin call does: the cluster secret, or a cluster certificate.
  const hopOf = trustedHop(passes(admin), opts.isMember ?? (() => false));
  app.decorateRequest('peerAuth', null);
  app.decorateRequest('principal', null);
  app.decorateRequest('forwardedBy', null);
  app.decorateRequest('clientAddress', '');
  app.decorateRequest('forwardedTo', null);
  // Every route says who may call it: a route that forgot is a programmer error,
  // caught when the app is built, not a silently open endpoint.
  app.addHook('onRoute', (route) => {
    const access = (route.config as { access?: unknown } | undefined)?.access;
    if (!isAccess(access))
      throw new RatifyError('INTERNAL', `route ${route.method.toString()} ${route.url} declares no access (config.access)`);
  });
  // Callback style (see draining.ts): a throw here fails the request as a
  // rejected async hook would (fastify's hook runner catches it), and done() is
  // then never reached.
  app.addHook('onRequest', (request, reply, done) => {
    hopOf(request);
    // The not-found handler has no route config: nothing to protect there.
    const access = (request.routeOptions.config as { access?: Access } | undefined)?.access ?? 'public';
    switch (access) {
      case 'public':
        break;
      case 'peer':
        request.peerAuth = peer(request);
        break;
      case 'reader':
      case 'client':
      case 'admin':
        request.principal = authenticate(request, reply, access);
        break;
      default:
        assertNever(access);
    }
    done();
  });
}

/**
 * Throws UNAUTHORIZED unless the request carries one of the secrets; with none, a
 * client certificate from the cluster CA when mutual TLS is on, else nothing.
 */
export function adminCheck(secrets: readonly string[], mutualTls = false): (request: FastifyRequest) => void {
  const expected = secrets.map(digest);
  return (request) => {
    if (expected.length === 0) {
      if (!mutualTls) return;
      const id = clientIdentity(request.raw.socket);
      if (!id.ok) throw new RatifyError('UNAUTHORIZED', `an admin call needs a client certificate from --tls-ca: ${id.why}`);
      return;
    }
    const given = request.headers[SECRET_HEADER];
    // Compare digests so that neither the length nor the content leaks through timing; try every accepted secret.
    const g = typeof given === 'string' ? digest(given) : null;
    if (g === null || !expected.reduce((ok, e) => timingSafeEqual(g, e) || ok, false)) {
      throw new RatifyError('UNAUTHORIZED', `missing or wrong ${SECRET_HEADER} header`);
    }
  };
}

/**
 * Sets forwardedBy and clientAddress. A forwarded mark (leader-forward.ts) is
 * honoured only when the request passes the node check (`isNode`) and the mark
 * names a member. Anything else is a client's header and is ignored: served as an
 * ordinary request, no 503, no borrowed address.
 */
function trustedHop(isNode: (request: FastifyRequest) => boolean, isMember: (id: string) => boolean): (request: FastifyRequest) => void {
  return (request) => {
    const mark = request.headers[FORWARDED_HEADER];
    const trusted = typeof mark === 'string' && isMember(mark) && isNode(request);
    request.forwardedBy = trusted ? mark : null;
    const address = request.headers[CLIENT_ADDRESS_HEADER];
    request.clientAddress = trusted && typeof address === 'string' && address.length <= 64 ? address : request.ip;
    if (mark !== undefined && !trusted)
      request.log.debug({ url: request.url }, `ignoring an ${FORWARDED_HEADER} header that does not come from a peer`);
  };
}

function passes(check: (request: FastifyRequest) => void): (request: FastifyRequest) => boolean {
  return (request) => {
    try {
      check(request);
      return true;
    } catch {
      return false;
    }
  };
}

/**
 * What a node adds to a request it forwards to the leader so that the leader
 * trusts the hop: the signing (first) cluster secret. With mutual TLS and no
 * secret, the forwarder's client certificate does it instead (nothing to add).
 */
export function peerCredentialHeaders(secret: string | null): Readonly<Record<string, string>> {
  const signing = parseSecretList(secret)[0];
  return signing === undefined ? {} : { [SECRET_HEADER]: signing };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}
