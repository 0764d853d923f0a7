// LevelDB-only integrity checks: damage a closed data directory on purpose and
// expect load() to refuse it with DATA_CORRUPT naming the record and the check.
// Also: snapshot files (format 2) and reading a format 1 directory (chunks).
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRatifyError, type ErrorCode } from '../../src/errors.js';
import type { Entry, Member } from '../../src/raft/types.js';
import { encodeValue } from '../../src/transport/codec.js';
import { FORMAT_KEY, HARD_STATE_KEY, SNAPSHOT_META_KEY, chunkKey, entryKey } from '../../src/storage/level-keys.js';
import { LevelRaftStorage, TRIM_BATCH_ENTRIES } from '../../src/storage/leveldb-storage.js';
import { SNAPSHOT_FLUSH_BYTES, SnapshotFileBytes, SnapshotFileWriter } from '../../src/storage/snapshot-file.js';
import { encodeRecord } from '../../src/storage/record.js';
import { encodeEntryRecord, encodeFormat, encodeHardState } from '../../src/storage/stored-records.js';
import { makeTempDir, withRawLevel } from './harness.js';

const MEMBERS: Member[] = [{ id: 'n1', url: 'http://127.0.0.1:4001', voter: true }];

function normal(index: number, term: number): Entry {
  return { kind: 'normal', index, term, data: new Uint8Array([index, term, 0xab, 0xcd]) };
}

/** Opens the store in `dir`, runs `fn`, and closes it whatever happens. */
async function withStorage<T>(dir: string, fn: (storage: LevelRaftStorage) => Promise<T>): Promise<T> {
  const storage = await LevelRaftStorage.open(dir);
  try {
    return await fn(storage);
  } finally {
    await storage.close();
  }
}

/** What a fresh open of `dir` loads. */
const reload = (dir: string): ReturnType<LevelRaftStorage['load']> => withStorage(dir, (s) => s.load());

async function loadError(dir: string): Promise<unknown> {
  const storage = await LevelRaftStorage.open(dir);
  try {
    await storage.load();
    return null;
  } catch (e) {
    return e;
  } finally {
    await storage.close();
  }
}

/** Spies on the storage's LevelDB batches: `seen` hears each write, with how many deletes it holds and whether it syncs. */
function onBatchWrites(storage: LevelRaftStorage, seen: (dels: number, sync: boolean) => void): void {
  type Chained = { del: (key: string) => void; write: (options: { sync: boolean }) => Promise<void> };
  const db = (storage as unknown as { db: { batch: () => Chained } }).db;
  const batch = db.batch.bind(db);
  db.batch = () => {
    const chained = batch();
    let dels = 0;
    const del = chained.del.bind(chained);
    chained.del = (key) => {
      dels++;
      del(key);
    };
    const write = chained.write.bind(chained);
    chained.write = async (options) => {
      seen(dels, options.sync);
      return write(options);
    };
    return chained;
  };
}

function expectError(err: unknown, code: ErrorCode, message: RegExp): void {
  expect(isRatifyError(err, code), `expected RatifyError ${code}, got ${String(err)}`).toBe(true);
  expect((err as Error).message).toMatch(message);
}

describe('LevelRaftStorage integrity', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await makeTempDir();
    // A store with a snapshot (in its file), entries 5..9 and a hard state.
    const storage = await LevelRaftStorage.open(dir);
    await storage.load();
    const snapshot = { meta: { index: 4, term: 1, members: MEMBERS }, data: new Uint8Array(10_000).fill(7) };
    const entries = [5, 6, 7, 8, 9].map((i) => normal(i, 2));
    await storage.save({ hardState: { term: 2, vote: 'n1', commitIndex: 7 }, entries, snapshot });
    await storage.close();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the undamaged store (the baseline for every other test here)', async () => {
    expect(await loadError(dir)).toBeNull();
  });

  async function flipByte(key: string, offset: number): Promise<void> {
    await withRawLevel(dir, async (db) => {
      const value = await db.get(key);
      if (value === undefined) throw new Error(`no record at ${key}`);
      const damaged = new Uint8Array(value);
      const at = offset < 0 ? damaged.length + offset : offset;
      damaged[at] = damaged[at]! ^ 0x10;
      await db.put(key, damaged);
    });
  }

  for (const [what, key] of [
    ['an entry', entryKey(7)],
    ['the hard state', HARD_STATE_KEY],
    ['the snapshot meta', SNAPSHOT_META_KEY],
    ['the format record', FORMAT_KEY],
  ] as const) {
    it(`detects a flipped byte in ${what}, in the payload or in the checksum`, async () => {
      await flipByte(key, -1);
      expectError(await loadError(dir), 'DATA_CORRUPT', new RegExp(`${key}.*checksum mismatch`));
      await flipByte(key, -1); // undo
      expect(await loadError(dir)).toBeNull();
      await flipByte(key, 0);
      expectError(await loadError(dir), 'DATA_CORRUPT', new RegExp(`${key}.*checksum mismatch`));
    });
  }

  it('detects a gap in the log', async () => {
    await withRawLevel(dir, (db) => db.del(entryKey(7)));
    expectError(await loadError(dir), 'DATA_CORRUPT', /index 8.*gap in the log: expected index 7/);
  });

  it('detects a log that does not start right after the snapshot', async () => {
    await withRawLevel(dir, (db) => db.del(entryKey(5)));
    expectError(await loadError(dir), 'DATA_CORRUPT', /index 6.*first entry must be at index 5/);
  });

  it('detects an entry stored under another index’s key', async () => {
    await withRawLevel(dir, (db) => db.put(entryKey(8), encodeEntryRecord(normal(3, 2))));
    expectError(await loadError(dir), 'DATA_CORRUPT', /index 3, not the key's index 8/);
  });

  it('detects decreasing terms', async () => {
    await withRawLevel(dir, (db) => db.put(entryKey(8), encodeEntryRecord(normal(8, 1))));
    expectError(await loadError(dir), 'DATA_CORRUPT', /index 8.*term 1 decreases/);
  });

  it('detects a commit index beyond the last entry', async () => {
    await withRawLevel(dir, (db) => db.put(HARD_STATE_KEY, encodeHardState({ term: 2, vote: null, commitIndex: 10 })));
    expectError(await loadError(dir), 'DATA_CORRUPT', /hard state: commitIndex 10 is beyond the last index 9/);
  });

  const snapshotFiles = async (): Promise<string[]> => (await readdir(dir)).filter((f) => f.startsWith('snapshot-'));

  it('detects a damaged, shortened or missing snapshot file', async () => {
    const [file] = await snapshotFiles();
    const path = join(dir, file!);
    const good = await readFile(path);
    const flipped = Buffer.from(good);
    flipped[5] = flipped[5]! ^ 0x10;
    await writeFile(path, flipped);
    expectError(await loadError(dir), 'DATA_CORRUPT', new RegExp(`${file}: checksum mismatch`));
    await writeFile(path, good.subarray(1));
    expectError(await loadError(dir), 'DATA_CORRUPT', new RegExp(`${file}: snapshot file holds 9999 bytes, meta says 10000`));
    await rm(path);
    expectError(await loadError(dir), 'DATA_CORRUPT', new RegExp(`${file}: snapshot file named by the snapshot meta cannot be read`));
    await writeFile(path, good);
    expect(await loadError(dir)).toBeNull();
  });

  it('gives the core a reader over the snapshot file that refuses bytes which rotted on disk since they were written', async () => {
    const [file] = await snapshotFiles();
    const path = join(dir, file!);
    await withStorage(dir, async (storage) => {
      const state = await storage.load();
      const reader = state.sendable!;
      expect(reader).toBeInstanceOf(SnapshotFileBytes);
      expect(reader.byteLength).toBe(10_000);
      // Verified at load; then a byte flips on disk. Reads out of order are served as they are...
      const rotted = await readFile(path);
      rotted[9_000] = rotted[9_000]! ^ 0x01;
      await writeFile(path, rotted);
      expect(reader.subarray(8_192, 10_000)[808]).toBe(7 ^ 0x01);
      // ...and a transfer, which reads from the start in order, fails before its last chunk leaves.
      expect(Array.from(reader.subarray(0, 4_096))).toEqual(new Array(4_096).fill(7));
      expect(reader.subarray(4_096, 8_192).byteLength).toBe(4_096);
      expectError(
        (() => {
          try {
            reader.subarray(8_192, 10_000);
            return null;
          } catch (e) {
            return e;
          }
        })(),
        'DATA_CORRUPT',
        new RegExp(`${file}: checksum mismatch`),
      );
      expect(() => reader.subarray(9_000, 10_001)).toThrow(RangeError);
    });
  });

  it('falls back to the bytes in memory when a snapshot file cannot be opened for reading', () => {
    const inMemory = new Uint8Array([4, 5, 6]);
    const gone = { file: 'snapshot-0000000000000009-0000000000000002-0badf00d.bin', dataBytes: 3, crc: 0 };
    expect(SnapshotFileBytes.openOr(dir, gone, inMemory)).toBe(inMemory);
    expect(() => SnapshotFileBytes.open(dir, gone)).toThrow(/cannot be opened/);
  });

  it('keeps one snapshot file: a replaced one is deleted, and load() removes what a crash left behind', async () => {
    const [first] = await snapshotFiles();
    const orphan = 'snapshot-0000000000000009-0000000000000002-0badf00d.bin';
    await writeFile(join(dir, orphan), 'written, never named by a durable meta');
    await writeFile(join(dir, `${first}.tmp`), 'half written');
    await withStorage(dir, async (storage) => {
      await storage.load();
      expect(await snapshotFiles()).toEqual([first]);
      await storage.compact({ meta: { index: 7, term: 2, members: MEMBERS }, data: new Uint8Array(300).fill(3) });
      const files = await snapshotFiles();
      expect(files).toHaveLength(1);
      expect(files[0]).not.toBe(first);
    });
    const state = await reload(dir);
    expect(state.snapshot?.meta.index).toBe(7);
    expect(state.snapshot?.data).toEqual(new Uint8Array(300).fill(3));
    expect(state.entries.map((e) => e.index)).toEqual([8, 9]);
  });

  it('creates no file for a snapshot writer before its first piece, and removes the temporary file of an aborted one', async () => {
    await withStorage(dir, async (storage) => {
      await storage.load();
      const before = await snapshotFiles();
      const meta = { index: 7, term: 2, members: MEMBERS };
      const unused = storage.snapshotWriter(meta);
      expect(await snapshotFiles()).toEqual(before);
      await unused.abort();
      const writer = storage.snapshotWriter(meta);
      await writer.write(new Uint8Array(1000).fill(1));
      expect((await snapshotFiles()).filter((f) => f.endsWith('.tmp'))).toHaveLength(1);
      await writer.abort();
      expect(await snapshotFiles()).toEqual(before);
    });
    expect((await reload(dir)).snapshot?.meta.index).not.toBe(7);
  });

  it('drops a compaction overtaken by a newer snapshot installed while its file was written, file included', async () => {
    await withStorage(dir, async (storage) => {
      await storage.load();
      // compact() writes its (large) file before it queues; the install queues at once and lands first.
      const compaction = storage.compact({ meta: { index: 7, term: 2, members: MEMBERS }, data: new Uint8Array(4_000_000).fill(3) });
      const installed = { meta: { index: 20, term: 3, members: MEMBERS }, data: new Uint8Array(500).fill(9) };
      await storage.save({ hardState: { term: 3, vote: null, commitIndex: 20 }, entries: [], snapshot: installed });
      await compaction;
      expect(await snapshotFiles()).toHaveLength(1);
    });
    const state = await reload(dir);
    expect(state.snapshot?.meta.index).toBe(20);
    expect(state.snapshot?.data).toEqual(new Uint8Array(500).fill(9));
    expect(state.entries).toEqual([]);
  });

  it('refuses an unknown format version', async () => {
    await withRawLevel(dir, (db) => db.put(FORMAT_KEY, encodeFormat(99)));
    expectError(await loadError(dir), 'DATA_CORRUPT', /unknown format version 99/);
  });

  it('refuses a non-empty directory without a format record, and unexpected keys', async () => {
    await withRawLevel(dir, (db) => db.del(FORMAT_KEY));
    expectError(await loadError(dir), 'DATA_CORRUPT', /m:format: missing format record/);
    await withRawLevel(dir, async (db) => {
      await db.put(FORMAT_KEY, encodeFormat(1));
      await db.put('zzz', new Uint8Array([1]));
    });
    expectError(await loadError(dir), 'DATA_CORRUPT', /"zzz": unexpected key/);
  });

  it('refuses to open a directory that is already open', async () => {
    const first = await LevelRaftStorage.open(dir);
    try {
      const err = await LevelRaftStorage.open(dir).then(
        async (s) => {
          await s.close();
          return null;
        },
        (e: unknown) => e,
      );
      expectError(err, 'CONFIG_INVALID', /already in use/);
    } finally {
      await first.close();
    }
  });
});

describe('LevelRaftStorage reads a format 1 directory (snapshot in LevelDB chunks)', () => {
  let dir: string;
  const data = new Uint8Array(10_000).map((_, i) => i % 251);

  beforeEach(async () => {
    dir = await makeTempDir();
    // What format 1 wrote: chunks of 4096 bytes under s:<n>, their count in the meta.
    await withRawLevel(dir, async (db) => {
      await db.put(FORMAT_KEY, encodeFormat(1));
      await db.put(
        SNAPSHOT_META_KEY,
        encodeRecord(encodeValue({ index: 4, term: 1, members: MEMBERS, dataBytes: data.byteLength, chunkCount: 3 })),
      );
      for (let n = 0; n < 3; n++) await db.put(chunkKey(n), encodeRecord(data.subarray(n * 4096, (n + 1) * 4096)));
      for (const i of [5, 6, 7]) await db.put(entryKey(i), encodeEntryRecord(normal(i, 2)));
      await db.put(HARD_STATE_KEY, encodeHardState({ term: 2, vote: 'n1', commitIndex: 6 }));
    });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads it, and its next snapshot makes it format 2 (file written, chunks gone) in one batch', async () => {
    await withStorage(dir, async (storage) => {
      const state = await storage.load();
      expect(state.snapshot?.data).toEqual(data);
      expect(state.entries.map((e) => e.index)).toEqual([5, 6, 7]);
      await storage.save({ hardState: null, entries: [normal(8, 2)], snapshot: null }); // stays format 1
      await storage.compact({ meta: { index: 6, term: 2, members: MEMBERS }, data: new Uint8Array([1, 2, 3]) });
    });
    await withRawLevel(dir, async (db) => {
      expect(await db.get(chunkKey(0))).toBeUndefined();
      expect(Buffer.from((await db.get(FORMAT_KEY))!).equals(Buffer.from(encodeFormat(2)))).toBe(true);
    });
    const state = await reload(dir);
    expect(state.snapshot).toEqual({ meta: { index: 6, term: 2, members: MEMBERS }, data: new Uint8Array([1, 2, 3]) });
    expect(state.entries.map((e) => e.index)).toEqual([7, 8]);
  });

  it('detects a missing or damaged chunk, and chunks in a format 2 directory', async () => {
    await withRawLevel(dir, (db) => db.del(chunkKey(2)));
    expectError(await loadError(dir), 'DATA_CORRUPT', /s:00000002: missing snapshot chunk 2 of 3/);
    await withRawLevel(dir, (db) => db.put(chunkKey(2), encodeRecord(new Uint8Array(5))));
    expectError(await loadError(dir), 'DATA_CORRUPT', /snapshot chunks hold 8197 bytes, meta says 10000/);
    await withRawLevel(dir, (db) => db.put(FORMAT_KEY, encodeFormat(2)));
    expectError(await loadError(dir), 'DATA_CORRUPT', /chunked snapshot meta in a format 2 directory/);
  });
});

describe('LevelRaftStorage fsyncs (MustSync)', () => {
  let dir: string;
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('skips the fsync only for a commit-index-only batch that allows it', async () => {
    dir = await makeTempDir();
    const storage = await LevelRaftStorage.open(dir);
    await storage.load();
    const syncs: boolean[] = [];
    onBatchWrites(storage, (_dels, sync) => syncs.push(sync));
    try {
      await storage.save({ hardState: { term: 1, vote: 'n1', commitIndex: 0 }, entries: [normal(1, 1)], snapshot: null, sync: false });
      await storage.save({ hardState: { term: 1, vote: 'n1', commitIndex: 1 }, entries: [], snapshot: null, sync: false });
      await storage.save({ hardState: { term: 1, vote: 'n1', commitIndex: 1 }, entries: [], snapshot: null });
      await storage.save({ hardState: { term: 2, vote: null, commitIndex: 1 }, entries: [], snapshot: null, sync: false });
      await storage.save({ hardState: { term: 2, vote: 'n2', commitIndex: 1 }, entries: [], snapshot: null, sync: false });
      await storage.save({ hardState: null, entries: [normal(2, 2)], snapshot: null, sync: false });
      await storage.save({ hardState: { term: 2, vote: 'n2', commitIndex: 2 }, entries: [], snapshot: null, sync: false });
      await storage.compact({ meta: { index: 1, term: 1, members: MEMBERS }, data: new Uint8Array([1]) });
    } finally {
      await storage.close();
    }
    // entries, commit only, commit only without permission, new term, new vote, entries, commit only,
    // the compaction's naming batch, then its trim of entry 1 (no fsync: see TRIM_BATCH_ENTRIES)
    expect(syncs).toEqual([true, false, true, true, true, true, false, true, false]);
  });
});

describe('LevelRaftStorage compaction: the covered entries deleted in slices after the naming batch', () => {
  let dir: string;
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const ENTRIES = 3 * TRIM_BATCH_ENTRIES + 7;

  /** A store holding entries 1..ENTRIES at term 1, loaded. */
  async function filled(): Promise<LevelRaftStorage> {
    dir = await makeTempDir();
    const storage = await LevelRaftStorage.open(dir);
    await storage.load();
    for (let from = 1; from <= ENTRIES; from += 100) {
      const entries: Entry[] = [];
      for (let i = from; i < from + 100 && i <= ENTRIES; i++) entries.push(normal(i, 1));
      await storage.save({ hardState: { term: 1, vote: 'n1', commitIndex: entries.at(-1)!.index }, entries, snapshot: null });
    }
    return storage;
  }

  async function entryKeysAtOrBelow(index: number): Promise<number> {
    let n = 0;
    await withRawLevel(dir, async (db) => {
      for await (const key of db.keys({ gte: entryKey(1), lte: entryKey(index) })) if (key) n++;
    });
    return n;
  }

  it('names the snapshot in a batch of its own; saves queued meanwhile run between the slices; nothing covered is left', async () => {
    const storage = await filled();
    const order: string[] = [];
    onBatchWrites(storage, (dels, sync) => order.push(dels > 0 ? `trim ${dels}${sync ? ' synced' : ''}` : sync ? 'synced' : 'unsynced'));
    const snapshotAt = ENTRIES - 5;
    try {
      await storage.compact({ meta: { index: snapshotAt, term: 1, members: MEMBERS }, data: new Uint8Array(100).fill(5) });
      expect(storage.trimming).toBe(true);
      // Saves as a busy node's Ready loop makes them: each queued before the previous slice ends.
      let next = ENTRIES + 1;
      while (storage.trimming) {
        await storage.save({ hardState: { term: 1, vote: 'n1', commitIndex: next }, entries: [normal(next, 1)], snapshot: null });
        next++;
      }
    } finally {
      await storage.close();
    }
    const slices = order.filter((o) => o.startsWith('trim'));
    // The naming batch holds no delete; the slices are unsynced and TRIM_BATCH_ENTRIES at most.
    expect(order[0]).toBe('synced');
    expect(slices).toEqual([...Array<string>(3).fill(`trim ${TRIM_BATCH_ENTRIES}`), `trim ${snapshotAt - 3 * TRIM_BATCH_ENTRIES}`]);
    // A save ran between every two slices.
    for (let i = 1; i < order.length; i++)
      if (order[i]!.startsWith('trim')) expect(order[i - 1], `before slice at ${i}`).not.toMatch(/^trim/);
    expect(await entryKeysAtOrBelow(snapshotAt)).toBe(0);
    const state = await reload(dir);
    expect(state.snapshot?.meta.index).toBe(snapshotAt);
    expect(state.entries[0]?.index).toBe(snapshotAt + 1);
  });

  it('stops trimming at close(); the next load() skips what is left below the snapshot, and deletes it', async () => {
    const storage = await filled();
    const snapshotAt = ENTRIES - 5;
    await storage.compact({ meta: { index: snapshotAt, term: 1, members: MEMBERS }, data: new Uint8Array(100).fill(5) });
    await storage.close();
    // The slice under way when close() came ran; the rest did not.
    const left = await entryKeysAtOrBelow(snapshotAt);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(snapshotAt);
    const state = await reload(dir);
    expect(state.snapshot?.meta.index).toBe(snapshotAt);
    expect(state.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5].map((i) => snapshotAt + i));
    expect(await entryKeysAtOrBelow(snapshotAt)).toBe(0);
  });

  it('loads a store with a covered entry that a crash left damaged: the snapshot covers it, so it is not read', async () => {
    const storage = await filled();
    await storage.compact({ meta: { index: 100, term: 1, members: MEMBERS }, data: new Uint8Array(100).fill(5) });
    await storage.close();
    await withRawLevel(dir, (db) => db.put(entryKey(3), new Uint8Array([1, 2, 3])));
    const state = await reload(dir);
    expect(state.entries[0]?.index).toBe(101);
    expect(await entryKeysAtOrBelow(100)).toBe(0);
  });
});

describe('SnapshotFileWriter', () => {
  let dir: string;
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('flushes every SNAPSHOT_FLUSH_BYTES as the pieces come, not only at finish(), and keeps every byte', async () => {
    dir = await makeTempDir();
    const writer = await SnapshotFileWriter.create(dir, 9, 2);
    const piece = SNAPSHOT_FLUSH_BYTES / 4;
    const pieces = 4 * 3 + 2;
    const expected = new Uint8Array(piece * pieces);
    for (let i = 0; i < pieces; i++) {
      const bytes = new Uint8Array(piece).fill(i + 1);
      expected.set(bytes, i * piece);
      await writer.write(bytes);
      expect(writer.flushes, `after piece ${i + 1}`).toBe(Math.floor(((i + 1) * piece) / SNAPSHOT_FLUSH_BYTES));
    }
    const ref = await writer.finish();
    expect(ref.dataBytes).toBe(expected.length);
    expect(new Uint8Array(await readFile(join(dir, ref.file)))).toEqual(expected);
  });
});
