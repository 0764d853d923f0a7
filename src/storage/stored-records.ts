// Encoding of each stored record type, and decoding with full validation.
// Decoders throw DATA_CORRUPT naming the key and the failed check.
import { isRatifyError } from '../errors.js';
import type { Entry, HardState, Member, SnapshotMeta } from '../raft/types.js';
import { decodeEntry, decodeValue, encodeEntry, encodeValue } from '../transport/codec.js';
import { readObject, readString, readUint } from '../transport/field-guards.js';
import { DEFAULT_WIRE_LIMITS, parseSnapshotMeta } from '../transport/message-guard.js';
import { FORMAT_KEY, HARD_STATE_KEY, SNAPSHOT_META_KEY, entryKey } from './level-keys.js';
import { dataCorrupt, decodeRecord, encodeRecord } from './record.js';
import type { SnapshotFileRef } from './snapshot-file.js';

/**
 * Snapshot meta as stored: the Raft meta plus where the data is. Format 2 keeps
 * the data in a file (snapshot-file.ts); format 1 kept it in LevelDB chunks,
 * which this build still reads.
 */
export type StoredSnapshotMeta = SnapshotMeta &
  (
    | { readonly layout: 'file'; readonly file: string; readonly dataBytes: number; readonly crc: number }
    | { readonly layout: 'chunks'; readonly dataBytes: number; readonly chunkCount: number }
  );

export function encodeFormat(version: number): Uint8Array {
  return encodeRecord(encodeValue({ version }));
}

export function decodeFormat(value: Uint8Array): number {
  return decodeAs(FORMAT_KEY, value, (p) => readUint(readObject(decodeValue(p, FORMAT_KEY), 'format'), 'version', 'format', 1));
}

export function encodeHardState(hs: HardState): Uint8Array {
  return encodeRecord(encodeValue({ term: hs.term, vote: hs.vote, commitIndex: hs.commitIndex }));
}

export function decodeHardState(value: Uint8Array): HardState {
  return decodeAs(HARD_STATE_KEY, value, (p) => {
    const o = readObject(decodeValue(p, HARD_STATE_KEY), 'hardState');
    const vote = o['vote'] === null ? null : readString(o, 'vote', 'hardState', DEFAULT_WIRE_LIMITS.maxIdLength);
    return { term: readUint(o, 'term', 'hardState'), vote, commitIndex: readUint(o, 'commitIndex', 'hardState') };
  });
}

/** Format 2 meta: the data is in `ref.file`. (Format 1 meta, with chunkCount, is only read.) */
export function encodeSnapshotMeta(meta: SnapshotMeta, ref: SnapshotFileRef): Uint8Array {
  const members: Member[] = meta.members.map((m) => ({ id: m.id, url: m.url, voter: m.voter }));
  const { index, term } = meta;
  return encodeRecord(encodeValue({ index, term, members, dataBytes: ref.dataBytes, file: ref.file, crc: ref.crc }));
}

export function decodeSnapshotMeta(value: Uint8Array): StoredSnapshotMeta {
  return decodeAs(SNAPSHOT_META_KEY, value, (p) => {
    const x = decodeValue(p, SNAPSHOT_META_KEY);
    const meta = parseSnapshotMeta(x, 'snapshotMeta');
    const o = readObject(x, 'snapshotMeta');
    const dataBytes = readUint(o, 'dataBytes', 'snapshotMeta');
    if ('file' in o) {
      return {
        ...meta,
        layout: 'file',
        dataBytes,
        file: readString(o, 'file', 'snapshotMeta', 255),
        crc: readUint(o, 'crc', 'snapshotMeta'),
      };
    }
    return { ...meta, layout: 'chunks', dataBytes, chunkCount: readUint(o, 'chunkCount', 'snapshotMeta') };
  });
}

export function encodeEntryRecord(entry: Entry): Uint8Array {
  return encodeRecord(encodeEntry(entry));
}

/** Decodes the entry stored under the key for `index`; the entry must say the same index. */
export function decodeEntryRecord(index: number, value: Uint8Array): Entry {
  const key = entryKey(index);
  const entry = decodeAs(key, value, decodeEntry);
  if (entry.index !== index) throw dataCorrupt(key, `record holds index ${entry.index}, not the key's index ${index}`);
  return entry;
}

/** Checks the record's checksum, then parses its payload; validation failures become DATA_CORRUPT. */
function decodeAs<T>(key: string, value: Uint8Array, parse: (payload: Uint8Array) => T): T {
  const payload = decodeRecord(key, value);
  try {
    return parse(payload);
  } catch (e) {
    if (isRatifyError(e, 'VALIDATION_FAILED')) throw dataCorrupt(key, e.message, e);
    throw e;
  }
}
