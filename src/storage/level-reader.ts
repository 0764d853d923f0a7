// Reads and verifies a whole LevelDB data directory (RaftStorage.load()),
// including the snapshot file its meta names (format 2) or its chunks (format 1).
//
// One ordered scan collects the raw records; nothing is decoded until the
// format version is known, so an unknown version fails on that check rather
// than on a confusing decode error further down.
import type { Level } from 'level';
import type { Snapshot } from '../raft/types.js';
import type { StoredState } from './raft-storage.js';
import {
  CHUNK_PREFIX,
  ENTRY_PREFIX,
  FORMAT_KEY,
  FORMAT_VERSIONS_READ,
  HARD_STATE_KEY,
  SNAPSHOT_META_KEY,
  chunkKey,
  parseNumberedKey,
} from './level-keys.js';
import { dataCorrupt, decodeRecord } from './record.js';
import { readSnapshotFile, type SnapshotFileRef } from './snapshot-file.js';
import { EMPTY_HARD_STATE } from './save-plan.js';
import { decodeEntryRecord, decodeFormat, decodeHardState, decodeSnapshotMeta, type StoredSnapshotMeta } from './stored-records.js';

interface RawRecords {
  format: Uint8Array | undefined;
  hardState: Uint8Array | undefined;
  snapshotMeta: Uint8Array | undefined;
  readonly chunks: Map<number, Uint8Array>;
  readonly entries: Array<readonly [number, Uint8Array]>;
}

/** What load() learns beyond the state: the directory's format and its snapshot file, if any. */
export interface LevelState {
  readonly state: StoredState;
  readonly format: number;
  /** The snapshot file the meta names, verified; null without one. */
  readonly snapshotFile: SnapshotFileRef | null;
  /**
   * Indexes of entries at or below the snapshot's index, left out of `state`:
   * what a crash left of a compaction's trimming (leveldb-storage.ts, trim).
   * The snapshot covers them, so they are neither decoded nor checked.
   */
  readonly compactedEntries: readonly number[];
}

/** The decoded state, or null when the directory holds no records at all (a new node). */
export async function readLevelState(db: Level<string, Uint8Array>, dir: string): Promise<LevelState | null> {
  const raw = await scan(db);
  if (raw.format === undefined) {
    const isEmpty = raw.hardState === undefined && raw.snapshotMeta === undefined && raw.chunks.size === 0 && raw.entries.length === 0;
    if (isEmpty) return null;
    throw dataCorrupt(FORMAT_KEY, 'missing format record in a non-empty data directory');
  }
  const format = decodeFormat(raw.format);
  if (!FORMAT_VERSIONS_READ.includes(format)) {
    throw dataCorrupt(FORMAT_KEY, `unknown format version ${format} (this build reads versions ${FORMAT_VERSIONS_READ.join(', ')})`);
  }
  const meta = raw.snapshotMeta === undefined ? null : decodeSnapshotMeta(raw.snapshotMeta);
  const snapshotIndex = meta?.index ?? 0;
  // Keys sort by index (level-keys.ts), so the compacted ones come first.
  let live = 0;
  while (live < raw.entries.length && raw.entries[live]![0] <= snapshotIndex) live++;
  const state: StoredState = {
    hardState: raw.hardState === undefined ? EMPTY_HARD_STATE : decodeHardState(raw.hardState),
    snapshot: await readSnapshot(raw, meta, format, dir),
    entries: raw.entries.slice(live).map(([index, value]) => decodeEntryRecord(index, value)),
  };
  return {
    state,
    format,
    snapshotFile: meta?.layout === 'file' ? { file: meta.file, dataBytes: meta.dataBytes, crc: meta.crc } : null,
    compactedEntries: raw.entries.slice(0, live).map(([index]) => index),
  };
}

async function scan(db: Level<string, Uint8Array>): Promise<RawRecords> {
  const raw: RawRecords = { format: undefined, hardState: undefined, snapshotMeta: undefined, chunks: new Map(), entries: [] };
  for await (const [key, value] of db.iterator()) {
    if (key === FORMAT_KEY) raw.format = value;
    else if (key === HARD_STATE_KEY) raw.hardState = value;
    else if (key === SNAPSHOT_META_KEY) raw.snapshotMeta = value;
    else if (key.startsWith(ENTRY_PREFIX)) raw.entries.push([numbered(key, ENTRY_PREFIX), value]);
    else if (key.startsWith(CHUNK_PREFIX)) raw.chunks.set(numbered(key, CHUNK_PREFIX), value);
    else throw dataCorrupt(JSON.stringify(key), 'unexpected key in the data directory');
  }
  return raw;
}

function numbered(key: string, prefix: string): number {
  const n = parseNumberedKey(key, prefix);
  if (n === null) throw dataCorrupt(JSON.stringify(key), 'malformed key');
  return n;
}

async function readSnapshot(raw: RawRecords, meta: StoredSnapshotMeta | null, format: number, dir: string): Promise<Snapshot | null> {
  if (meta === null || meta.layout === 'file') {
    // Chunks belong to a format 1 snapshot only; the batch that moved the data to a file deleted them.
    if (raw.chunks.size > 0) throw dataCorrupt(chunkKey(firstKey(raw.chunks)), `snapshot chunk without a chunked snapshot meta`);
  }
  if (meta === null) return null;
  const raftMeta = { index: meta.index, term: meta.term, members: meta.members };
  if (meta.layout === 'chunks') {
    if (format !== 1) throw dataCorrupt(SNAPSHOT_META_KEY, `chunked snapshot meta in a format ${format} directory`);
    return { meta: raftMeta, data: assembleChunks(meta, raw.chunks) };
  }
  if (format === 1) throw dataCorrupt(SNAPSHOT_META_KEY, 'snapshot file meta in a format 1 directory');
  return { meta: raftMeta, data: await readSnapshotFile(dir, meta) };
}

function assembleChunks(meta: StoredSnapshotMeta & { layout: 'chunks' }, chunks: ReadonlyMap<number, Uint8Array>): Uint8Array {
  for (const n of chunks.keys()) {
    if (n >= meta.chunkCount) throw dataCorrupt(chunkKey(n), `chunk beyond the snapshot's ${meta.chunkCount} chunks`);
  }
  const parts: Uint8Array[] = [];
  let bytes = 0;
  for (let n = 0; n < meta.chunkCount; n++) {
    const value = chunks.get(n);
    if (value === undefined) throw dataCorrupt(chunkKey(n), `missing snapshot chunk ${n} of ${meta.chunkCount}`);
    const part = decodeRecord(chunkKey(n), value);
    parts.push(part);
    bytes += part.byteLength;
  }
  if (bytes !== meta.dataBytes) {
    throw dataCorrupt(SNAPSHOT_META_KEY, `snapshot chunks hold ${bytes} bytes, meta says ${meta.dataBytes}`);
  }
  const data = new Uint8Array(bytes);
  let offset = 0;
  for (const part of parts) {
    data.set(part, offset);
    offset += part.byteLength;
  }
  return data;
}

function firstKey(map: ReadonlyMap<number, unknown>): number {
  return Math.min(...map.keys());
}
