// MessagePack encoding of Raft envelopes (wire) and single log entries (disk).
//
// Why two Packr configurations (test/transport/codec.bench.ts on the shared
// 2-core box, ops/s; "append" = one append of 64 entries x 200 B, "small" = an
// envelope of 3 small responses, "entry" = one stored entry):
//
//                     append enc/dec   small enc/dec   entry enc/dec   append bytes
//   plain maps          31k / 43k       629k / 325k     1238k / 1602k   15296
//   inline records      32k / 67k       409k / 315k      730k / 1062k   13850
//   fixed structures    34k / 114k      642k / 1942k    1285k / 2414k   13730
//
// * Wire: inline records (useRecords without a shared `structures` list). Each
//   message carries its own record definitions, so encoder and decoder share no
//   state, yet an append (the follower's hot path) decodes 1.5x faster and is
//   10% smaller than with plain maps. The slower encode of tiny envelopes costs
//   ~1 us, noise next to an HTTP round trip. Fixed shared structures are faster
//   still, but two versions of this code whose lists differ by one field (a
//   rolling upgrade) would decode silently into wrong fields instead of
//   failing; that risk is not worth microseconds.
// * Disk: plain maps (standard MessagePack, no extension). For a single entry
//   they are the fastest safe choice, and the on-disk format then depends on
//   no msgpackr-specific extension.
//
// Decoding returns validated values only (see message-guard.ts).
import { Packr } from 'msgpackr';
import { RatifyError } from '../errors.js';
import type { Entry } from '../raft/types.js';
import { packBounded } from '../util/bounded-pack.js';
import { envelopeBytesAtMost } from './envelope-batch.js';
import { DEFAULT_WIRE_LIMITS, parseEntry, parseEnvelope, type Envelope, type WireLimits } from './message-guard.js';

const UNTRUSTED_DECODE_OPTIONS = {
  // Decode MessagePack maps to plain objects (never Map), and refuse msgpackr's
  // structured-clone reference extensions: nothing we send uses them.
  mapsAsObjects: true,
  structuredClone: false,
} as const;

const wirePackr = new Packr({ useRecords: true, ...UNTRUSTED_DECODE_OPTIONS });
const diskPackr = new Packr({ useRecords: false, ...UNTRUSTED_DECODE_OPTIONS });

/**
 * `bytesAtMost` sizes the buffer of a large envelope (catch-up, snapshot chunks): see
 * packBounded. A sender that batched the messages passes the bound takeBatch summed.
 */
export function encodeEnvelope(envelope: Envelope, bytesAtMost = envelopeBytesAtMost(envelope)): Uint8Array {
  return packBounded(wirePackr, envelope, bytesAtMost);
}

/** Decodes and validates; throws RatifyError('VALIDATION_FAILED') on any malformed input. */
export function decodeEnvelope(bytes: Uint8Array, limits: WireLimits = DEFAULT_WIRE_LIMITS): Envelope {
  return parseEnvelope(unpack(wirePackr, bytes, 'envelope'), limits);
}

export function encodeEntry(entry: Entry): Uint8Array {
  return packBounded(diskPackr, entry);
}

/** Decodes and validates one stored entry; throws RatifyError('VALIDATION_FAILED'). */
export function decodeEntry(bytes: Uint8Array): Entry {
  return parseEntry(unpack(diskPackr, bytes, 'entry'));
}

/** Generic MessagePack value for small stored records (hard state, snapshot meta). */
export function encodeValue(value: unknown): Uint8Array {
  return packBounded(diskPackr, value);
}

export function decodeValue(bytes: Uint8Array, what: string): unknown {
  return unpack(diskPackr, bytes, what);
}

function unpack(packr: Packr, bytes: Uint8Array, what: string): unknown {
  try {
    return packr.unpack(bytes);
  } catch (cause) {
    // msgpackr throws plain Errors (and RangeError on absurd nesting): all mean "malformed".
    throw new RatifyError('VALIDATION_FAILED', `${what}: not valid MessagePack (${errorMessage(cause)})`, { cause });
  }
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message.slice(0, 200) : 'unknown error';
}
