// Peer URLs as a newcomer types them, and the listen address taken from this node's own.
//
// Without --listen a node listens on the host:port of its own peer URL. Two slips
// used to crash the start with a TypeError instead of a message: an --id missing
// from --peers (no own URL to take the address from), and a peer URL without its
// scheme ("127.0.0.1:7001", which URL parses as nothing or as the scheme "localhost:").
import type { Member, NodeId } from '../raft/types.js';
import type { ListenAddress } from './config.js';

export function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Null when `url` is an http(s) URL; else a message naming the peer and the value, with the likely fix. */
export function peerUrlError(id: NodeId, url: string): string | null {
  if (isHttpUrl(url)) return null;
  const guess = `http://${url}`;
  const hint = !/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && isHttpUrl(guess) ? `, e.g. ${JSON.stringify(guess)} (the scheme is required)` : '';
  return `peer ${id} url (${JSON.stringify(url)}) must be an http(s) URL${hint}`;
}

/**
 * The default listen address: the host and port of this node's own peer URL.
 * Returns the reasons instead when there is none to take.
 */
export function listenFromPeers(id: NodeId, peers: readonly Member[]): ListenAddress | { readonly errors: string[] } {
  const own = peers.find((m) => m.id === id);
  const fix = 'or give --listen host:port';
  if (own === undefined) {
    const ids = peers.map((p) => p.id).join(', ');
    return {
      errors: [
        `id (${JSON.stringify(id)}) is not in peers (${ids}): without --listen the node listens on its own peer URL, ` +
          `so add ${id}=http://host:port to --peers (every node needs the same list, itself included), ${fix}`,
      ],
    };
  }
  const bad = peerUrlError(own.id, own.url);
  if (bad !== null) {
    // Name every other malformed URL too: they usually share the slip.
    const others = peers
      .filter((p) => p !== own)
      .map((p) => peerUrlError(p.id, p.url))
      .filter((e): e is string => e !== null);
    return { errors: [`${bad}; without --listen the node listens on its own peer URL's host:port, ${fix}`, ...others] };
  }
  const u = new URL(own.url);
  const port = u.port === '' ? (u.protocol === 'https:' ? 443 : 80) : Number(u.port);
  return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port };
}
