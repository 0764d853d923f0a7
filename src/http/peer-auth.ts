// Who a peer call comes from, established by the auth hook (auth.ts) from the
// request head alone, before any body is read:
//   - with mutual TLS, a client certificate from --tls-ca whose DNS names include
//     the sender id in x-ratify-from (src/transport/peer-tls.ts);
//   - with a cluster secret, an opening tag over the head under the sender's key,
//     fresh and not seen before (src/transport/peer-mac.ts);
//   - both when both are configured; neither on a loopback cluster without either.
// The route then holds the body to it: a single envelope's sha256 must be the
// signed one, a stream's frames must carry tags under the same key and nonce, and
// every envelope must name the authenticated sender as `from`.
import type { FastifyRequest } from 'fastify';
import { RatifyError } from '../errors.js';
import { clientIdentity } from '../transport/peer-tls.js';
import { BODY_SHA256_HEADER, PEER_AUTH_HEADER, PEER_FROM_HEADER, PeerKeys, ReplayWindow, verifyOpening } from '../transport/peer-mac.js';

/** What the auth hook established about a peer call (request.peerAuth). */
export interface PeerAuth {
  /** The sender, authenticated by a tag or a certificate; null on a cluster that checks neither. */
  readonly from: string | null;
  /** The sender's key that verified the opening: its frames must verify under it too. */
  readonly key: Buffer | null;
  readonly nonce: string | null;
  /** The signed sha256 of a single envelope's body (base64url); null for streams and unsigned calls. */
  readonly bodySha256: string | null;
}

export interface PeerAuthOptions {
  readonly clusterId: string;
  readonly nodeId: string;
  readonly secrets: readonly string[];
  readonly tlsMutual: boolean;
  readonly now?: () => number;
}

const UNCHECKED: PeerAuth = { from: null, key: null, nonce: null, bodySha256: null };

/** A function that authenticates one peer request head, or throws UNAUTHORIZED / FORBIDDEN. */
export function peerAuthenticator(o: PeerAuthOptions): (request: FastifyRequest) => PeerAuth {
  const keys = o.secrets.length === 0 ? null : new PeerKeys(o.secrets, o.clusterId);
  const replays = new ReplayWindow();
  const now = o.now ?? Date.now;
  return (request) => {
    if (keys === null && !o.tlsMutual) return UNCHECKED;
    const from = senderOf(request);
    if (o.tlsMutual) checkCertificate(request, from);
    if (keys === null) return { ...UNCHECKED, from };
    const route = request.routeOptions.url ?? request.url;
    const bodySha256 = header(request, BODY_SHA256_HEADER) ?? '';
    const nowMs = now();
    const check = verifyOpening(
      keys.all(from),
      header(request, PEER_AUTH_HEADER),
      { method: request.method, route, from, to: o.nodeId, bodySha256 },
      nowMs,
    );
    if (!check.ok) throw new RatifyError('UNAUTHORIZED', `peer ${JSON.stringify(from)}: ${check.why}`);
    if (!replays.admit(check.nonce, nowMs))
      throw new RatifyError('UNAUTHORIZED', `peer ${JSON.stringify(from)}: this opening was seen before (a replay)`);
    return { from, key: check.key, nonce: check.nonce, bodySha256: bodySha256 === '' ? null : bodySha256 };
  };
}

function checkCertificate(request: FastifyRequest, from: string): void {
  const id = clientIdentity(request.raw.socket);
  if (!id.ok)
    throw new RatifyError('UNAUTHORIZED', `peer ${JSON.stringify(from)}: ${id.why}; mutual TLS needs a certificate from --tls-ca`);
  if (!id.names.includes(from)) {
    throw new RatifyError(
      'FORBIDDEN',
      `peer ${JSON.stringify(from)}: its certificate names ${id.names.join(', ') || 'no DNS name'}, not the sender id`,
    );
  }
}

function senderOf(request: FastifyRequest): string {
  const raw = header(request, PEER_FROM_HEADER);
  if (raw === undefined || raw === '') throw new RatifyError('UNAUTHORIZED', `a peer call needs the ${PEER_FROM_HEADER} header`);
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new RatifyError('UNAUTHORIZED', `header ${PEER_FROM_HEADER} is not valid percent-encoding`);
  }
}

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === 'string' ? v : undefined;
}
