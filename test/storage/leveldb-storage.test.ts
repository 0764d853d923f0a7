// LevelDB-only integrity checks: damage a closed data directory on purpose and
// expect load() to refuse it with DATA_CORRUPT naming the record and the check.
import { rm } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRatifyError, type ErrorCode } from '../../src/errors.js';
import type { Entry, Member } from '../../src/raft/types.js';
import { FORMAT_KEY, HARD_STATE_KEY, SNAPSHOT_META_KEY, chunkKey, entryKey } from '../../src/storage/level-keys.js';
import { LevelRaftStorage } from '../../src/storage/leveldb-storage.js';
import { encodeEntryRecord, encodeFormat, encodeHardState } from '../../src/storage/stored-records.js';
import { makeTempDir, withRawLevel } from './harness.js';

const MEMBERS: Member[] = [{ id: 'n1', url: 'http://127.0.0.1:4001', voter: true }];

function normal(index: number, term: number): Entry {
  return { kind: 'normal', index, term, data: new Uint8Array([index, term, 0xab, 0xcd]) };
}

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

function expectError(err: unknown, code: ErrorCode, message: RegExp): void {
  expect(isRatifyError(err, code), `expected RatifyError ${code}, got ${String(err)}`).toBe(true);
  expect((err as Error).message).toMatch(message);
}

describe('LevelRaftStorage integrity', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await makeTempDir();
    // A store with a snapshot in 3 chunks, entries 5..9 and a hard state.
    const storage = await LevelRaftStorage.open(dir, { snapshotChunkBytes: 4096 });
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
    ['a snapshot chunk', chunkKey(1)],
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

  it('detects a missing snapshot chunk', async () => {
    await withRawLevel(dir, (db) => db.del(chunkKey(2)));
    expectError(await loadError(dir), 'DATA_CORRUPT', /s:00000002: missing snapshot chunk 2 of 3/);
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

  it('validates its options', async () => {
    const err = await LevelRaftStorage.open(dir, { snapshotChunkBytes: 10 }).catch((e: unknown) => e);
    expectError(err, 'CONFIG_INVALID', /snapshotChunkBytes \(10\) must be an integer between 4096 and 67108864/);
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
    const db = (storage as unknown as { db: { batch: (ops: unknown[], options: { sync: boolean }) => Promise<void> } }).db;
    const syncs: boolean[] = [];
    const batch = db.batch.bind(db);
    db.batch = async (ops, options) => {
      syncs.push(options.sync);
      return batch(ops, options);
    };
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
    // entries, commit only, commit only without permission, new term, new vote, entries, commit only, compaction
    expect(syncs).toEqual([true, false, true, true, true, true, false, true]);
  });
});
