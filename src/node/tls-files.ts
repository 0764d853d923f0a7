// Loads the TLS files named by --tls-cert, --tls-key and --tls-ca at start-up, so a
// missing or unreadable file stops the node with a message naming it, before it
// listens (and not at the first peer connection).
import { readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { RatifyError } from '../errors.js';
import type { TlsMaterial } from '../transport/peer-tls.js';
import type { NodeConfig } from './config.js';

/** null when the node serves plain HTTP (no --tls-cert). Throws CONFIG_INVALID naming the file. */
export function loadTlsMaterial(c: Pick<NodeConfig, 'tlsCert' | 'tlsKey' | 'tlsCa' | 'tlsMutual' | 'id'>): TlsMaterial | null {
  if (c.tlsCert === null || c.tlsKey === null) return null;
  const cert = read('tlsCert', c.tlsCert);
  const key = read('tlsKey', c.tlsKey);
  const ca = c.tlsCa === null ? null : read('tlsCa', c.tlsCa);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
    createPrivateKey(key);
  } catch (e) {
    throw new RatifyError('CONFIG_INVALID', `tlsCert ${c.tlsCert} or tlsKey ${c.tlsKey} is not valid PEM: ${(e as Error).message}`);
  }
  if (!leaf.checkPrivateKey(createPrivateKey(key)))
    throw new RatifyError('CONFIG_INVALID', `tlsKey ${c.tlsKey} is not the key of tlsCert ${c.tlsCert}`);
  // With mutual TLS peers check that our certificate names our member id; say so now rather than be refused by every peer.
  if (c.tlsMutual && leaf.checkHost(c.id, { subject: 'never', wildcards: false }) === undefined) {
    throw new RatifyError(
      'CONFIG_INVALID',
      `tlsCert ${c.tlsCert} does not name this node's id ${JSON.stringify(c.id)} as a DNS subjectAltName (${leaf.subjectAltName ?? 'none'}); mutual TLS needs it`,
    );
  }
  return { cert, key, ca, mutual: c.tlsMutual };
}

function read(name: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new RatifyError('CONFIG_INVALID', `${name} ${path} cannot be read: ${(e as Error).message}`);
  }
}
