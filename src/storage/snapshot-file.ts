// Snapshot data lives in a file of its own in the data directory, next to the
// LevelDB files (which LevelDB leaves alone: it only touches names it made).
//
// Why not LevelDB values (format 1 did that, in chunks): a snapshot is rewritten
// whole every snapshotThresholdEntries entries, and at 100,000 retained
// transactions it is ~20 MB. Through LevelDB that meant a 20 MB write batch, a
// memtable of the same size, and compactions copying it again and again: about
// 150 MB more resident memory per node (glibc keeps what LevelDB's threads
// freed) and a disk busy with rewrites while fsyncs wait behind them. A file is
// written once and deleted once.
//
// Crash safety: the file is written under a temporary name, fsynced, renamed to
// its final (unique) name and the directory fsynced, and only then does the
// synced LevelDB batch that names it in the snapshot meta commit the switch.
// A crash before that batch leaves an orphan file, which load() removes; the
// old file is deleted only after the batch is durable.
//
// The core sends a lagging follower the snapshot from its file (SnapshotFileBytes),
// not from a copy in memory: a copy was the size of the whole state (7 MB at
// 100,000 retained transactions) on every node, for a transfer that rarely runs.
import { randomBytes } from 'node:crypto';
import { close, openSync, readSync } from 'node:fs';
import { open, readdir, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { RatifyError } from '../errors.js';
import type { SnapshotBytes } from '../raft/types.js';
import { dataCorrupt } from './record.js';

/** Where the meta record points: file name in the data directory, size and CRC32 of the data. */
export interface SnapshotFileRef {
  readonly file: string;
  readonly dataBytes: number;
  readonly crc: number;
}

const FILE_PATTERN = /^snapshot-[0-9a-f]{16}-[0-9a-f]{16}-[0-9a-f]{8}\.bin$/;
const TMP_SUFFIX = '.tmp';

export function isSnapshotFileName(name: string): boolean {
  return FILE_PATTERN.test(name);
}

/** Writes `data` durably under a new name; the caller then commits the name in a synced batch. */
export async function writeSnapshotFile(dir: string, index: number, term: number, data: Uint8Array): Promise<SnapshotFileRef> {
  const writer = await SnapshotFileWriter.create(dir, index, term);
  try {
    await writer.write(data);
  } catch (e) {
    await writer.discard();
    throw e;
  }
  return writer.finish();
}

/**
 * Bytes a writer lets reach the file before it flushes them (fdatasync), as it
 * goes rather than all at finish(). WHY: finish()'s one fsync of a whole
 * snapshot (8 MiB at 100,000 retained transactions) took 6-7 ms on the
 * benchmark machine, and the node's log fsyncs, one per Ready on every
 * proposal's path, waited for the disk behind it; flushed a MiB at a time,
 * a log fsync waits for one MiB at most (scripts/bench/results/README.md, "The
 * log's prefix deleted in slices"). The flushes make nothing durable that
 * matters before finish(): the file has no name anyone reads until then.
 */
export const SNAPSHOT_FLUSH_BYTES = 1024 * 1024;

/**
 * A snapshot file written piece by piece under its temporary name (a local
 * snapshot as it is encoded), then made durable under its final name by
 * finish(); discard() removes it instead. The CRC32 is computed as the bytes go.
 */
export class SnapshotFileWriter {
  private bytes = 0;
  private crc = 0;
  private closed = false;
  /** Written since the last flush (SNAPSHOT_FLUSH_BYTES). */
  private unflushed = 0;
  /** Flushes made before finish() (tests). */
  flushes = 0;

  private constructor(
    private readonly dir: string,
    private readonly handle: FileHandle,
    private readonly file: string,
  ) {}

  static async create(dir: string, index: number, term: number): Promise<SnapshotFileWriter> {
    // Unique even for the same index and term: the file the durable meta names is never overwritten.
    const file = `snapshot-${hex16(index)}-${hex16(term)}-${randomBytes(4).toString('hex')}.bin`;
    const handle = await open(join(dir, file + TMP_SUFFIX), 'wx');
    return new SnapshotFileWriter(dir, handle, file);
  }

  async write(piece: Uint8Array): Promise<void> {
    if (this.closed) throw new RatifyError('INTERNAL', `snapshot file ${this.file}: write after finish() or discard()`);
    for (let done = 0; done < piece.byteLength; ) {
      const { bytesWritten } = await this.handle.write(piece, done, piece.byteLength - done, this.bytes + done);
      done += bytesWritten;
    }
    this.crc = crc32(piece, this.crc);
    this.bytes += piece.byteLength;
    this.unflushed += piece.byteLength;
    if (this.unflushed >= SNAPSHOT_FLUSH_BYTES) {
      this.unflushed = 0;
      this.flushes++;
      await this.handle.datasync();
    }
  }

  /** fsync, the final name, and the directory's fsync; on failure the temporary file is removed. */
  async finish(): Promise<SnapshotFileRef> {
    if (this.closed) throw new RatifyError('INTERNAL', `snapshot file ${this.file}: finish() after finish() or discard()`);
    this.closed = true;
    const tmp = join(this.dir, this.file + TMP_SUFFIX);
    try {
      try {
        await this.handle.sync();
      } finally {
        await this.handle.close();
      }
      await rename(tmp, join(this.dir, this.file));
      await syncDirectory(this.dir);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    return { file: this.file, dataBytes: this.bytes, crc: this.crc };
  }

  /** Closes and removes the temporary file; a no-op after finish() or discard(). */
  async discard(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close().catch(() => undefined);
    await unlink(join(this.dir, this.file + TMP_SUFFIX)).catch(() => undefined);
  }
}

/** Reads and verifies a snapshot file; DATA_CORRUPT names the file and the failed check. */
export async function readSnapshotFile(dir: string, ref: SnapshotFileRef): Promise<Uint8Array> {
  const path = pathOf(dir, ref);
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (e) {
    throw dataCorrupt(ref.file, 'snapshot file named by the snapshot meta cannot be read', e);
  }
  if (data.byteLength !== ref.dataBytes)
    throw dataCorrupt(ref.file, `snapshot file holds ${data.byteLength} bytes, meta says ${ref.dataBytes}`);
  const crc = crc32(data);
  if (crc !== ref.crc) throw dataCorrupt(ref.file, `checksum mismatch (stored ${hex8(ref.crc)}, computed ${hex8(crc)})`);
  // A plain Uint8Array like the other stored bytes; a view when the Buffer owns its memory, else a copy (a
  // small read may sit in Node's shared Buffer pool, which the snapshot would then keep alive).
  return data.buffer.byteLength === data.byteLength ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
}

/** Closes the file of a reader nobody can reach any more (see SnapshotFileBytes). */
const openReaders = new FinalizationRegistry<number>((fd) => close(fd, () => undefined));

/**
 * A snapshot file's bytes, read on demand (the core's SnapshotBytes). The file
 * stays open for as long as the reader is reachable, so a transfer still sending
 * this snapshot reads on after a newer one replaced and deleted it. It is never
 * closed by hand: a descriptor closed while a transfer holds the reader, and then
 * reused for another file, would send that file's bytes.
 *
 * Reads are synchronous (the core is): one chunk (snapshotChunkBytes, 1 MiB by
 * default) per call, from the page cache as a rule, while a follower catches up.
 * The file's CRC32 is checked as the bytes are first read in order, before the
 * last of them is handed out: a file that rotted on disk since it was written
 * fails with DATA_CORRUPT, which stops the node, rather than reach a follower.
 */
export class SnapshotFileBytes implements SnapshotBytes {
  /** Bytes [0, checkedTo) have been read in order, and `crc` is their CRC32. */
  private checkedTo = 0;
  private crc = 0;

  private constructor(
    private readonly fd: number,
    private readonly ref: SnapshotFileRef,
  ) {}

  /**
   * A reader over the file `ref` names in `dir`, which the caller just wrote or
   * verified, or `inMemory` (the same bytes) if the file cannot be opened (no
   * descriptor left, say): sending from memory costs memory, never correctness.
   */
  static openOr(dir: string, ref: SnapshotFileRef, inMemory: Uint8Array): SnapshotBytes {
    try {
      return SnapshotFileBytes.open(dir, ref);
    } catch {
      return inMemory;
    }
  }

  /**
   * A reader over the file `ref` names in `dir`, which the caller just wrote,
   * or its bytes read whole and verified if it cannot be opened that way (the
   * same fallback as openOr, for a snapshot written piece by piece: no copy in
   * memory to fall back on).
   */
  static async openOrRead(dir: string, ref: SnapshotFileRef): Promise<SnapshotBytes> {
    try {
      return SnapshotFileBytes.open(dir, ref);
    } catch {
      return readSnapshotFile(dir, ref);
    }
  }

  /** Opens the file `ref` names in `dir` (it must exist: the caller just wrote or verified it). */
  static open(dir: string, ref: SnapshotFileRef): SnapshotFileBytes {
    const path = pathOf(dir, ref);
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw dataCorrupt(ref.file, 'snapshot file cannot be opened', e);
    }
    const reader = new SnapshotFileBytes(fd, ref);
    openReaders.register(reader, fd);
    return reader;
  }

  get byteLength(): number {
    return this.ref.dataBytes;
  }

  subarray(begin: number, end: number): Uint8Array {
    if (!(Number.isSafeInteger(begin) && Number.isSafeInteger(end) && begin >= 0 && begin <= end && end <= this.byteLength)) {
      throw new RangeError(`snapshot bytes [${begin}, ${end}) outside [0, ${this.byteLength})`);
    }
    const out = new Uint8Array(end - begin);
    for (let done = 0; done < out.byteLength; ) {
      let n: number;
      try {
        n = readSync(this.fd, out, done, out.byteLength - done, begin + done);
      } catch (e) {
        throw dataCorrupt(this.ref.file, 'snapshot file cannot be read', e);
      }
      if (n === 0) throw dataCorrupt(this.ref.file, `snapshot file ends before byte ${begin + done} of ${this.byteLength}`);
      done += n;
    }
    if (begin === this.checkedTo && end > begin) this.check(out, end);
    return out;
  }

  private check(bytes: Uint8Array, end: number): void {
    this.crc = crc32(bytes, this.crc);
    this.checkedTo = end;
    if (end === this.byteLength && this.crc !== this.ref.crc)
      throw dataCorrupt(this.ref.file, `checksum mismatch (stored ${hex8(this.ref.crc)}, computed ${hex8(this.crc)})`);
  }
}

/** The file `ref` names, in `dir`; DATA_CORRUPT if the meta names something that is not a snapshot file. */
function pathOf(dir: string, ref: SnapshotFileRef): string {
  if (!isSnapshotFileName(ref.file)) throw dataCorrupt('snapshot meta', `names ${JSON.stringify(ref.file)}, not a snapshot file`);
  return join(dir, ref.file);
}

/** Deletes every snapshot file (and leftover temporary file) but `keep`: orphans of a crash, or replaced snapshots. */
export async function removeSnapshotFiles(dir: string, keep: string | null): Promise<void> {
  for (const name of await readdir(dir)) {
    const base = name.endsWith(TMP_SUFFIX) ? name.slice(0, -TMP_SUFFIX.length) : name;
    if (name !== keep && isSnapshotFileName(base)) await unlink(join(dir, name)).catch(() => undefined);
  }
}

/** Deletes one file if it exists. */
export async function removeSnapshotFile(dir: string, file: string): Promise<void> {
  await unlink(join(dir, file)).catch(() => undefined);
}

/** Makes a rename in `dir` durable (Linux: fsync on the directory). */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function hex16(n: number): string {
  return n.toString(16).padStart(16, '0');
}

function hex8(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
