// The slicer encodes captured snapshots over several event-loop turns: the
// bytes of the state at the capture go to a sink in chunks, with their sha256
// (what a state digest publishes), while writes are applied between the
// slices; an index asked for twice is encoded once; abandon() stops it between
// two slices; the envelope of the incarnated tx state machine comes through
// the same way.
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createKvStateMachine, encodeKvCommand, type KvStateMachine } from '../../src/kv/state-machine.js';
import { encodeIncarnationEntry, IncarnatedStateMachine } from '../../src/node/cluster-incarnation.js';
import { CHUNK_BYTES, encodedAlready, QUEUED_MAX, SnapshotSlicer, type PieceSink } from '../../src/node/snapshot-slicer.js';
import type { SnapshotEncoding } from '../../src/raft/state-machine.js';
import { encodeCommand } from '../../src/tx/commands.js';
import { txConfigDefaults } from '../../src/tx/config.js';
import { createTxStateMachine } from '../../src/tx/state-machine.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

function filledKv(keys: number): { sm: KvStateMachine; put: (k: string, v: string) => void } {
  const sm = createKvStateMachine();
  let index = 0;
  const put = (key: string, value: string): void => {
    sm.apply({ index: ++index, term: 1, data: encodeKvCommand({ op: 'put', key, value }) });
  };
  for (let i = 0; i < keys; i++) put(`key-${i}`, `value-${i}`);
  return { sm, put };
}

/** A sink that keeps a copy of every piece it is given (the slicer reuses its chunk), and each write's size. */
function collecting(): PieceSink & { bytes(): Uint8Array; readonly writes: number[] } {
  const pieces: Buffer[] = [];
  const writes: number[] = [];
  return {
    writes,
    async write(piece) {
      writes.push(piece.byteLength);
      pieces.push(Buffer.from(piece));
      await turn(); // as a file write: the slicer waits for it
    },
    bytes: () => new Uint8Array(Buffer.concat(pieces)),
  };
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

/** An encoding that never ends, counting its steps: a state too large to finish before the test stops it. */
function endless(): SnapshotEncoding & { steps: number } {
  const e = {
    steps: 0,
    step(): boolean {
      e.steps++;
      return true;
    },
    piece: (): Uint8Array => new Uint8Array([1, 2, 3]),
  };
  return e;
}

let slicer: SnapshotSlicer | null = null;
afterEach(async () => {
  await slicer?.abandon();
  slicer = null;
});

describe('snapshot slicer', () => {
  it("encodes the state at the capture over several turns while writes go on, with the bytes' sha256", async () => {
    const { sm, put } = filledKv(30_000);
    slicer = new SnapshotSlicer(0.05);
    const expected = sm.snapshot();
    const sink = collecting();
    const done = slicer.encode(7, () => sm.captureSnapshot!(), sink);
    let writes = 0;
    let finished = false;
    void done.finally(() => {
      finished = true;
    });
    while (!finished) {
      put(`key-${writes % 40_000}`, `changed-${writes}`);
      writes++;
      await turn();
    }
    const r = await done;
    expect(r.index).toBe(7);
    expect(same(sink.bytes(), expected)).toBe(true);
    expect(r.sha256).toBe(sha256(expected));
    expect(slicer.slices).toBeGreaterThan(3);
    expect(writes).toBeGreaterThan(3);
    expect(Buffer.from(sm.snapshot()).equals(Buffer.from(expected))).toBe(false);
  });

  it('sends the bytes in chunks of at most CHUNK_BYTES, from one buffer, and awaits each write', async () => {
    const { sm } = filledKv(60_000);
    slicer = new SnapshotSlicer(1_000); // slices long enough to fill a chunk
    const expected = sm.snapshot();
    expect(expected.length).toBeGreaterThan(3 * CHUNK_BYTES);
    let inFlight = 0;
    let overlapped = false;
    const pieces: Buffer[] = [];
    const sink: PieceSink = {
      async write(piece) {
        overlapped ||= inFlight > 0;
        inFlight++;
        const copy = Buffer.from(piece);
        await turn();
        // The slicer must not touch the chunk while the write is in flight.
        expect(Buffer.from(piece).equals(copy)).toBe(true);
        pieces.push(copy);
        inFlight--;
      },
    };
    const r = await slicer.encode(1, () => sm.captureSnapshot!(), sink);
    expect(overlapped).toBe(false);
    expect(same(new Uint8Array(Buffer.concat(pieces)), expected)).toBe(true);
    expect(r.sha256).toBe(sha256(expected));
    expect(pieces.length).toBeGreaterThanOrEqual(Math.ceil(expected.length / (CHUNK_BYTES + 64 * 1024)));
    // A chunk goes once it is full: only the last may be short, and none is much over CHUNK_BYTES (one piece over at most).
    for (const p of pieces.slice(0, -1)) expect(p.length).toBeGreaterThanOrEqual(CHUNK_BYTES);
    for (const p of pieces) expect(p.length).toBeLessThan(CHUNK_BYTES + 64 * 1024);
  });

  it('fails the encoding when the sink fails, and goes on with the next one', async () => {
    const { sm } = filledKv(5_000);
    slicer = new SnapshotSlicer();
    const failing: PieceSink = { write: () => Promise.reject(new Error('disk full')) };
    const digest = slicer.encode(1, () => sm.captureSnapshot!(), null);
    const joined = slicer.writeInto(1, failing);
    await expect(joined).rejects.toThrow('disk full');
    // The digest shared the failed encoding.
    await expect(digest).rejects.toThrow('disk full');
    const sink = collecting();
    const r = await slicer.encode(2, () => sm.captureSnapshot!(), sink);
    expect(same(sink.bytes(), sm.snapshot())).toBe(true);
    expect(r.sha256).toBe(sha256(sm.snapshot()));
  });

  it('sends nothing for a digest (sha256 only), and the bytes of one joined before it starts', async () => {
    const { sm, put } = filledKv(5_000);
    slicer = new SnapshotSlicer();
    const expected = sm.snapshot();
    const digest = await slicer.encode(1, () => sm.captureSnapshot!(), null);
    expect(digest.sha256).toBe(sha256(expected));
    // A local snapshot sharing a digest's capture in the same turn: one encoding, its bytes to the sink.
    let captures = 0;
    const shared = slicer.encode(2, () => (captures++, sm.captureSnapshot!()), null);
    const sink = collecting();
    const kept = slicer.writeInto(2, sink);
    expect(kept).toBe(shared);
    await kept;
    expect(same(sink.bytes(), expected)).toBe(true);
    expect(captures).toBe(1);
    expect(slicer.writeInto(3, collecting())).toBeNull();
    // A second sink cannot join an encoding that has one: encode() captures again.
    const first = collecting();
    const withSink = slicer.encode(3, () => (captures++, sm.captureSnapshot!()), first);
    expect(slicer.writeInto(3, collecting())).toBeNull();
    const second = collecting();
    const again3 = slicer.encode(3, () => (captures++, sm.captureSnapshot!()), second);
    expect(again3).not.toBe(withSink);
    await Promise.all([withSink, again3]);
    expect(same(first.bytes(), expected) && same(second.bytes(), expected)).toBe(true);
    expect(captures).toBe(3);
    // Once a digest-only encoding has started, its bytes went nowhere: writeInto says so, and encode() captures again.
    put('key-1', 'y'.repeat(100));
    const later = sm.snapshot();
    const started = slicer.encode(4, () => sm.captureSnapshot!(), null);
    await turn();
    await turn();
    expect(slicer.writeInto(4, collecting())).toBeNull();
    const late = collecting();
    const again = slicer.encode(4, () => (captures++, sm.captureSnapshot!()), late);
    expect(again).not.toBe(started);
    await again;
    expect(same(late.bytes(), later)).toBe(true);
    expect((await started).sha256).toBe(sha256(later));
    expect(captures).toBe(4);
  });

  it('sends the exact bytes, snapshots growing and shrinking', async () => {
    const { sm, put } = filledKv(20_000);
    slicer = new SnapshotSlicer();
    for (let i = 0; i < 4; i++) {
      const sink = collecting();
      await slicer.encode(i, () => sm.captureSnapshot!(), sink);
      expect(same(sink.bytes(), sm.snapshot())).toBe(true);
      for (let k = 0; k < 2_000 * i; k++) put(`more-${i}-${k}`, 'v');
    }
  });

  it('encodes an index asked for twice once (a digest and a local snapshot at the same index)', async () => {
    const { sm } = filledKv(100);
    slicer = new SnapshotSlicer();
    let captures = 0;
    const capture = (): SnapshotEncoding => {
      captures++;
      return sm.captureSnapshot!();
    };
    const sink = collecting();
    const a = slicer.encode(5, capture, null);
    const b = slicer.encode(5, capture, sink);
    expect(await a).toBe(await b);
    expect(captures).toBe(1);
    expect(same(sink.bytes(), sm.snapshot())).toBe(true);
  });

  it('stops between two slices once abandoned: the encodings under way reject with SHUTTING_DOWN and no step runs after', async () => {
    slicer = new SnapshotSlicer(0.05);
    const running = endless();
    const waiting = endless();
    const a = slicer.encode(1, () => running, collecting());
    const b = slicer.encode(2, () => waiting, null);
    while (running.steps < 10) await turn();
    await slicer.abandon();
    const stepsAtStop = running.steps;
    for (let i = 0; i < 20; i++) await turn();
    expect(running.steps).toBe(stepsAtStop);
    expect(waiting.steps).toBe(0);
    await expect(a).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    await expect(b).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    await expect(slicer.encode(3, () => endless(), null)).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });

  it(`refuses more than ${QUEUED_MAX} encodings waiting`, async () => {
    slicer = new SnapshotSlicer();
    const queued = Array.from({ length: QUEUED_MAX }, (_, i) => slicer!.encode(i, () => endless(), null));
    await expect(slicer.encode(QUEUED_MAX, () => endless(), null)).rejects.toMatchObject({ code: 'TOO_MANY_PENDING' });
    await slicer.abandon();
    for (const q of queued) await expect(q).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });

  it('hashes bytes made at once (a state machine without captureSnapshot) in pieces', async () => {
    const bytes = new Uint8Array(1_000_000).map((_, i) => i % 251);
    slicer = new SnapshotSlicer(0.01);
    const sink = collecting();
    const r = await slicer.encode(1, () => encodedAlready(bytes), sink);
    expect(same(sink.bytes(), bytes)).toBe(true);
    expect(r.sha256).toBe(sha256(bytes));
    expect(slicer.slices).toBeGreaterThan(1);
  });

  it("gives the incarnated tx state machine's snapshot() bytes: the envelope, then the table", async () => {
    const sm = new IncarnatedStateMachine(createTxStateMachine(txConfigDefaults));
    slicer = new SnapshotSlicer();
    const before = sm.snapshot();
    const first = collecting();
    await slicer.encode(1, () => sm.captureSnapshot(), first);
    expect(same(first.bytes(), before)).toBe(true);
    sm.apply({ index: 1, term: 1, data: encodeIncarnationEntry('0123456789abcdef0123456789abcdef') });
    sm.apply({
      index: 2,
      term: 1,
      data: encodeCommand({
        type: 'created',
        txId: 't1',
        participants: [{ name: 'a', url: 'http://127.0.0.1:1', payload: { n: 1 } }],
        protocol: '2pc',
        createdAt: 1_000,
        deadlineAt: 11_000,
        idempotencyKey: null,
        requestHash: null,
        commitRequested: true,
        activeMax: 10,
      }),
    });
    const after = sm.snapshot();
    expect(after.length).toBeGreaterThan(before.length + 32);
    const sink = collecting();
    const r = await slicer.encode(2, () => sm.captureSnapshot(), sink);
    expect(same(sink.bytes(), after)).toBe(true);
    expect(r.sha256).toBe(sha256(after));
  });
});
