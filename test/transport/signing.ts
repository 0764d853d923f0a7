// Signs peer requests and stream frames as a node holding the cluster secret does
// (src/transport/peer-mac.ts), for tests that speak to the Raft routes by hand.
import {
  BODY_SHA256_HEADER,
  bodySha256,
  frameTag,
  newNonce,
  PEER_AUTH_HEADER,
  PEER_FROM_HEADER,
  PeerKeys,
  signOpening,
} from '../../src/transport/peer-mac.js';
import { encodeFrame } from '../../src/transport/frames.js';
import { RAFT_MESSAGES_PATH, RAFT_STREAM_PATH } from '../../src/transport/raft-routes.js';

export interface Signer {
  readonly secret: string;
  readonly clusterId: string;
  readonly from: string;
  readonly to: string;
  readonly nowMs?: number;
}

export interface SignedStream {
  readonly headers: Record<string, string>;
  readonly key: Buffer;
  readonly nonce: string;
}

export function keyOf(s: Signer): Buffer {
  return new PeerKeys([s.secret], s.clusterId).signing(s.from);
}

/** x-ratify-from and x-ratify-auth for opening a stream. */
export function streamOpening(s: Signer, nonce = newNonce()): SignedStream {
  const key = keyOf(s);
  const auth = signOpening(
    key,
    { method: 'POST', route: RAFT_STREAM_PATH, from: s.from, to: s.to, bodySha256: '' },
    s.nowMs ?? Date.now(),
    nonce,
  );
  return { headers: { [PEER_FROM_HEADER]: encodeURIComponent(s.from), [PEER_AUTH_HEADER]: auth }, key, nonce };
}

/** The headers of one signed envelope request. */
export function messagesHeaders(s: Signer, body: Uint8Array): Record<string, string> {
  const sha = bodySha256(body);
  const auth = signOpening(
    keyOf(s),
    { method: 'POST', route: RAFT_MESSAGES_PATH, from: s.from, to: s.to, bodySha256: sha },
    s.nowMs ?? Date.now(),
    newNonce(),
  );
  return { [PEER_FROM_HEADER]: encodeURIComponent(s.from), [PEER_AUTH_HEADER]: auth, [BODY_SHA256_HEADER]: sha };
}

/** A signed head for any peer route (no body digest). */
export function peerHead(s: Signer, route: string): Record<string, string> {
  const auth = signOpening(keyOf(s), { method: 'POST', route, from: s.from, to: s.to, bodySha256: '' }, s.nowMs ?? Date.now(), newNonce());
  return { [PEER_FROM_HEADER]: encodeURIComponent(s.from), [PEER_AUTH_HEADER]: auth };
}

/** A stream frame carrying its tag, numbered `seq` on the stream opened with `nonce`. */
export function taggedFrame(key: Buffer, nonce: string, seq: number, envelope: Uint8Array): Buffer {
  return encodeFrame(Buffer.concat([frameTag(key, nonce, seq, envelope), envelope]));
}
