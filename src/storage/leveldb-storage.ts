// Durable RaftStorage on LevelDB. Key layout: level-keys.ts; write rules:
// save-plan.ts; verification on load: level-reader.ts and verify-state.ts.
//
// Every save() and compact() is ONE LevelDB batch, so term, vote, entries,
// truncation and snapshot land together or not at all. It is written with
// sync: true unless the caller allows otherwise and mustSync() agrees (only the
// commit index changed). LevelDB appends every batch to one log in call order
// and an fsync covers all that precedes it, so a machine crash can lose only a
// suffix of unsynced commit-index writes: what is left is always the state
// after some earlier save, and each of those passed checkHardState().
// Calls are serialized internally: a compaction racing a save must not plan
// its deletes from bounds the other call is about to change.
import { Level } from 'level';
import { RatifyError } from '../errors.js';
import type { HardState, Snapshot } from '../raft/types.js';
import { checkRange } from '../transport/check-range.js';
import { CHUNK_PREFIX, FORMAT_KEY, FORMAT_VERSION, HARD_STATE_KEY, SNAPSHOT_META_KEY, chunkKey, entryKey, parseNumberedKey, prefixRange } from './level-keys.js';
import { readLevelState } from './level-reader.js';
import type { RaftStorage, SaveBatch, StoredState } from './raft-storage.js';
import { EMPTY_BOUNDS, EMPTY_HARD_STATE, mustSync, planCompact, planSave, termFromBounds, type LogBounds, type WritePlan } from './save-plan.js';
import { decodeEntryRecord, encodeEntryRecord, encodeFormat, encodeHardState, encodeSnapshotMeta } from './stored-records.js';
import { encodeRecord } from './record.js';
import { verifyStoredState } from './verify-state.js';

export interface LevelStorageOptions {
  /** Snapshot data is stored in values of at most this many bytes (LevelDB handles huge values poorly). */
  readonly snapshotChunkBytes?: number;
}

export const DEFAULT_SNAPSHOT_CHUNK_BYTES = 1024 * 1024;

type Op = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

interface Loaded {
  readonly bounds: LogBounds;
  readonly hardState: HardState;
}

export class LevelRaftStorage implements RaftStorage {
  /** Null until load(): writes are planned from verified bounds only. */
  private loaded: Loaded | null = null;
  private closed = false;
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly db: Level<string, Uint8Array>,
    private readonly dir: string,
    private readonly chunkBytes: number,
  ) {}

  static async open(dir: string, opts: LevelStorageOptions = {}): Promise<LevelRaftStorage> {
    const chunkBytes = opts.snapshotChunkBytes ?? DEFAULT_SNAPSHOT_CHUNK_BYTES;
    checkRange('snapshotChunkBytes', chunkBytes, 4096, 64 * 1024 * 1024);
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (cause) {
      throw openError(dir, cause);
    }
    return new LevelRaftStorage(db, dir, chunkBytes);
  }

  load(): Promise<StoredState> {
    return this.serialized(async () => {
      const state = await readLevelState(this.db);
      if (state === null) {
        await this.write([{ type: 'put', key: FORMAT_KEY, value: encodeFormat(FORMAT_VERSION) }], true);
        this.loaded = { bounds: EMPTY_BOUNDS, hardState: EMPTY_HARD_STATE };
        return { hardState: EMPTY_HARD_STATE, snapshot: null, entries: [] };
      }
      this.loaded = { bounds: verifyStoredState(state), hardState: state.hardState };
      return state;
    });
  }

  save(batch: SaveBatch): Promise<void> {
    return this.serialized(async () => {
      const { bounds, hardState } = this.requireLoaded('save');
      const term = batch.snapshot === null ? null : await this.termAt(bounds, batch.snapshot.meta.index);
      const plan = planSave(bounds, hardState, batch, term);
      const ops = this.deleteOps(plan);
      if (batch.snapshot !== null) ops.push(...(await this.snapshotOps(batch.snapshot)));
      for (const entry of batch.entries) ops.push({ type: 'put', key: entryKey(entry.index), value: encodeEntryRecord(entry) });
      if (batch.hardState !== null) ops.push({ type: 'put', key: HARD_STATE_KEY, value: encodeHardState(batch.hardState) });
      await this.write(ops, batch.sync !== false || mustSync(hardState, batch));
      this.loaded = { bounds: plan.bounds, hardState: plan.hardState };
    });
  }

  compact(snapshot: Snapshot): Promise<void> {
    return this.serialized(async () => {
      const { bounds, hardState } = this.requireLoaded('compact');
      const term = await this.termAt(bounds, snapshot.meta.index);
      const plan = planCompact(bounds, hardState, snapshot.meta, term);
      const ops = this.deleteOps(plan);
      ops.push(...(await this.snapshotOps(snapshot)));
      await this.write(ops, true);
      this.loaded = { bounds: plan.bounds, hardState: plan.hardState };
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail;
    await this.db.close();
  }

  /** Runs operations one at a time, in call order; a failed one does not block the next. */
  private serialized<T>(op: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new RatifyError('SHUTTING_DOWN', `storage at ${this.dir} is closed`));
    const result = this.tail.then(op, op);
    this.tail = result.catch(() => undefined);
    return result;
  }

  private requireLoaded(op: string): Loaded {
    if (this.loaded === null) throw new RatifyError('INTERNAL', `storage: load() must be called before ${op}()`);
    return this.loaded;
  }

  private async termAt(bounds: LogBounds, index: number): Promise<number | null> {
    const known = termFromBounds(bounds, index);
    if (known !== 'read') return known;
    const value = await this.db.get(entryKey(index));
    if (value === undefined) throw new RatifyError('DATA_CORRUPT', `data corrupt at ${entryKey(index)}: entry missing inside the log`);
    return decodeEntryRecord(index, value).term;
  }

  private deleteOps(plan: WritePlan): Op[] {
    const ops: Op[] = [];
    for (const { from, to } of plan.deletes) {
      for (let i = from; i <= to; i++) ops.push({ type: 'del', key: entryKey(i) });
    }
    return ops;
  }

  /** The snapshot's meta and chunks, plus deletion of chunks a larger previous snapshot left behind. */
  private async snapshotOps(snapshot: Snapshot): Promise<Op[]> {
    const { data, meta } = snapshot;
    const chunkCount = Math.ceil(data.byteLength / this.chunkBytes);
    const ops: Op[] = [
      { type: 'put', key: SNAPSHOT_META_KEY, value: encodeSnapshotMeta({ ...meta, dataBytes: data.byteLength, chunkCount }) },
    ];
    for (let n = 0; n < chunkCount; n++) {
      const chunk = data.subarray(n * this.chunkBytes, (n + 1) * this.chunkBytes);
      ops.push({ type: 'put', key: chunkKey(n), value: encodeRecord(chunk) });
    }
    for await (const key of this.db.keys(prefixRange(CHUNK_PREFIX))) {
      const n = parseNumberedKey(key, CHUNK_PREFIX);
      if (n === null || n >= chunkCount) ops.push({ type: 'del', key });
    }
    return ops;
  }

  private async write(ops: Op[], sync: boolean): Promise<void> {
    try {
      await this.db.batch(ops, { sync });
    } catch (cause) {
      throw new RatifyError('INTERNAL', `storage: ${sync ? 'synced ' : ''}write of ${ops.length} operations to ${this.dir} failed`, { cause });
    }
  }
}

function openError(dir: string, cause: unknown): RatifyError {
  const code = (cause as { cause?: { code?: unknown } } | null)?.cause?.code;
  if (code === 'LEVEL_LOCKED') {
    return new RatifyError(
      'CONFIG_INVALID',
      `data directory ${dir} is already in use (LevelDB lock held by another process or an open storage in this one)`,
      { cause },
    );
  }
  return new RatifyError('INTERNAL', `cannot open the data directory ${dir}`, { cause });
}
