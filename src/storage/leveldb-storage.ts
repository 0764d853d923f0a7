// Durable RaftStorage on LevelDB. Key layout: level-keys.ts; write rules:
// save-plan.ts; verification on load: level-reader.ts and verify-state.ts.
//
// Every save() and compact() is ONE LevelDB batch, so term, vote, entries,
// truncation and snapshot meta land together or not at all; snapshot data goes
// to a file first, durably, and the batch naming it is the commit point
// (snapshot-file.ts says why and how). The batch is written with
// sync: true unless the caller allows otherwise and mustSync() agrees (only the
// commit index changed). LevelDB appends every batch to one log in call order
// and an fsync covers all that precedes it, so a machine crash can lose only a
// suffix of unsynced commit-index writes: what is left is always the state
// after some earlier save, and each of those passed checkHardState().
// Calls are serialized internally: a compaction racing a save must not plan
// its deletes from bounds the other call is about to change. Only a local
// snapshot's file (compact(), snapshotWriter()) is written before it joins the
// queue (it names no state yet). A local snapshot's batch names the snapshot
// only; the entries it covers are deleted after it, a slice at a time (trim).
import { Level } from 'level';
import { RatifyError } from '../errors.js';
import type { HardState, Snapshot, SnapshotBytes, SnapshotMeta } from '../raft/types.js';
import { CHUNK_PREFIX, FORMAT_KEY, FORMAT_VERSION, HARD_STATE_KEY, SNAPSHOT_META_KEY, entryKey, prefixRange } from './level-keys.js';
import { readLevelState } from './level-reader.js';
import type { RaftStorage, SaveBatch, SnapshotWriter, StoredState } from './raft-storage.js';
import {
  EMPTY_BOUNDS,
  EMPTY_HARD_STATE,
  mustSync,
  planCompact,
  planSave,
  termFromBounds,
  type LogBounds,
  type WritePlan,
} from './save-plan.js';
import {
  readSnapshotFile,
  removeSnapshotFile,
  removeSnapshotFiles,
  SnapshotFileBytes,
  SnapshotFileWriter,
  writeSnapshotFile,
  type SnapshotFileRef,
} from './snapshot-file.js';
import { decodeEntryRecord, encodeEntryRecord, encodeFormat, encodeHardState, encodeSnapshotMeta } from './stored-records.js';
import { verifyStoredState } from './verify-state.js';

/**
 * LevelDB's memory, smaller than its defaults (an 8 MiB block cache, a 4 MiB
 * memtable, and a second one while it is flushed): a node reads its log back
 * only at start (the Raft core keeps the entries it needs in memory), so a
 * cache serves almost nothing, and the memtable only has to absorb the writes
 * of a few Readys at a time. Both are malloc'd, so they showed in each node's
 * resident memory (scripts/memory-probe.ts) with no read to speed up.
 */
export const LEVEL_MEMORY_OPTIONS = { cacheSize: 1024 * 1024, writeBufferSize: 1024 * 1024 } as const;

/**
 * Entries deleted per batch when a local snapshot has compacted the log.
 * WHY not in the batch that names the snapshot: deleting the whole covered
 * prefix there (10,000 entries at the default threshold) held the storage's
 * queue for 10-25 ms on the benchmark machine, with every save (each
 * proposal's fsync) behind it, on every node once per threshold
 * (scripts/bench/results/README.md, "The log's prefix deleted in slices").
 * Each slice is its own unsynced batch, queued behind whatever came in
 * meanwhile, so a save waits for one slice at most. The deletes need no sync
 * and no atomicity: entries at or below the durable snapshot's index are
 * never read again, and load() deletes any that a crash left.
 */
export const TRIM_BATCH_ENTRIES = 500;

type Op = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

interface Loaded {
  readonly bounds: LogBounds;
  readonly hardState: HardState;
  /** 1 until this directory's first format 2 snapshot is written. */
  readonly format: number;
  /** The snapshot file the durable meta names (format 2), or null. */
  readonly snapshotFile: string | null;
}

export class LevelRaftStorage implements RaftStorage {
  /** Null until load(): writes are planned from verified bounds only. */
  private loaded: Loaded | null = null;
  private closed = false;
  private tail: Promise<unknown> = Promise.resolve();
  /** Slices of trim() queued or running. */
  private trimsInFlight = 0;

  private constructor(
    private readonly db: Level<string, Uint8Array>,
    private readonly dir: string,
  ) {}

  static async open(dir: string): Promise<LevelRaftStorage> {
    const db = new Level<string, Uint8Array>(dir, {
      keyEncoding: 'utf8',
      valueEncoding: 'view',
      ...LEVEL_MEMORY_OPTIONS,
    });
    try {
      await db.open();
    } catch (cause) {
      throw openError(dir, cause);
    }
    return new LevelRaftStorage(db, dir);
  }

  load(): Promise<StoredState> {
    return this.serialized(async () => {
      const read = await readLevelState(this.db, this.dir);
      if (read === null) {
        await this.write([{ type: 'put', key: FORMAT_KEY, value: encodeFormat(FORMAT_VERSION) }], true);
        await removeSnapshotFiles(this.dir, null);
        this.loaded = { bounds: EMPTY_BOUNDS, hardState: EMPTY_HARD_STATE, format: FORMAT_VERSION, snapshotFile: null };
        return { hardState: EMPTY_HARD_STATE, snapshot: null, entries: [] };
      }
      const { state, format, snapshotFile, compactedEntries } = read;
      const bounds = verifyStoredState(state);
      // What a crash left of a trim (see TRIM_BATCH_ENTRIES); no node is waiting on a save yet.
      if (compactedEntries.length > 0)
        await this.write(
          compactedEntries.map((i) => ({ type: 'del', key: entryKey(i) })),
          true,
        );
      // Files a crash left behind: written but never named by a durable meta, or replaced but not yet deleted.
      await removeSnapshotFiles(this.dir, snapshotFile?.file ?? null);
      this.loaded = { bounds, hardState: state.hardState, format, snapshotFile: snapshotFile?.file ?? null };
      if (snapshotFile === null || state.snapshot === null) return state;
      return { ...state, sendable: SnapshotFileBytes.openOr(this.dir, snapshotFile, state.snapshot.data) };
    });
  }

  save(batch: SaveBatch): Promise<SnapshotBytes | null> {
    return this.serialized(async () => {
      const loaded = this.requireLoaded('save');
      const term = batch.snapshot === null ? null : await this.termAt(loaded.bounds, batch.snapshot.meta.index);
      const plan = planSave(loaded.bounds, loaded.hardState, batch, term);
      const ops = this.deleteOps(plan);
      for (const entry of batch.entries) ops.push({ type: 'put', key: entryKey(entry.index), value: encodeEntryRecord(entry) });
      if (batch.hardState !== null) ops.push({ type: 'put', key: HARD_STATE_KEY, value: encodeHardState(batch.hardState) });
      const sync = batch.sync !== false || mustSync(loaded.hardState, batch);
      if (batch.snapshot === null) {
        await this.write(ops, sync);
        this.loaded = { ...this.loaded!, bounds: plan.bounds, hardState: plan.hardState };
        return null;
      }
      const ref = await this.writeWithSnapshot(batch.snapshot, ops);
      this.loaded = { ...this.loaded!, bounds: plan.bounds, hardState: plan.hardState, snapshotFile: ref.file };
      // As in compact(): opened before the next snapshot's batch can delete the file.
      return SnapshotFileBytes.openOr(this.dir, ref, batch.snapshot.data);
    });
  }

  async compact(snapshot: Snapshot): Promise<SnapshotBytes> {
    const writer = this.snapshotWriter(snapshot.meta);
    try {
      await writer.write(snapshot.data);
    } catch (e) {
      await writer.abort();
      throw e;
    }
    return writer.commit();
  }

  snapshotWriter(meta: SnapshotMeta): SnapshotWriter {
    this.requireLoaded('snapshotWriter');
    // The file is written outside the serialized section: it changes no log state
    // until a batch names it, and saves (every proposal's fsync) need not queue
    // behind megabytes reaching the disk. The node compacts in the background.
    let file: Promise<SnapshotFileWriter> | null = null;
    let state: 'open' | 'committing' | 'done' = 'open';
    const opened = (): Promise<SnapshotFileWriter> => {
      if (this.closed) return Promise.reject(new RatifyError('SHUTTING_DOWN', `storage at ${this.dir} is closed`));
      file ??= SnapshotFileWriter.create(this.dir, meta.index, meta.term);
      return file;
    };
    const usable = (op: string): void => {
      if (state !== 'open') throw new RatifyError('INTERNAL', `snapshot writer of ${meta.index}: ${op} after commit() or abort()`);
    };
    return {
      write: async (piece) => {
        usable('write()');
        await (await opened()).write(piece);
      },
      commit: async () => {
        usable('commit()');
        state = 'committing';
        try {
          return await this.commitSnapshotFile(meta, await (await opened()).finish());
        } finally {
          state = 'done';
        }
      },
      abort: async () => {
        if (state !== 'open') return;
        state = 'done';
        const writing = await file?.catch(() => null);
        await writing?.discard();
      },
    };
  }

  /** Names the durable file `ref` of a local snapshot at `meta` and deletes the log up to it: compact()'s commit point. */
  private commitSnapshotFile(meta: SnapshotMeta, ref: SnapshotFileRef): Promise<SnapshotBytes> {
    return this.serialized(async () => {
      const { bounds, hardState } = this.requireLoaded('compact');
      if (meta.index < bounds.snapshotIndex) {
        // A snapshot installed from the leader while the file was written is newer: the
        // caller drops this one (BackgroundSnapshots.takeDurable); the bytes, read back
        // once, are what it is owed.
        const bytes = await readSnapshotFile(this.dir, ref);
        await removeSnapshotFile(this.dir, ref.file);
        return bytes;
      }
      const term = await this.termAt(bounds, meta.index);
      const plan = planCompact(bounds, hardState, meta, term);
      const snapshotFile = await this.nameSnapshot(meta, ref, []);
      this.loaded = { ...this.loaded!, bounds: plan.bounds, hardState: plan.hardState, snapshotFile };
      for (const { from, to } of plan.deletes) this.trim(from, to);
      // Opened before anything else runs in this section: only the next snapshot's batch deletes the file.
      return SnapshotFileBytes.openOrRead(this.dir, ref);
    });
  }

  /** Writes the snapshot's file, then names it (see nameSnapshot). Returns the new file. */
  private async writeWithSnapshot(snapshot: Snapshot, ops: Op[]): Promise<SnapshotFileRef> {
    this.requireLoaded('write a snapshot');
    const ref = await writeSnapshotFile(this.dir, snapshot.meta.index, snapshot.meta.term, snapshot.data);
    await this.nameSnapshot(snapshot.meta, ref, ops);
    return ref;
  }

  /**
   * Writes `ops` plus the meta naming the durable file `ref` in one synced batch
   * (the commit point), then deletes the file it replaced. A format 1 directory
   * becomes format 2 in that batch, which also deletes its chunks.
   */
  private async nameSnapshot(meta: SnapshotMeta, ref: SnapshotFileRef, ops: Op[]): Promise<string> {
    const loaded = this.requireLoaded('write a snapshot');
    ops.push({ type: 'put', key: SNAPSHOT_META_KEY, value: encodeSnapshotMeta(meta, ref) });
    if (loaded.format !== FORMAT_VERSION) {
      for await (const key of this.db.keys(prefixRange(CHUNK_PREFIX))) ops.push({ type: 'del', key });
      ops.push({ type: 'put', key: FORMAT_KEY, value: encodeFormat(FORMAT_VERSION) });
    }
    // If this fails the new file stays: a failed write may still reach the disk, and then its meta
    // names the file. load() deletes it if it turns out to be an orphan.
    await this.write(ops, true);
    this.loaded = { ...loaded, format: FORMAT_VERSION };
    if (loaded.snapshotFile !== null) await removeSnapshotFile(this.dir, loaded.snapshotFile);
    return ref.file;
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

  /**
   * Deletes entries [from, to], all covered by the durable snapshot, one slice
   * of TRIM_BATCH_ENTRIES at a time: each slice joins the queue only when the
   * previous one is done, so saves queued meanwhile go first. Stops at close()
   * or at a failed write; load() deletes what is left.
   */
  private trim(from: number, to: number): void {
    if (from > to || this.closed) return;
    const last = Math.min(to, from + TRIM_BATCH_ENTRIES - 1);
    this.trimsInFlight++;
    this.serialized(() => this.write(this.deleteOps({ deletes: [{ from, to: last }] }), false))
      .then(
        () => this.trim(last + 1, to),
        // A failed delete changes nothing that is read (see TRIM_BATCH_ENTRIES); a failing disk
        // fails the next save, which the node does not survive.
        () => undefined,
      )
      .finally(() => this.trimsInFlight--);
  }

  /** Whether compacted entries are still being deleted (tests). */
  get trimming(): boolean {
    return this.trimsInFlight > 0;
  }

  private deleteOps(plan: Pick<WritePlan, 'deletes'>): Op[] {
    const ops: Op[] = [];
    for (const { from, to } of plan.deletes) {
      for (let i = from; i <= to; i++) ops.push({ type: 'del', key: entryKey(i) });
    }
    return ops;
  }

  /**
   * One atomic write through a chained batch: the same LevelDB WriteBatch as
   * db.batch(array), but abstract-level's array path clones and re-validates
   * every operation first, which cost 4-5x the main-thread time (measured: about
   * 150 us against 35 us for a batch of 18 entries) on every Ready of every node.
   */
  private async write(ops: Op[], sync: boolean): Promise<void> {
    const batch = this.db.batch();
    try {
      for (const op of ops) {
        if (op.type === 'put') batch.put(op.key, op.value);
        else batch.del(op.key);
      }
      await batch.write({ sync });
    } catch (cause) {
      await batch.close().catch(() => undefined); // idempotent; write() closes it itself
      throw new RatifyError('INTERNAL', `storage: ${sync ? 'synced ' : ''}write of ${ops.length} operations to ${this.dir} failed`, {
        cause,
      });
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
