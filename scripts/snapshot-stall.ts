// Snapshot stall: how long a node's saves wait while the storage writes and
// commits a local snapshot (LevelRaftStorage), on this machine's disk. Each
// round fills the log with a threshold's worth of entries (as the node does
// between two snapshots), then writes a snapshot file of --mib MiB in 256 KiB
// pieces (as the slicer does) and commits it, while a loop makes saves of one
// entry one after another, as a busy node's Ready loop does, until the commit
// is done and at least 200 ms have passed. A save that waits for the commit (or
// for the disk behind it) holds every write in flight through that node.
//
//   npm run build && node dist/scripts/snapshot-stall.js [--mib 8] [--entries 10000] [--rounds 8]
//
// Prints, per round, the snapshot's duration and the saves' quantiles, then
// all rounds' saves together. Data goes to a temporary directory, removed at
// the end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Entry, Member } from '../src/raft/types.js';
import { LevelRaftStorage } from '../src/storage/leveldb-storage.js';

const PIECE_BYTES = 256 * 1024;
const SAVES_MS = 200;
const ENTRY_BYTES = 200;
const FILL_BATCH = 20;
const MEMBERS: readonly Member[] = [{ id: 'n1', url: 'http://127.0.0.1:4001', voter: true }];

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? Number.NaN;
}

function summary(latencies: readonly number[]): string {
  const s = [...latencies].sort((a, b) => a - b);
  return `p50 ${quantile(s, 0.5).toFixed(2)} p90 ${quantile(s, 0.9).toFixed(2)} p99 ${quantile(s, 0.99).toFixed(2)} max ${(s.at(-1) ?? Number.NaN).toFixed(1)} ms`;
}

function intOption(value: string | undefined, name: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`--${name} must be an integer in ${min}..${max}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      mib: { type: 'string', default: '8' },
      entries: { type: 'string', default: '10000' },
      rounds: { type: 'string', default: '8' },
    },
  });
  const snapshotBytes = intOption(values.mib, 'mib', 1, 256) * 1024 * 1024;
  const entriesPerRound = intOption(values.entries, 'entries', FILL_BATCH, 1_000_000);
  const rounds = intOption(values.rounds, 'rounds', 1, 100);
  const dir = mkdtempSync(join(tmpdir(), 'ratify-snapshot-stall-'));
  const storage = await LevelRaftStorage.open(dir);
  try {
    await storage.load();
    const data = new Uint8Array(ENTRY_BYTES).fill(7);
    let last = 0;
    const saveOne = async (): Promise<void> => {
      const entry: Entry = { kind: 'normal', index: ++last, term: 1, data };
      await storage.save({ hardState: { term: 1, vote: 'n1', commitIndex: last }, entries: [entry], snapshot: null });
    };
    const all: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      for (let n = 0; n < entriesPerRound; n += FILL_BATCH) {
        const entries: Entry[] = [];
        for (let i = 0; i < FILL_BATCH; i++) entries.push({ kind: 'normal', index: ++last, term: 1, data });
        await storage.save({ hardState: { term: 1, vote: 'n1', commitIndex: last }, entries, snapshot: null });
      }
      // The file written and committed while the saves go on, as a node's slicer writes it.
      const t0 = performance.now();
      let done = false;
      const snapshot = (async (): Promise<{ readonly totalMs: number; readonly commitMs: number }> => {
        const writer = storage.snapshotWriter({ index: last, term: 1, members: MEMBERS });
        const piece = new Uint8Array(PIECE_BYTES).fill(round);
        for (let written = 0; written < snapshotBytes; written += PIECE_BYTES) await writer.write(piece);
        const c0 = performance.now();
        await writer.commit();
        const end = performance.now();
        return { totalMs: end - t0, commitMs: end - c0 };
      })().finally(() => {
        done = true;
      });
      const latencies: number[] = [];
      while (!done || performance.now() - t0 < SAVES_MS) {
        const t = performance.now();
        await saveOne();
        latencies.push(performance.now() - t);
      }
      const { totalMs, commitMs } = await snapshot;
      all.push(...latencies);
      process.stdout.write(
        `round ${round}: file written and committed in ${totalMs.toFixed(0)} ms (commit() ${commitMs.toFixed(1)} ms); ${latencies.length} saves in ${(performance.now() - t0).toFixed(0)} ms from its start: ${summary(latencies)}\n`,
      );
    }
    process.stdout.write(`all rounds: ${all.length} saves, ${summary(all)}\n`);
  } finally {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
