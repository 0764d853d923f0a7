// TLS between nodes (and to clients): the material a node loaded at start-up
// (src/node/tls-files.ts), the options every outbound connection to a peer uses,
// and the identity check of mutual TLS.
//
// Names. A node's certificate names its member id as a DNS subjectAltName (and,
// as any server certificate, the host of its peer URL). SAN rather than the
// subject's CN: CN is deprecated for names (RFC 6125), tools check SANs, and one
// certificate can then name both the id (ratify-0) and the host
// (ratify-0.ratify-headless). With mutual TLS:
//   - inbound, a peer call needs a client certificate that chains to --tls-ca and
//     whose DNS SANs include the sender id it claims (src/http/auth.ts);
//   - outbound, the peer's server certificate must name the peer's member id as
//     well as its host, so a member cannot answer in another member's place.
import { checkServerIdentity, type PeerCertificate, type TLSSocket } from 'node:tls';

/** The TLS options this project sets on a client connection (undici's connect, https.request, tls.connect). */
export interface TlsConnectOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  checkServerIdentity?: (host: string, cert: PeerCertificate) => Error | undefined;
}

export interface TlsMaterial {
  /** PEM certificate chain and key this node serves (and, with mutual TLS, presents to peers). */
  readonly cert: Buffer;
  readonly key: Buffer;
  /** PEM trust anchors for peers; null trusts the system's CAs. */
  readonly ca: Buffer | null;
  /** Peer calls need a certificate of tlsCa naming the sender (both ways). */
  readonly mutual: boolean;
}

/** Options for a TLS connection to the peer `peerId` (undici's connect, or https.request). */
export function peerConnectOptions(tls: TlsMaterial, peerId: string): TlsConnectOptions {
  return {
    ...(tls.ca === null ? {} : { ca: tls.ca }),
    ...(tls.mutual ? { cert: tls.cert, key: tls.key } : {}),
    checkServerIdentity: (host, cert) => {
      const err = checkServerIdentity(host, cert);
      if (err !== undefined || !tls.mutual || dnsNames(cert).includes(peerId)) return err;
      return new Error(
        `the certificate of ${host} does not name member ${peerId} (DNS subjectAltName; has ${dnsNames(cert).join(', ') || 'none'})`,
      );
    },
  };
}

/** Options for connections to any node (the leader forwarder, clients): trust and, with mutual TLS, our certificate. */
export function nodeConnectOptions(tls: TlsMaterial): TlsConnectOptions {
  return { ...(tls.ca === null ? {} : { ca: tls.ca }), ...(tls.mutual ? { cert: tls.cert, key: tls.key } : {}) };
}

/** The DNS names in a certificate's subjectAltName. */
export function dnsNames(cert: PeerCertificate): string[] {
  const san = cert.subjectaltname;
  if (typeof san !== 'string') return [];
  return san
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
}

export type ClientIdentity = { readonly ok: true; readonly names: readonly string[] } | { readonly ok: false; readonly why: string };

/** The names of the client certificate on `socket`, if it presented one that chains to our CA. */
export function clientIdentity(socket: unknown): ClientIdentity {
  const tls = socket as Partial<TLSSocket>;
  if (typeof tls.getPeerCertificate !== 'function') return { ok: false, why: 'not a TLS connection' };
  const cert = tls.getPeerCertificate();
  if (cert === null || Object.keys(cert).length === 0) return { ok: false, why: 'no client certificate presented' };
  if (tls.authorized !== true)
    return { ok: false, why: `the client certificate is not trusted (${String(tls.authorizationError ?? 'unknown')})` };
  return { ok: true, names: dnsNames(cert) };
}
