// Key layout of the LevelDB data directory. Keys are UTF-8 strings whose byte
// order matches numeric order within each prefix (fixed-width lowercase hex),
// so range scans and "first/last entry" reads need no decoding.
//
//   m:format      {version}                       written on first load of an empty dir
//   m:hardstate   {term, vote, commitIndex}
//   m:snapshot    {index, term, members, dataBytes, file, crc}   (format 1: ..., chunkCount)
//   s:<8 hex>     format 1 only: snapshot data chunk n
//   e:<16 hex>    log entry at that index
//
// Every value is a checksummed record (record.ts). Format 2 keeps snapshot data
// in a file of its own (snapshot-file.ts); a format 1 directory is read as it is
// and becomes format 2 with its next snapshot, in the same atomic batch that
// deletes its chunks.

export const FORMAT_VERSION = 2;
/** Formats this build reads. */
export const FORMAT_VERSIONS_READ: readonly number[] = [1, 2];

export const FORMAT_KEY = 'm:format';
export const HARD_STATE_KEY = 'm:hardstate';
export const SNAPSHOT_META_KEY = 'm:snapshot';

export const ENTRY_PREFIX = 'e:';
export const CHUNK_PREFIX = 's:';

const ENTRY_DIGITS = 16;
const CHUNK_DIGITS = 8;

/** Bounds for a range scan over every key with `prefix` (';' is the byte after ':'). */
export function prefixRange(prefix: string): { gte: string; lt: string } {
  return { gte: prefix, lt: `${prefix.slice(0, -1)};` };
}

export function entryKey(index: number): string {
  return ENTRY_PREFIX + index.toString(16).padStart(ENTRY_DIGITS, '0');
}

export function chunkKey(n: number): string {
  return CHUNK_PREFIX + n.toString(16).padStart(CHUNK_DIGITS, '0');
}

/** The number in a fixed-width hex key, or null if the key is not well formed. */
export function parseNumberedKey(key: string, prefix: string): number | null {
  const digits = prefix === ENTRY_PREFIX ? ENTRY_DIGITS : CHUNK_DIGITS;
  const hex = key.slice(prefix.length);
  if (!key.startsWith(prefix) || hex.length !== digits || !/^[0-9a-f]+$/.test(hex)) return null;
  const n = Number.parseInt(hex, 16);
  return Number.isSafeInteger(n) ? n : null;
}
