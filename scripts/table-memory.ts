// Table memory: what the replicated transaction table keeps per finished
// transaction, measured exactly in one process (no cluster, no load, no
// garbage in flight): the V8 heap and the memory outside it (typed arrays)
// that N finished transactions add, after full collections. The rows are like
// the benchmark's: UUID ids, two participants with payloads (dropped when the
// transaction finishes), no idempotency key unless --keys, which gives each one
// a key and request hash as the SDK's create() does by default (a random UUID
// key; the hash is a sha256 in base64url).
//
//   npm run build && node --expose-gc dist/scripts/table-memory.js [--count 100000] [--keys] [--encode] [--churn]
//
// --encode also times what every node does every snapshotThresholdEntries: a
// capture of the table (synchronous, in apply()) and its encoding in slices
// (tableSnapshotSteps), medians of 10 runs after 2, each checked to give
// encode()'s bytes; and what a node does when it restores that snapshot (at
// start, or installing one from the leader): decodeInto() a fresh table, timed,
// with how much the old and large-object spaces grew over it (what outlived
// the young generation's collections, garbage included: no full collection
// runs within), each checked to encode back to the same bytes.
//
// --churn times the steady state at full retention, what every node does for
// each transaction once the table holds `count`: a lookup by idempotency key
// that misses (the create checks for a replay; with --keys), the insert, the
// finish, and retention removing the oldest; then lookups by key that hit (a
// retry's replay), each building the record it returns. Medians per operation
// over rounds of count/2 transactions.
//
// What a node's resident memory is made of under load is memory-probe.ts's.
import { createHash, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { getHeapSpaceStatistics } from 'node:v8';
import { ownString } from '../src/tx/finished-tx.js';
import { steppedEncoding } from '../src/tx/stepped-encoding.js';
import { tableSnapshotSteps } from '../src/tx/table-snapshot.js';
import { TxTable } from '../src/tx/tx-table.js';
import { freshParticipant, type TxRecord } from '../src/tx/types.js';

const COUNT_MAX = 10_000_000;
const MIB = 1024 * 1024;
const ENCODE_WARMUPS = 2;
const ENCODE_RUNS = 10;

function main(): number {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '100000' },
      keys: { type: 'boolean', default: false },
      encode: { type: 'boolean', default: false },
      churn: { type: 'boolean', default: false },
    },
  });
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > COUNT_MAX) {
    process.stderr.write(`--count must be an integer in 1..${COUNT_MAX}\n`);
    return 2;
  }
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) {
    process.stderr.write('run with node --expose-gc: the measurement needs full collections before and after\n');
    return 2;
  }
  const settle = (): NodeJS.MemoryUsage => {
    for (let i = 0; i < 4; i++) gc();
    return process.memoryUsage();
  };
  const before = settle();
  const table = new TxTable();
  for (let i = 0; i < count; i++) addFinished(table, i + 1, values.keys);
  const after = settle();
  const heap = after.heapUsed - before.heapUsed;
  const outside = after.external - before.external;
  process.stdout.write(
    `${count.toLocaleString('en-US')} finished transactions${values.keys ? ' with idempotency keys' : ''}: ` +
      `V8 heap +${(heap / MIB).toFixed(2)} MiB, outside the heap +${(outside / MIB).toFixed(2)} MiB, ` +
      `${Math.round((heap + outside) / count)} bytes per transaction (${table.finishedCount} retained)\n`,
  );
  if (values.encode) {
    timeSnapshot(table);
    timeRestore(table, gc);
  }
  if (values.churn) timeChurn(table, count, values.keys);
  return 0;
}

/** Inserts transaction `seq` and finishes it, as apply() does; returns its key (null without keys). */
function addFinished(table: TxTable, seq: number, keys: boolean): string | null {
  // As apply() keeps them: strings of their own (ownString), not slices of a decoded entry.
  const tx = record(ownString(randomUUID()), seq, keys ? ownString(randomUUID()) : null);
  // A create with a key looks for a replay first.
  if (tx.idempotencyKey !== null && table.getByKey(null, tx.idempotencyKey) !== undefined)
    throw new Error('a fresh key found a transaction');
  table.insert(tx);
  tx.state = 'committed';
  tx.completedAt = tx.createdAt + 4;
  for (const p of tx.participants) p.payload = null;
  table.markFinished(tx);
  return tx.idempotencyKey;
}

function timeChurn(table: TxTable, count: number, keys: boolean): void {
  const perRound = Math.max(1, count >> 1);
  const churnNs: number[] = [];
  const hitNs: number[] = [];
  let seq = count;
  for (let round = 0; round < ENCODE_WARMUPS + ENCODE_RUNS; round++) {
    const added: string[] = [];
    const t0 = performance.now();
    for (let i = 0; i < perRound; i++) {
      const key = addFinished(table, ++seq, keys);
      if (key !== null) added.push(key);
      table.remove(table.finishedIds().next().value!);
    }
    const t1 = performance.now();
    for (const key of added) if (table.getByKey(null, key) === undefined) throw new Error('a retained key was not found');
    const t2 = performance.now();
    if (round < ENCODE_WARMUPS) continue;
    churnNs.push(((t1 - t0) * 1e6) / perRound);
    if (added.length > 0) hitNs.push(((t2 - t1) * 1e6) / added.length);
  }
  const hits = hitNs.length === 0 ? '' : `, lookup by key that hits median ${median(hitNs).toFixed(0)} ns`;
  process.stdout.write(
    `churn at ${table.finishedCount.toLocaleString('en-US')} retained: create, finish and retire median ` +
      `${median(churnNs).toFixed(0)} ns per transaction${hits} (${ENCODE_RUNS} rounds of ${perRound.toLocaleString('en-US')} after ${ENCODE_WARMUPS})\n`,
  );
}

function timeSnapshot(table: TxTable): void {
  const expected = Buffer.from(table.encode());
  const captureMs: number[] = [];
  const encodeMs: number[] = [];
  for (let run = 0; run < ENCODE_WARMUPS + ENCODE_RUNS; run++) {
    const t0 = performance.now();
    const capture = table.capture();
    const t1 = performance.now();
    const encoding = steppedEncoding((w) => tableSnapshotSteps(capture, w), 'utf8');
    const pieces: Buffer[] = [];
    for (let more = true; more; ) {
      more = encoding.step();
      pieces.push(Buffer.from(encoding.piece()));
    }
    const t2 = performance.now();
    if (!Buffer.concat(pieces).equals(expected)) throw new Error('the sliced encoding differs from encode()');
    if (run < ENCODE_WARMUPS) continue;
    captureMs.push(t1 - t0);
    encodeMs.push(t2 - t1);
  }
  process.stdout.write(
    `snapshot of ${table.size.toLocaleString('en-US')} rows: capture median ${median(captureMs).toFixed(1)} ms, ` +
      `sliced encoding median ${median(encodeMs).toFixed(1)} ms (${ENCODE_RUNS} runs after ${ENCODE_WARMUPS}), ${expected.length} bytes\n`,
  );
}

function timeRestore(table: TxTable, gc: () => void): void {
  const bytes = table.encode();
  const decodeMs: number[] = [];
  const grewMiB: number[] = [];
  for (let run = 0; run < ENCODE_WARMUPS + ENCODE_RUNS; run++) {
    gc();
    const before = oldAndLargeObjectBytes();
    const t0 = performance.now();
    const restored = new TxTable();
    restored.decodeInto(bytes);
    const t1 = performance.now();
    const grew = oldAndLargeObjectBytes() - before;
    if (!Buffer.from(restored.encode()).equals(Buffer.from(bytes))) throw new Error('the restored table encodes to other bytes');
    if (run < ENCODE_WARMUPS) continue;
    decodeMs.push(t1 - t0);
    grewMiB.push(grew / MIB);
  }
  process.stdout.write(
    `restore of ${table.size.toLocaleString('en-US')} rows: decodeInto median ${median(decodeMs).toFixed(1)} ms, ` +
      `old + large-object spaces grew by ${median(grewMiB).toFixed(1)} MiB over it (median)\n`,
  );
}

function oldAndLargeObjectBytes(): number {
  let bytes = 0;
  for (const space of getHeapSpaceStatistics()) {
    if (space.space_name === 'old_space' || space.space_name === 'large_object_space') bytes += space.space_used_size;
  }
  return bytes;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

function record(id: string, seq: number, idempotencyKey: string | null): TxRecord {
  const createdAt = 1_780_000_000_000 + seq;
  return {
    id,
    seq,
    state: 'committing',
    protocol: '2pc',
    participants: ['alpha', 'beta'].map((name) => ({
      ...freshParticipant({ name, url: `http://127.0.0.1:4000/${name}`, payload: { amount: seq } }),
      vote: 'commit' as const,
      acknowledged: true,
    })),
    createdAt,
    deadlineAt: createdAt + 30_000,
    decision: 'commit',
    // What protocol-rules.ts records for a commit: every finished transaction of the
    // benchmark has it, so the table stores it (run history, "What a node loads").
    decisionReason: 'every participant voted commit',
    decidedAt: createdAt + 2,
    completedAt: null,
    idempotencyKey,
    requestHash: idempotencyKey === null ? null : createHash('sha256').update(`request-${seq}`).digest('base64url'),
    principal: null,
  };
}

process.exitCode = main();
