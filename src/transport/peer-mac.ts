// Message authentication between nodes that share a cluster secret: no secret
// ever goes on the wire, only HMAC-SHA256 tags.
//
// Keys. Each sender has its own key per secret: HKDF-SHA256(secret, salt
// "ratify-peer-mac-v1", info clusterId NUL senderId). A tag made under n2's key
// does not verify as n3's, so a captured request or frame cannot be replayed under
// another sender id, nor into another cluster. (Everyone who holds the secret can
// derive every key: the secret makes a node a member, it does not tell members
// apart. Mutual TLS does; see peer-tls.ts.)
//
// Openings. Every peer request (a stream, or one envelope) carries
//   x-ratify-from: <sender id>      x-ratify-auth: v1.<unix ms>.<nonce>.<tag>
// with tag = HMAC(key(sender), "ratify-open-v1" LF method LF route LF sender LF
// receiver LF ms LF nonce LF body-sha256). The receiver checks it in the auth hook
// (src/http/auth.ts) before reading any body: the time must be within
// OPEN_WINDOW_MS of its own clock and the nonce unseen in that window (ReplayWindow),
// so a captured opening cannot be replayed later or elsewhere, nor sent to another
// node (the receiver id is in the tag).
//
// Bodies. A single envelope's sha256 is in its opening (x-ratify-body-sha256), and
// checked once the body is read. A stream's frames each carry a tag:
//   frame payload = tag(32 bytes) || envelope,  tag = HMAC(key(sender),
//   "ratify-frame-v1" LF nonce LF seq LF || envelope)
// where nonce is the stream opening's and seq counts the stream's frames from 0. A
// frame cannot be moved to another stream, dropped, repeated or reordered within
// its own without failing the tag, and the receiver ends the stream on the first
// bad one. Without a cluster secret none of this is sent (loopback clusters, or
// mutual TLS alone), and frames are plain envelopes, as before.
import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

export const PEER_AUTH_HEADER = 'x-ratify-auth';
export const PEER_FROM_HEADER = 'x-ratify-from';
export const BODY_SHA256_HEADER = 'x-ratify-body-sha256';
export const FRAME_TAG_BYTES = 32;

/**
 * How far an opening's time may be from the receiver's clock, either way. Covers
 * clocks kept by NTP with room to spare; a node whose clock is further off is
 * refused with a message that says so.
 */
export const OPEN_WINDOW_MS = 60_000;
/** Nonces remembered for the window; beyond this the oldest are forgotten (best effort under a flood of valid openings). */
export const REPLAY_NONCES_MAX = 200_000;

const VERSION = 'v1';
const KEY_SALT = 'ratify-peer-mac-v1';
const KEY_CACHE_MAX = 4096;

/** The keys derived from a node's cluster secrets (the first signs, all verify). */
export class PeerKeys {
  private readonly cache = new Map<string, Buffer[]>();

  constructor(
    private readonly secrets: readonly string[],
    private readonly clusterId: string,
  ) {
    if (secrets.length === 0) throw new Error('PeerKeys needs at least one secret');
  }

  /** The key `from` signs with (from the first secret). */
  signing(from: string): Buffer {
    return this.all(from)[0]!;
  }

  /** Every key a message from `from` may be signed with, one per accepted secret. */
  all(from: string): readonly Buffer[] {
    let keys = this.cache.get(from);
    if (keys === undefined) {
      keys = this.secrets.map((s) => Buffer.from(hkdfSync('sha256', s, KEY_SALT, `${this.clusterId}\u0000${from}`, 32)));
      // Only authenticated senders are looked up more than once; forged ids cannot grow it past the cap.
      if (this.cache.size >= KEY_CACHE_MAX) this.cache.clear();
      this.cache.set(from, keys);
    }
    return keys;
  }
}

export interface Opening {
  readonly method: string;
  /** The route, e.g. /raft/v1/stream (not a proxy's prefix). */
  readonly route: string;
  readonly from: string;
  readonly to: string;
  /** sha256 of the body, base64url; '' for a stream (its frames carry tags). */
  readonly bodySha256: string;
}

export function newNonce(): string {
  return randomBytes(16).toString('base64url');
}

/** The x-ratify-auth value for an opening. */
export function signOpening(key: Buffer, o: Opening, nowMs: number, nonce: string): string {
  return `${VERSION}.${nowMs}.${nonce}.${openingTag(key, o, nowMs, nonce).toString('base64url')}`;
}

export type OpeningCheck =
  | { readonly ok: true; readonly key: Buffer; readonly nonce: string }
  | { readonly ok: false; readonly why: string };

/** Checks an x-ratify-auth value against every accepted key and the clock; not the nonce (ReplayWindow). */
export function verifyOpening(keys: readonly Buffer[], header: string | undefined, o: Opening, nowMs: number): OpeningCheck {
  if (header === undefined)
    return { ok: false, why: `missing ${PEER_AUTH_HEADER} header (is the peer configured with the cluster secret?)` };
  const parts = header.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION) return { ok: false, why: `${PEER_AUTH_HEADER} is not a ${VERSION} opening` };
  const [, msText, nonce, tagText] = parts as [string, string, string, string];
  const ms = Number(msText);
  if (!Number.isSafeInteger(ms) || !/^[A-Za-z0-9_-]{16,64}$/.test(nonce)) return { ok: false, why: `${PEER_AUTH_HEADER} is malformed` };
  const given = Buffer.from(tagText, 'base64url');
  const match = keys.find((key) => {
    const expected = openingTag(key, o, ms, nonce);
    return given.byteLength === expected.byteLength && timingSafeEqual(given, expected);
  });
  if (match === undefined) return { ok: false, why: `${PEER_AUTH_HEADER} does not verify: wrong cluster secret, or not from ${o.from}` };
  // After the tag: an unauthenticated caller learns nothing about our clock.
  const skewMs = ms - nowMs;
  if (Math.abs(skewMs) > OPEN_WINDOW_MS) {
    return {
      ok: false,
      why: `the opening is ${Math.round(skewMs / 1000)} s off this node's clock (allowed ±${OPEN_WINDOW_MS / 1000} s): replayed, or a clock is wrong (check NTP)`,
    };
  }
  return { ok: true, key: match, nonce };
}

function openingTag(key: Buffer, o: Opening, ms: number, nonce: string): Buffer {
  const text = ['ratify-open-v1', o.method.toUpperCase(), o.route, o.from, o.to, String(ms), nonce, o.bodySha256].join('\n');
  return createHmac('sha256', key).update(text, 'utf8').digest();
}

export function bodySha256(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('base64url');
}

/** The tag of frame `seq` of the stream opened with `nonce`. */
export function frameTag(key: Buffer, nonce: string, seq: number, envelope: Uint8Array): Buffer {
  return createHmac('sha256', key).update(`ratify-frame-v1\n${nonce}\n${seq}\n`, 'utf8').update(envelope).digest();
}

/** Splits a tagged frame payload and checks its tag; the envelope bytes, or null when it does not verify. */
export function openFrame(key: Buffer, nonce: string, seq: number, payload: Uint8Array): Uint8Array | null {
  if (payload.byteLength <= FRAME_TAG_BYTES) return null;
  const given = payload.subarray(0, FRAME_TAG_BYTES);
  const envelope = payload.subarray(FRAME_TAG_BYTES);
  return timingSafeEqual(given, frameTag(key, nonce, seq, envelope)) ? envelope : null;
}

/**
 * Nonces of the openings accepted within the window. An opening is accepted once;
 * its time is within OPEN_WINDOW_MS, so a nonce older than twice that cannot come
 * back and is forgotten.
 */
export class ReplayWindow {
  /** nonce -> when it stops mattering; insertion order is time order. */
  private readonly seen = new Map<string, number>();

  /** True the first time `nonce` is offered (and remembers it). */
  admit(nonce: string, nowMs: number): boolean {
    this.prune(nowMs);
    if (this.seen.has(nonce)) return false;
    if (this.seen.size >= REPLAY_NONCES_MAX) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(nonce, nowMs + 2 * OPEN_WINDOW_MS);
    return true;
  }

  private prune(nowMs: number): void {
    for (const [nonce, until] of this.seen) {
      if (until > nowMs) return;
      this.seen.delete(nonce);
    }
  }
}
