// Test harnesses that give the storage contract suite a fresh store and a way
// to "restart" it: close and reopen the same directory (LevelDB), or build a
// new instance over the same backing object (memory).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { LevelRaftStorage } from '../../src/storage/leveldb-storage.js';
import { MemoryRaftStorage } from '../../src/storage/memory-storage.js';
import type { RaftStorage } from '../../src/storage/raft-storage.js';

export interface StorageHarness {
  open(): Promise<RaftStorage>;
  restart(old: RaftStorage): Promise<RaftStorage>;
  /** Closes whatever is still open and removes temp files; safe to call twice. */
  cleanup(): Promise<void>;
}

export type HarnessFactory = () => Promise<StorageHarness>;

export async function makeTempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'ratify-storage-'));
}

export function levelHarness(): HarnessFactory {
  return async () => {
    const dir = await makeTempDir();
    const open = new Set<RaftStorage>();
    const openOne = async (): Promise<RaftStorage> => {
      const s = await LevelRaftStorage.open(dir);
      open.add(s);
      return s;
    };
    return {
      open: openOne,
      async restart(old) {
        await old.close();
        open.delete(old);
        return openOne();
      },
      async cleanup() {
        for (const s of open) await s.close();
        open.clear();
        await rm(dir, { recursive: true, force: true });
      },
    };
  };
}

export function memoryHarness(): HarnessFactory {
  return async () => {
    return {
      async open() {
        return new MemoryRaftStorage();
      },
      async restart(old) {
        await old.close();
        return new MemoryRaftStorage((old as MemoryRaftStorage).backing);
      },
      async cleanup() {},
    };
  };
}

/** Raw access to a closed LevelDB data dir, for corrupting it on purpose. */
export async function withRawLevel(dir: string, fn: (db: Level<string, Uint8Array>) => Promise<void>): Promise<void> {
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  await db.open();
  try {
    await fn(db);
  } finally {
    await db.close();
  }
}
