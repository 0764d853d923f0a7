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
import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
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
  // Unique even for the same index and term: the file the durable meta names is never overwritten.
  const file = `snapshot-${hex16(index)}-${hex16(term)}-${randomBytes(4).toString('hex')}.bin`;
  const tmp = join(dir, file + TMP_SUFFIX);
  try {
    const handle = await open(tmp, 'wx');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, join(dir, file));
    await syncDirectory(dir);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  return { file, dataBytes: data.byteLength, crc: crc32(data) };
}

/** Reads and verifies a snapshot file; DATA_CORRUPT names the file and the failed check. */
export async function readSnapshotFile(dir: string, ref: SnapshotFileRef): Promise<Uint8Array> {
  if (!isSnapshotFileName(ref.file)) throw dataCorrupt(`snapshot meta`, `names ${JSON.stringify(ref.file)}, not a snapshot file`);
  let data: Buffer;
  try {
    data = await readFile(join(dir, ref.file));
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
