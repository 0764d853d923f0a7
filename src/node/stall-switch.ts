// The storage side of the RATIFY_TEST_STALL_STORAGE_FILE test switch
// (test-switches.ts): while the file exists, log writes wait, as on a disk that
// stopped answering. Only ever wired in when the switch is honoured.
import { existsSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type { RaftStorage } from '../storage/raft-storage.js';

const POLL_MS = 50;

export function stallableStorage(inner: RaftStorage, file: string): RaftStorage {
  return {
    load: () => inner.load(),
    compact: (snapshot) => inner.compact(snapshot),
    snapshotWriter: (meta) => inner.snapshotWriter(meta),
    close: () => inner.close(),
    async save(batch) {
      while (existsSync(file)) await delay(POLL_MS);
      return inner.save(batch);
    },
  };
}
