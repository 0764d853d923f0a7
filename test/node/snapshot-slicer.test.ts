// The slicer encodes captured snapshots over several event-loop turns: the
// result is the bytes of the state at the capture and their sha256 (what a state
// digest publishes), with writes applied between the slices; an index asked for
// twice is encoded once; abandon() stops it between two slices; the envelope of
// the incarnated tx state machine comes through the same way.
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createKvStateMachine, encodeKvCommand, type KvStateMachine } from '../../src/kv/state-machine.js';
import { encodeIncarnationEntry, IncarnatedStateMachine } from '../../src/node/cluster-incarnation.js';
import { encodedAlready, QUEUED_MAX, SnapshotSlicer } from '../../src/node/snapshot-slicer.js';
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
    const done = slicer.encode(7, () => sm.captureSnapshot!());
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
    expect(Buffer.from(r.bytes!).equals(Buffer.from(expected))).toBe(true);
    expect(r.sha256).toBe(sha256(expected));
    expect(slicer.slices).toBeGreaterThan(3);
    expect(writes).toBeGreaterThan(3);
    expect(Buffer.from(sm.snapshot()).equals(Buffer.from(expected))).toBe(false);
  });

  it('lends the bytes until release(): a kept encoding that would write over lent bytes fails instead', async () => {
    const { sm, put } = filledKv(5_000);
    slicer = new SnapshotSlicer();
    const first = sm.snapshot();
    const a = await slicer.encode(1, () => sm.captureSnapshot!());
    put('key-0', 'x'.repeat(1000));
    const second = sm.snapshot();
    // Still lent: the next encoding that keeps bytes refuses to start, and the lent bytes stay intact.
    await expect(slicer.encode(2, () => sm.captureSnapshot!())).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(Buffer.from(a.bytes!).equals(Buffer.from(first))).toBe(true);
    // A digest (no bytes kept) runs meanwhile.
    expect((await slicer.encode(2, () => sm.captureSnapshot!(), false)).sha256).toBe(sha256(second));
    a.release();
    a.release(); // idempotent
    const b = await slicer.encode(3, () => sm.captureSnapshot!());
    expect(Buffer.from(b.bytes!).equals(Buffer.from(second))).toBe(true);
    // One buffer, reused: the view handed out before now shows the newer bytes.
    expect(b.bytes!.buffer).toBe(a.bytes!.buffer);
    // A stale release (of an earlier loan) does not end the current one.
    a.release();
    await expect(slicer.encode(4, () => sm.captureSnapshot!())).rejects.toMatchObject({ code: 'INTERNAL' });
    b.release();
    expect((await slicer.encode(5, () => sm.captureSnapshot!())).bytes).not.toBeNull();
  });

  it('keeps no bytes for a digest (sha256 only), and the bytes of one asked for before it starts', async () => {
    const { sm, put } = filledKv(5_000);
    slicer = new SnapshotSlicer();
    const expected = sm.snapshot();
    const digest = await slicer.encode(1, () => sm.captureSnapshot!(), false);
    expect(digest.bytes).toBeNull();
    expect(digest.sha256).toBe(sha256(expected));
    // A local snapshot sharing a digest's capture in the same turn: one encoding, with the bytes.
    let captures = 0;
    const shared = slicer.encode(2, () => (captures++, sm.captureSnapshot!()), false);
    const kept = slicer.keepBytesOf(2);
    expect(kept).toBe(shared);
    expect(Buffer.from((await kept!).bytes!).equals(Buffer.from(expected))).toBe(true);
    (await kept!).release();
    expect(captures).toBe(1);
    expect(slicer.keepBytesOf(3)).toBeNull();
    // Once a digest-only encoding has started, its bytes are gone: keepBytesOf says so, and encode() captures again.
    put('key-1', 'y'.repeat(100));
    const later = sm.snapshot();
    const started = slicer.encode(4, () => sm.captureSnapshot!(), false);
    await turn();
    await turn();
    expect(slicer.keepBytesOf(4)).toBeNull();
    const again = slicer.encode(4, () => (captures++, sm.captureSnapshot!()));
    expect(again).not.toBe(started);
    expect(Buffer.from((await again).bytes!).equals(Buffer.from(later))).toBe(true);
    expect((await started).bytes).toBeNull();
    expect(captures).toBe(2);
  });

  it('hands out the exact bytes, snapshots growing and shrinking', async () => {
    const { sm, put } = filledKv(20_000);
    slicer = new SnapshotSlicer();
    for (let i = 0; i < 4; i++) {
      const r = await slicer.encode(i, () => sm.captureSnapshot!());
      expect(Buffer.from(r.bytes!).equals(Buffer.from(sm.snapshot()))).toBe(true);
      r.release();
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
    const a = slicer.encode(5, capture);
    const b = slicer.encode(5, capture);
    expect(await a).toBe(await b);
    expect(captures).toBe(1);
  });

  it('stops between two slices once abandoned: the encodings under way reject with SHUTTING_DOWN and no step runs after', async () => {
    slicer = new SnapshotSlicer(0.05);
    const running = endless();
    const waiting = endless();
    const a = slicer.encode(1, () => running);
    const b = slicer.encode(2, () => waiting);
    while (running.steps < 10) await turn();
    await slicer.abandon();
    const stepsAtStop = running.steps;
    for (let i = 0; i < 20; i++) await turn();
    expect(running.steps).toBe(stepsAtStop);
    expect(waiting.steps).toBe(0);
    await expect(a).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    await expect(b).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    await expect(slicer.encode(3, () => endless())).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });

  it(`refuses more than ${QUEUED_MAX} encodings waiting`, async () => {
    slicer = new SnapshotSlicer();
    const queued = Array.from({ length: QUEUED_MAX }, (_, i) => slicer!.encode(i, () => endless()));
    await expect(slicer.encode(QUEUED_MAX, () => endless())).rejects.toMatchObject({ code: 'TOO_MANY_PENDING' });
    await slicer.abandon();
    for (const q of queued) await expect(q).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });

  it('hashes bytes made at once (a state machine without captureSnapshot) in pieces', async () => {
    const bytes = new Uint8Array(1_000_000).map((_, i) => i % 251);
    slicer = new SnapshotSlicer(0.01);
    const r = await slicer.encode(1, () => encodedAlready(bytes));
    expect(Buffer.from(r.bytes!).equals(Buffer.from(bytes))).toBe(true);
    expect(r.sha256).toBe(sha256(bytes));
    expect(slicer.slices).toBeGreaterThan(1);
  });

  it("gives the incarnated tx state machine's snapshot() bytes: the envelope, then the table", async () => {
    const sm = new IncarnatedStateMachine(createTxStateMachine(txConfigDefaults));
    slicer = new SnapshotSlicer();
    const before = sm.snapshot();
    const first = await slicer.encode(1, () => sm.captureSnapshot());
    expect(Buffer.from(first.bytes!).equals(Buffer.from(before))).toBe(true);
    first.release();
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
    const r = await slicer.encode(2, () => sm.captureSnapshot());
    expect(Buffer.from(r.bytes!).equals(Buffer.from(after))).toBe(true);
    expect(r.sha256).toBe(sha256(after));
  });
});
