// Checksummed framing for every stored value: [CRC32 of payload, u32 BE][payload].
//
// LevelDB checksums its blocks, but classic-level reads with verify_checksums
// off, and a block checksum says nothing about which record went bad. Our own
// CRC per value lets load() refuse to start and name the exact record.
import { crc32 } from 'node:zlib';
import { RatifyError } from '../errors.js';

const HEADER_BYTES = 4;

export function encodeRecord(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + payload.byteLength);
  new DataView(out.buffer).setUint32(0, crc32(payload));
  out.set(payload, HEADER_BYTES);
  return out;
}

/** Returns the payload (a view into `value`) or throws DATA_CORRUPT naming `key`. */
export function decodeRecord(key: string, value: Uint8Array): Uint8Array {
  if (value.byteLength < HEADER_BYTES) {
    throw dataCorrupt(key, `record of ${value.byteLength} bytes is shorter than its ${HEADER_BYTES}-byte checksum`);
  }
  const stored = new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(0);
  const payload = value.subarray(HEADER_BYTES);
  const computed = crc32(payload);
  if (stored !== computed) {
    throw dataCorrupt(key, `checksum mismatch (stored ${hex(stored)}, computed ${hex(computed)})`);
  }
  return payload;
}

/** The single way storage reports a failed integrity check: where, and which check. */
export function dataCorrupt(where: string, check: string, cause?: unknown): RatifyError {
  return new RatifyError('DATA_CORRUPT', `data corrupt at ${where}: ${check}`, cause === undefined ? undefined : { cause });
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
