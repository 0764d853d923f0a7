// The one authentication hook of a node. Every route says who may call it in its
// route config (`config: { access }`); one onRequest hook at the app's root checks
// it before any body is read or parsed, so an unauthenticated caller never makes
// the node buffer or decode anything. A route that declares no access does not
// build: nothing is open by omission.
//
//   public  no check (health, metrics, the client API while it has no tokens)
//   peer    Raft traffic between nodes: a request head signed under the sender's
//           key derived from the cluster secret, and with mutual TLS a certificate
//           naming the sender (peer-auth.ts); the result is request.peerAuth
//   admin   membership and leadership changes: the cluster secret in
//           x-ratify-secret (any accepted one, during a rotation), or with mutual
//           TLS and no secret a client certificate from the cluster's CA
//
// Neither secret nor mutual TLS disables the checks (loopback development clusters;
// the node refuses to listen beyond loopback without one, see src/node/config.ts).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RatifyError } from '../errors.js';
import { parseSecretList } from '../node/secrets.js';
import { assertNever } from '../raft/types.js';
import { clientIdentity } from '../transport/peer-tls.js';
import { peerAuthenticator, type PeerAuth } from './peer-auth.js';

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
  interface FastifyRequest {
    /** Set by the auth hook on peer routes: who sent the request and the key its body must verify under. */
    peerAuth: PeerAuth | null;
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
}

export function installAuth(app: FastifyInstance, opts: AuthOptions): void {
  const secrets = parseSecretList(opts.clusterSecret);
  const mutual = opts.tlsMutual ?? false;
  const admin = adminCheck(secrets, mutual);
  const peer = peerAuthenticator({ clusterId: opts.clusterId, nodeId: opts.nodeId, secrets, tlsMutual: mutual });
  app.decorateRequest('peerAuth', null);
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
        request.peerAuth = peer(request);
        return;
      case 'admin':
        return admin(request);
      default:
        return assertNever(access);
    }
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

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

