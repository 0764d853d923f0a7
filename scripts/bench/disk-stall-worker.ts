// Worker-thread entry of DiskStallMonitor (disk-stalls.ts). WHY a thread: a
// reading every 2 ms on the load generator's own event loop would delay the
// operations it times, and a loop busy with them would sample late.
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { parseBlockStat, StallDetector, type StallWorkerMessage } from './disk-stalls.js';

interface Params {
  readonly statPath: string;
  readonly sampleMs: number;
  readonly minMs: number;
}

const params = workerData as Params;
const send = (msg: StallWorkerMessage): void => parentPort?.postMessage(msg);
const detector = new StallDetector(params.minMs);
// A stat file is one short line; read in place, from offset 0, every time.
const buf = Buffer.alloc(512);
let fd: number | null = null;
try {
  fd = openSync(params.statPath, 'r');
} catch (err) {
  send({ type: 'unreadable', reason: `cannot open ${params.statPath}: ${(err as Error).message}` });
}
if (fd !== null) {
  const file = fd;
  let first = true;
  const timer = setInterval(() => {
    let text: string;
    try {
      text = buf.toString('latin1', 0, readSync(file, buf, 0, buf.length, 0));
    } catch (err) {
      clearInterval(timer);
      closeSync(file);
      send({ type: 'unreadable', reason: `cannot read ${params.statPath}: ${(err as Error).message}` });
      return;
    }
    const stat = parseBlockStat(text);
    if (stat === null) return; // A torn or foreign line: the next reading decides.
    if (first) send({ type: 'sampling' });
    first = false;
    const stall = detector.sample(Number(process.hrtime.bigint()), stat);
    if (stall !== null) send({ type: 'stall', stall });
  }, params.sampleMs);
}
