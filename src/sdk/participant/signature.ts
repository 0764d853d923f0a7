// The signature of a coordinator -> participant call, shared by both ends: the
// coordinator signs with it (src/tx/participant-batch.ts) and the participant
// SDK verifies with it (participant.ts). One module, so the two can never
// disagree about a byte; it needs node:crypto only, never coordinator code.
//
// An HMAC-SHA256, under the key the cluster holds for that participant, of the
// canonical string: these lines joined by "\n" (no trailing newline):
//
//   ratify-participant-v1        the scheme (a new one gets a new name)
//   POST                         the HTTP method
//   /ratify/commit               the request path, without a query string
//   payments                     x-ratify-cluster: the cluster id
//   9f1c...e2                    x-ratify-incarnation: the cluster's incarnation
//   7                            x-ratify-term: the leader's term
//   1767225600000                x-ratify-timestamp: ms since the epoch
//   <sha256 of the body, hex>    the exact bytes of the request body
//
// sent as `x-ratify-signature: v1=<64 hex digits>`. What each part stops:
// the path ties a signature to one call (a signed prepare cannot be replayed as
// a commit), the key to one participant (each has its own), the body to one
// transaction, and the cluster, incarnation and term to the fence they raise
// (a forged huge term fails before it touches the fence). The timestamp bounds
// replay to the participant's allowed clock skew; a replay inside it repeats a
// call the coordinator really made, which the protocol's idempotency absorbs.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_SCHEME = 'ratify-participant-v1';
export const SIGNATURE_HEADER = 'x-ratify-signature';
export const TIMESTAMP_HEADER = 'x-ratify-timestamp';
export const CLUSTER_HEADER = 'x-ratify-cluster';
export const INCARNATION_HEADER = 'x-ratify-incarnation';
/** Same name as decode.ts's TERM_HEADER (kept here too so this module stands alone). */
export const SIGNED_TERM_HEADER = 'x-ratify-term';
const SIGNATURE_PREFIX = 'v1=';

/** A participant key: 32 characters at least (128 bits and more as hex or base64), 512 at most. */
export const PARTICIPANT_KEY_LENGTH_MIN = 32;
export const PARTICIPANT_KEY_LENGTH_MAX = 512;
/** The cluster id as the node's config allows it. */
export const CLUSTER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** A cluster incarnation: what the coordinator makes (32 hex digits) with room for other coordinators. */
export const INCARNATION_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Everything a signature covers. */
export interface SignedCall {
  readonly method: string;
  /** The request path as sent, e.g. "/ratify/commit"; no query string. */
  readonly path: string;
  readonly clusterId: string;
  readonly incarnation: string;
  readonly term: number;
  readonly timestampMs: number;
  /** The exact request body. */
  readonly body: string | Uint8Array;
}

export function canonicalString(c: SignedCall): string {
  const bodyHash = createHash('sha256').update(c.body).digest('hex');
  return [
    SIGNATURE_SCHEME,
    c.method.toUpperCase(),
    c.path,
    c.clusterId,
    c.incarnation,
    String(c.term),
    String(c.timestampMs),
    bodyHash,
  ].join('\n');
}

/** The hex HMAC-SHA256 of the canonical string under `key` (its UTF-8 bytes). */
export function signCall(key: string, c: SignedCall): string {
  return createHmac('sha256', key).update(canonicalString(c)).digest('hex');
}

/** The headers that carry a signed call's fence and signature (the term header is the caller's). */
export function signatureHeaders(key: string, c: SignedCall): Record<string, string> {
  return {
    [CLUSTER_HEADER]: c.clusterId,
    [INCARNATION_HEADER]: c.incarnation,
    [TIMESTAMP_HEADER]: String(c.timestampMs),
    [SIGNATURE_HEADER]: `${SIGNATURE_PREFIX}${signCall(key, c)}`,
  };
}

/** Headers as node:http and fastify give them (lower-case names). */
export type SignatureHeaderBag = Readonly<Record<string, string | readonly string[] | undefined>>;

/** The request a participant received, as its transport saw it. */
export interface ReceivedCall {
  readonly method: string;
  readonly path: string;
  readonly headers: SignatureHeaderBag;
  readonly body: string | Uint8Array;
}

/** Why a call was refused; `reason` names the check (for logs and the error's details), never a key. */
export type Verification =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'unsigned' | 'malformed' | 'stale' | 'mismatch'; readonly message: string };

export interface VerifyOptions {
  /** Keys accepted (several while a key is being rotated). */
  readonly keys: readonly string[];
  readonly nowMs: number;
  /** Largest allowed distance between the call's timestamp and nowMs, either way. */
  readonly skewMsMax: number;
}

/** Checks a received call's signature; compares in constant time against every key. */
export function verifyCall(call: ReceivedCall, o: VerifyOptions): Verification {
  const signature = header(call.headers, SIGNATURE_HEADER);
  if (signature === undefined) return refused('unsigned', `the call carries no ${SIGNATURE_HEADER} header`);
  const clusterId = header(call.headers, CLUSTER_HEADER);
  const incarnation = header(call.headers, INCARNATION_HEADER);
  const term = header(call.headers, SIGNED_TERM_HEADER);
  const timestamp = header(call.headers, TIMESTAMP_HEADER);
  if (clusterId === undefined || !CLUSTER_ID_PATTERN.test(clusterId))
    return refused('malformed', `${CLUSTER_HEADER} is missing or malformed`);
  if (incarnation === undefined || !INCARNATION_PATTERN.test(incarnation))
    return refused('malformed', `${INCARNATION_HEADER} is missing or malformed`);
  if (term === undefined || !/^[0-9]{1,16}$/.test(term)) return refused('malformed', `${SIGNED_TERM_HEADER} is missing or malformed`);
  if (timestamp === undefined || !/^[0-9]{1,16}$/.test(timestamp))
    return refused('malformed', `${TIMESTAMP_HEADER} is missing or malformed`);
  if (!signature.startsWith(SIGNATURE_PREFIX) || !/^[0-9a-f]{64}$/.test(signature.slice(SIGNATURE_PREFIX.length))) {
    return refused('malformed', `${SIGNATURE_HEADER} must be ${SIGNATURE_PREFIX} and 64 lower-case hex digits`);
  }
  const timestampMs = Number(timestamp);
  if (Math.abs(o.nowMs - timestampMs) > o.skewMsMax) {
    return refused(
      'stale',
      `the call's timestamp is ${o.nowMs - timestampMs} ms from this participant's clock (at most ${o.skewMsMax} ms allowed)`,
    );
  }
  const given = Buffer.from(signature.slice(SIGNATURE_PREFIX.length), 'hex');
  const fields: SignedCall = {
    method: call.method,
    path: call.path,
    clusterId,
    incarnation,
    term: Number(term),
    timestampMs,
    body: call.body,
  };
  let matched = false;
  for (const key of o.keys) {
    if (timingSafeEqual(Buffer.from(signCall(key, fields), 'hex'), given)) matched = true;
  }
  return matched ? { ok: true } : refused('mismatch', "the signature does not match this participant's key");
}

/** The problem with a participant key, or null (the same rule at both ends). */
export function participantKeyProblem(key: string): string | null {
  if (key.length < PARTICIPANT_KEY_LENGTH_MIN || key.length > PARTICIPANT_KEY_LENGTH_MAX) {
    return `a participant key (${key.length} characters) must be ${PARTICIPANT_KEY_LENGTH_MIN} to ${PARTICIPANT_KEY_LENGTH_MAX} characters`;
  }
  if (!/^[\x21-\x7e]+$/.test(key)) return 'a participant key must be printable ASCII without blanks';
  return null;
}

function header(headers: SignatureHeaderBag, name: string): string | undefined {
  const raw = headers[name];
  return Array.isArray(raw) ? (raw as readonly string[])[0] : (raw as string | undefined);
}

function refused(reason: 'unsigned' | 'malformed' | 'stale' | 'mismatch', message: string): Verification {
  return { ok: false, reason, message };
}
