// One contract for RaftStorage, run against LevelDB and the in-memory double.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRatifyError, type ErrorCode } from '../../src/errors.js';
import type { Entry, HardState, Member, Snapshot, SnapshotBytes } from '../../src/raft/types.js';
import type { RaftStorage, StoredState } from '../../src/storage/raft-storage.js';
import { levelHarness, memoryHarness, type HarnessFactory, type StorageHarness } from './harness.js';

const MEMBERS: Member[] = [
  { id: 'n1', url: 'http://127.0.0.1:4001', voter: true },
  { id: 'n2', url: 'http://127.0.0.1:4002', voter: true },
  { id: 'n3', url: 'http://127.0.0.1:4003', voter: false },
];

function bytes(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** A mix of entry kinds, deterministic in (index, term). */
function entry(index: number, term: number): Entry {
  switch (index % 5) {
    case 0:
      return { kind: 'noop', index, term };
    case 3:
      return { kind: 'config', index, term, members: MEMBERS.slice(0, 1 + (index % 3)) };
    default:
      return { kind: 'normal', index, term, data: bytes(index * 31 + term, index % 7 === 0 ? 0 : 10 + (index % 50)) };
  }
}

function run(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

function hs(term: number, vote: string | null, commitIndex: number): HardState {
  return { term, vote, commitIndex };
}

function snapshot(index: number, term: number, dataBytes = 100): Snapshot {
  return { meta: { index, term, members: MEMBERS }, data: bytes(index + term, dataBytes) };
}

/**
 * The state with snapshot data replaced by a digest: deep equality over
 * megabytes of Uint8Array elements takes vitest close to a minute. The bytes
 * the storage gives the core to send (`sendable`), if it gives any, must be the
 * snapshot's own: read in uneven chunks, they give the same digest.
 */
function comparable(state: StoredState): unknown {
  const { sendable, ...rest } = state;
  if (state.snapshot === null) {
    expect(sendable).toBeUndefined();
    return rest;
  }
  const { data, meta } = state.snapshot;
  const digest = sha256(data);
  if (sendable !== undefined) expect(readAll(sendable, 1000 + (data.byteLength % 777))).toBe(digest);
  return { ...rest, snapshot: { meta, data: { type: data.constructor.name, bytes: data.byteLength, digest } } };
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Every byte of `bytes`, read in chunks of `chunk` as the core sends them, as a sha256. */
function readAll(bytes: SnapshotBytes, chunk: number): string {
  const hash = createHash('sha256');
  for (let at = 0; at < bytes.byteLength; at += chunk) hash.update(bytes.subarray(at, Math.min(at + chunk, bytes.byteLength)));
  return hash.digest('hex');
}

async function expectCode(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isRatifyError(err, code), `expected RatifyError ${code}, got ${String(err)}`).toBe(true);
  if (message !== undefined) expect((err as Error).message).toMatch(message);
}

function storageContract(name: string, factory: HarnessFactory): void {
  describe(`RaftStorage contract: ${name}`, () => {
    let harness: StorageHarness;
    let storage: RaftStorage;

    beforeEach(async () => {
      harness = await factory();
      storage = await harness.open();
    });
    afterEach(async () => {
      await harness.cleanup();
    });

    /** load() now and after a restart both return exactly `expected`. */
    async function expectDurable(expected: StoredState): Promise<void> {
      expect(comparable(await storage.load())).toEqual(comparable(expected));
      storage = await harness.restart(storage);
      expect(comparable(await storage.load())).toEqual(comparable(expected));
    }

    it('loads an empty store as the initial state', async () => {
      await expectDurable({ hardState: hs(0, null, 0), snapshot: null, entries: [] });
    });

    it('round-trips entries of every kind with the hard state', async () => {
      await storage.load();
      const entries = run(1, 12, 1);
      await storage.save({ hardState: hs(1, 'n1', 4), entries, snapshot: null });
      await storage.save({ hardState: hs(2, null, 4), entries: run(13, 15, 2), snapshot: null });
      await expectDurable({ hardState: hs(2, null, 4), snapshot: null, entries: [...entries, ...run(13, 15, 2)] });
    });

    it('replaces the conflicting suffix on an append that starts inside the log', async () => {
      await storage.load();
      await storage.save({ hardState: hs(1, 'n1', 2), entries: run(1, 8, 1), snapshot: null });
      await storage.save({ hardState: hs(2, null, 2), entries: run(4, 5, 2), snapshot: null });
      await expectDurable({ hardState: hs(2, null, 2), snapshot: null, entries: [...run(1, 3, 1), ...run(4, 5, 2)] });
      // A longer replacement, and one starting right after the last entry.
      await storage.save({ hardState: hs(3, 'n2', 3), entries: run(3, 9, 3), snapshot: null });
      await storage.save({ hardState: null, entries: run(10, 10, 3), snapshot: null });
      await expectDurable({ hardState: hs(3, 'n2', 3), snapshot: null, entries: [...run(1, 2, 1), ...run(3, 10, 3)] });
    });

    it('updates the hard state with and without entries', async () => {
      await storage.load();
      await storage.save({ hardState: hs(5, 'n2', 0), entries: [], snapshot: null });
      await expectDurable({ hardState: hs(5, 'n2', 0), snapshot: null, entries: [] });
      await storage.save({ hardState: hs(6, null, 0), entries: run(1, 2, 6), snapshot: null });
      await storage.save({ hardState: hs(6, 'n3', 2), entries: [], snapshot: null });
      await expectDurable({ hardState: hs(6, 'n3', 2), snapshot: null, entries: run(1, 2, 6) });
    });

    it('writes a batch that may skip its fsync like any other (sync: false)', async () => {
      await storage.load();
      await storage.save({ hardState: hs(2, 'n1', 0), entries: run(1, 3, 2), snapshot: null });
      await storage.save({ hardState: hs(2, 'n1', 3), entries: [], snapshot: null, sync: false });
      // sync: false is a permission only: entries and a new vote are written all the same
      await storage.save({ hardState: hs(3, 'n2', 3), entries: run(4, 4, 3), snapshot: null, sync: false });
      await expectDurable({ hardState: hs(3, 'n2', 3), snapshot: null, entries: [...run(1, 3, 2), ...run(4, 4, 3)] });
    });

    it('installs a received snapshot that matches the log: later entries stay', async () => {
      await storage.load();
      await storage.save({ hardState: hs(2, 'n1', 3), entries: [...run(1, 5, 1), ...run(6, 10, 2)], snapshot: null });
      const snap = snapshot(6, 2);
      await storage.save({ hardState: hs(2, 'n1', 6), entries: [], snapshot: snap });
      await expectDurable({ hardState: hs(2, 'n1', 6), snapshot: snap, entries: run(7, 10, 2) });
    });

    it('installs a received snapshot that conflicts with the log: every entry goes', async () => {
      await storage.load();
      await storage.save({ hardState: hs(2, 'n1', 3), entries: run(1, 10, 1), snapshot: null });
      const snap = snapshot(6, 2);
      await storage.save({ hardState: hs(2, 'n1', 6), entries: [], snapshot: snap });
      await expectDurable({ hardState: hs(2, 'n1', 6), snapshot: snap, entries: [] });
      // The log continues right after the snapshot.
      await storage.save({ hardState: null, entries: run(7, 8, 2), snapshot: null });
      await expectDurable({ hardState: hs(2, 'n1', 6), snapshot: snap, entries: run(7, 8, 2) });
    });

    it('installs a snapshot beyond the log, together with entries after it', async () => {
      await storage.load();
      await storage.save({ hardState: hs(1, null, 2), entries: run(1, 3, 1), snapshot: null });
      const snap = snapshot(20, 4, 2500);
      const stored = await storage.save({ hardState: hs(4, 'n2', 20), entries: run(21, 22, 4), snapshot: snap });
      // What the core keeps to send from now on: the same bytes (a reader over the file, for LevelDB).
      expect(readAll(stored!, 1000)).toBe(sha256(snap.data));
      expect(await storage.save({ hardState: hs(4, 'n2', 20), entries: [], snapshot: null })).toBeNull();
      await expectDurable({ hardState: hs(4, 'n2', 20), snapshot: snap, entries: run(21, 22, 4) });
    });

    it('compact() stores the snapshot and removes the log prefix', async () => {
      await storage.load();
      await storage.save({ hardState: hs(3, 'n1', 9), entries: [...run(1, 4, 1), ...run(5, 10, 3)], snapshot: null });
      const first = snapshot(4, 1, 3000);
      const firstBytes = await storage.compact(first);
      expect(readAll(firstBytes, 1024)).toBe(sha256(first.data));
      await expectDurable({ hardState: hs(3, 'n1', 9), snapshot: first, entries: run(5, 10, 3) });
      const second = snapshot(10, 3, 50);
      const secondBytes = await storage.compact(second);
      expect(readAll(secondBytes, 7)).toBe(sha256(second.data));
      await expectDurable({ hardState: hs(3, 'n1', 9), snapshot: second, entries: [] });
      // A transfer that still holds the replaced snapshot reads on: its bytes outlive their file's name.
      expect(readAll(firstBytes, 999)).toBe(sha256(first.data));
    });

    it('snapshotWriter() stores a snapshot given in pieces as compact() does; abort() leaves nothing', async () => {
      await storage.load();
      const log = [...run(1, 4, 1), ...run(5, 10, 3)];
      await storage.save({ hardState: hs(3, 'n1', 9), entries: log, snapshot: null });
      // Aborted after some bytes, or before any: no trace of either.
      const dropped = storage.snapshotWriter(snapshot(4, 1).meta);
      await dropped.write(bytes(1, 500));
      await dropped.abort();
      await dropped.abort(); // idempotent
      await expectCode(dropped.write(bytes(1, 1)), 'INTERNAL', /after commit\(\) or abort\(\)/);
      await expectCode(dropped.commit(), 'INTERNAL');
      await storage.snapshotWriter(snapshot(4, 1).meta).abort();
      await expectDurable({ hardState: hs(3, 'n1', 9), snapshot: null, entries: log });
      const snap = snapshot(7, 3, 70_001);
      const writer = storage.snapshotWriter(snap.meta);
      // One buffer reused between writes, as the snapshot slicer reuses its chunk.
      const piece = new Uint8Array(9_999);
      for (let at = 0; at < snap.data.byteLength; at += piece.length) {
        const n = Math.min(piece.length, snap.data.byteLength - at);
        piece.set(snap.data.subarray(at, at + n));
        await writer.write(piece.subarray(0, n));
        piece.fill(0xee);
      }
      const stored = await writer.commit();
      expect(readAll(stored, 4096)).toBe(sha256(snap.data));
      await expectCode(writer.commit(), 'INTERNAL');
      await writer.abort(); // a no-op once committed
      await expectDurable({ hardState: hs(3, 'n1', 9), snapshot: snap, entries: run(8, 10, 3) });
    });

    it('round-trips a snapshot of several MB, then a smaller one replacing it', async () => {
      await storage.load();
      const big = snapshot(3, 1, 5 * 1024 * 1024 + 123);
      await storage.save({ hardState: hs(1, null, 3), entries: [], snapshot: big });
      await expectDurable({ hardState: hs(1, null, 3), snapshot: big, entries: [] });
      const small = snapshot(5, 1, 10);
      await storage.save({ hardState: hs(1, null, 5), entries: [], snapshot: small });
      await expectDurable({ hardState: hs(1, null, 5), snapshot: small, entries: [] });
    });

    it("keeps stored state independent of the caller's objects", async () => {
      await storage.load();
      const snap = snapshot(1, 1);
      const entries = run(2, 3, 1); // a normal and a config entry
      await storage.save({ hardState: hs(1, null, 1), entries, snapshot: snap });
      const scribble = (state: { snapshot: Snapshot | null; entries: readonly Entry[] }): void => {
        (state.snapshot?.data as Uint8Array).fill(0);
        for (const e of state.entries) {
          if (e.kind === 'normal') (e.data as Uint8Array).fill(0);
          if (e.kind === 'config') (e.members as Member[]).pop();
        }
      };
      scribble({ snapshot: snap, entries });
      scribble(await storage.load());
      await expectDurable({ hardState: hs(1, null, 1), snapshot: snapshot(1, 1), entries: run(2, 3, 1) });
    });

    it('refuses writes that break the log rules, and writes nothing', async () => {
      await expectCode(storage.save({ hardState: hs(1, null, 0), entries: [], snapshot: null }), 'INTERNAL', /load\(\)/);
      await storage.load();
      await storage.save({ hardState: hs(2, 'n1', 2), entries: run(1, 4, 2), snapshot: null });
      const before = await storage.load();
      const refused = [
        { hardState: null, entries: run(6, 7, 2), snapshot: null }, // gap after the last entry
        { hardState: null, entries: [entry(5, 2), entry(7, 2)], snapshot: null }, // not contiguous
        { hardState: null, entries: [entry(5, 2), entry(6, 1)], snapshot: null }, // term goes down
        { hardState: hs(2, 'n1', 9), entries: [], snapshot: null }, // commit index beyond the log
        { hardState: null, entries: run(5, 5, 3), snapshot: null }, // entry term above the hard state's term
      ];
      for (const batch of refused) await expectCode(storage.save(batch), 'INTERNAL');
      await expectCode(storage.compact(snapshot(3, 1)), 'INTERNAL', /term/); // log has term 2 at 3
      await expectCode(storage.compact(snapshot(9, 2)), 'INTERNAL', /outside/);
      await storage.compact(snapshot(2, 2));
      await expectCode(storage.save({ hardState: null, entries: [], snapshot: snapshot(1, 2) }), 'INTERNAL', /older/);
      await expectDurable({ ...before, snapshot: snapshot(2, 2), entries: before.entries.slice(2) });
    });

    it('rejects calls after close()', async () => {
      await storage.load();
      await storage.close();
      await expectCode(storage.load(), 'SHUTTING_DOWN');
      await expectCode(storage.save({ hardState: hs(1, null, 0), entries: [], snapshot: null }), 'SHUTTING_DOWN');
    });

    it('matches a naive model over random operation sequences, across restarts', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(opArbitrary, { minLength: 1, maxLength: 18 }), async (ops) => {
          await harness.cleanup();
          harness = await factory();
          storage = await harness.open();
          const model = new LogModel();
          expect(comparable(await storage.load())).toEqual(comparable(model.state()));
          for (const op of ops) {
            if (op.kind === 'restart') storage = await harness.restart(storage);
            else await applyRandomOp(storage, model, op);
            expect(comparable(await storage.load())).toEqual(comparable(model.state()));
          }
        }),
        { numRuns: name === 'memory' ? 100 : 30 },
      );
    });
  });
}

// ---- model-based test ------------------------------------------------------

interface RandomOp {
  readonly kind: 'append' | 'hardState' | 'snapshot' | 'compact' | 'restart';
  readonly a: number;
  readonly b: number;
  readonly c: number;
}

const opArbitrary: fc.Arbitrary<RandomOp> = fc.record({
  kind: fc.constantFrom('append', 'append', 'hardState', 'snapshot', 'compact', 'restart'),
  a: fc.nat(1000),
  b: fc.nat(6),
  c: fc.nat(1000),
});

/** The storage rules written the obvious way, over a plain array. */
class LogModel {
  hardState = hs(0, null, 0);
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];

  get snapshotIndex(): number {
    return this.snapshot?.meta.index ?? 0;
  }
  get lastIndex(): number {
    return this.entries.at(-1)?.index ?? this.snapshotIndex;
  }
  termAt(index: number): number | null {
    if (index === this.snapshotIndex) return this.snapshot?.meta.term ?? 0;
    return this.entries.find((e) => e.index === index)?.term ?? null;
  }
  state(): StoredState {
    return { hardState: this.hardState, snapshot: this.snapshot, entries: this.entries };
  }
}

async function applyRandomOp(storage: RaftStorage, m: LogModel, op: RandomOp): Promise<void> {
  const term = m.hardState.term + (op.c % 3 === 0 ? 1 : 0);
  const vote = [null, 'n1', 'n2'][op.c % 3] ?? null;
  switch (op.kind) {
    case 'append': {
      const start = m.snapshotIndex + 1 + (op.a % (m.lastIndex - m.snapshotIndex + 1));
      const entries = run(start, start + op.b, Math.max(term, 1));
      const kept = m.entries.filter((e) => e.index < start);
      const hardState = hs(Math.max(term, 1), vote, Math.min(m.hardState.commitIndex, start + op.b));
      await storage.save({ hardState, entries, snapshot: null });
      Object.assign(m, { hardState, entries: [...kept, ...entries] });
      return;
    }
    case 'hardState': {
      const hardState = hs(term, vote, op.a % (m.lastIndex + 1));
      await storage.save({ hardState, entries: [], snapshot: null });
      m.hardState = hardState;
      return;
    }
    case 'snapshot': {
      const index = Math.max(1, m.snapshotIndex + (op.a % (m.lastIndex - m.snapshotIndex + 4)));
      const stored = m.termAt(index);
      const snapTerm = op.c % 2 === 0 && stored !== null ? stored : Math.max(term, 1);
      const snap = snapshot(index, snapTerm, (op.b * 3001) % 12_000);
      const hardState = hs(Math.max(term, 1), vote, index);
      await storage.save({ hardState, entries: [], snapshot: snap });
      const keep = stored === snapTerm;
      Object.assign(m, { hardState, snapshot: snap, entries: keep ? m.entries.filter((e) => e.index > index) : [] });
      return;
    }
    case 'compact': {
      if (m.lastIndex === 0) return;
      const index = Math.max(1, m.snapshotIndex + (op.a % (m.lastIndex - m.snapshotIndex + 1)));
      const snap = snapshot(index, m.termAt(index)!, (op.b * 2503) % 12_000);
      if (op.a % 2 === 0) await storage.compact(snap);
      else {
        // The same through a writer, in pieces of an uneven size.
        const writer = storage.snapshotWriter(snap.meta);
        const size = 1 + (op.b % 4000);
        for (let at = 0; at < snap.data.byteLength; at += size) await writer.write(snap.data.subarray(at, at + size));
        await writer.commit();
      }
      Object.assign(m, { snapshot: snap, entries: m.entries.filter((e) => e.index > index) });
      return;
    }
    case 'restart':
      return;
  }
}

storageContract('memory', memoryHarness());
// Small chunks so that multi-chunk snapshots and stale-chunk cleanup run in every test.
storageContract('leveldb', levelHarness());
