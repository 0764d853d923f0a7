// Disk probe: how this machine's disk answers synced writes, with nothing of
// Ratify running. One loop appends 4 KiB to a file and fdatasyncs it, again and
// again, as a Raft log does, for --seconds; meanwhile the benchmark's
// DiskStallMonitor (scripts/bench/disk-stalls.ts) samples the device. Prints
// the syncs' quantiles, every sync that took --slow-ms or more, and the stalls
// the monitor saw: where the two lists agree, a slow sync was the device
// stalling, not the process.
//
//   npm run build && node dist/scripts/disk-probe.js [--seconds 30] [--slow-ms 30] [--prealloc]
//
// --prealloc writes over a file filled (and synced) beforehand, as etcd's WAL
// does with its preallocated segments, so a sync need not commit the file's new
// size to the filesystem's journal. The file goes to a temporary directory,
// removed at the end.
import { closeSync, fdatasyncSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DISK_STALL_MIN_MS, DiskStallMonitor } from './bench/disk-stalls.js';

const WRITE_BYTES = 4096;
const PREALLOC_BYTES = 256 * 1024 * 1024;

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? Number.NaN;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '30' },
      'slow-ms': { type: 'string', default: '30' },
      prealloc: { type: 'boolean', default: false },
    },
  });
  const seconds = Number(values.seconds);
  const slowMs = Number(values['slow-ms']);
  if (!(seconds > 0 && seconds <= 3600) || !(slowMs > 0)) throw new RangeError('--seconds must be in (0, 3600] and --slow-ms > 0');
  const dir = mkdtempSync(join(tmpdir(), 'ratify-disk-probe-'));
  const monitor = DiskStallMonitor.start(dir);
  try {
    if (monitor === null) console.log(`no block device found under ${dir}: syncs only, no device stalls`);
    else await monitor.whenSampling();
    const fd = openSync(join(dir, 'log'), 'w');
    const buf = Buffer.alloc(WRITE_BYTES, 0x61);
    if (values.prealloc) {
      const zeros = Buffer.alloc(1 << 20);
      for (let i = 0; i < PREALLOC_BYTES >> 20; i++) writeSync(fd, zeros);
      fsyncSync(fd);
    }
    const t0 = process.hrtime.bigint();
    const endNs = t0 + BigInt(Math.round(seconds * 1e9));
    const syncsMs: number[] = [];
    const slow: string[] = [];
    let pos = 0;
    // Synchronous on purpose: nothing else runs in this process, and the loop
    // must measure the disk, not an event loop's scheduling.
    for (let now = t0; now < endNs; now = process.hrtime.bigint()) {
      writeSync(fd, buf, 0, WRITE_BYTES, pos);
      pos = values.prealloc ? (pos + WRITE_BYTES) % PREALLOC_BYTES : pos + WRITE_BYTES;
      fdatasyncSync(fd);
      const ms = Number(process.hrtime.bigint() - now) / 1e6;
      syncsMs.push(ms);
      if (ms >= slowMs) slow.push(`${(Number(now - t0) / 1e9).toFixed(2)} s: ${ms.toFixed(0)} ms`);
    }
    closeSync(fd);
    syncsMs.sort((a, b) => a - b);
    const q = (p: number): string => quantile(syncsMs, p).toFixed(2);
    console.log(
      `${values.prealloc ? 'preallocated' : 'appending'}: ${syncsMs.length} synced ${WRITE_BYTES / 1024} KiB writes in ${seconds} s; ms p50 ${q(0.5)}, p99 ${q(0.99)}, p99.9 ${q(0.999)}, max ${q(1)}`,
    );
    console.log(`syncs of ${slowMs} ms or more: ${slow.length === 0 ? 'none' : slow.join(', ')}`);
    if (monitor !== null) {
      // A stall is reported when a completion ends it: give the last one a moment.
      await sleep(50);
      const stalls = monitor.between(t0, process.hrtime.bigint());
      const at = stalls.map((s) => `${((s.startNs - Number(t0)) / 1e9).toFixed(2)} s: ${s.busyMs} ms`);
      console.log(`device ${monitor.device} stalls of ${DISK_STALL_MIN_MS} ms or more: ${at.length === 0 ? 'none' : at.join(', ')}`);
      if (monitor.failed !== null) console.log(`device sampling stopped: ${monitor.failed}`);
    }
  } finally {
    await monitor?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
