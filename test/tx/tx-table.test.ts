// The table with its finished rows in the FinishedStore, at sizes the state
// machine tests do not reach: several chunks of finished transactions,
// retention dropping whole chunks while a capture is being encoded, and
// handles renumbered at their limit (a small one here; a billion completions
// in production). Each table is checked against a twin with the default limit
// fed the same operations: the same reads, the same snapshot bytes, and a
// capture encoded in slices gives the bytes of its moment. Most ids are UUIDs,
// as the leader makes them (packed into words by the table), the rest are not.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CHUNK_SLOTS } from '../../src/tx/finished-tx.js';
import { steppedEncoding } from '../../src/tx/stepped-encoding.js';
import { encodeTableSnapshot, tableSnapshotSteps } from '../../src/tx/table-snapshot.js';
import { TxTable } from '../../src/tx/tx-table.js';
import { freshParticipant, type TxRecord } from '../../src/tx/types.js';
import { Prng } from '../../src/util/random.js';

function unfinished(id: string, seq: number, rng: Prng): TxRecord {
  // Keys as the SDK makes them (UUIDs, packed by the key index) and others; some scoped by a principal.
  const key = rng.chance(0.3) ? (rng.chance(0.5) ? uuidFrom(rng) : `key-${seq}`) : null;
  const createdAt = 1_780_000_000_000 + seq;
  return {
    id,
    seq,
    state: 'committing',
    protocol: rng.chance(0.2) ? '3pc' : '2pc',
    participants: ['a', 'b'].map((name) => ({
      ...freshParticipant({ name, url: `http://127.0.0.1:1/${name}`, payload: { n: seq } }),
      vote: 'commit' as const,
    })),
    createdAt,
    deadlineAt: createdAt + 30_000,
    decision: 'commit',
    decisionReason: rng.chance(0.1) ? 'why not' : null,
    decidedAt: createdAt + 2,
    completedAt: null,
    idempotencyKey: key,
    // The SDK's form (a sha256 in base64url, packed by the store) or not.
    requestHash: key === null ? null : rng.chance(0.5) ? createHash('sha256').update(`${seq}`).digest('base64url') : `hash-${seq}`,
    principal: rng.chance(0.2) ? 'alice' : null,
  };
}

/** A UUID from the seeded source, so a failing seed replays. */
function uuidFrom(rng: Prng): string {
  const hex = [...Array(16)].map(() => rng.below(256).toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The same operations on both tables: create, finish (some kept whole), retain the newest `keep`. */
class Twins {
  readonly small: TxTable;
  readonly plain = new TxTable();
  private seq = 0;
  private readonly open: string[] = [];

  constructor(
    private readonly rng: Prng,
    handleLimit: number,
    private readonly keep: number,
  ) {
    this.small = new TxTable(handleLimit);
  }

  step(): void {
    if (this.open.length < 8 || this.rng.chance(0.5)) {
      const seq = ++this.seq;
      // Upper-case UUIDs are not the canonical form: they stay strings, as do ids that are no UUID.
      const id = this.rng.chance(0.8) ? uuidFrom(this.rng) : this.rng.chance(0.5) ? uuidFrom(this.rng).toUpperCase() : `tx-${seq}`;
      const rec = unfinished(id, seq, this.rng);
      this.small.insert(rec);
      this.plain.insert(structuredClone(rec));
      this.open.push(id);
      return;
    }
    const id = this.open.splice(this.rng.below(this.open.length), 1)[0]!;
    const abandon = this.rng.chance(0.05);
    for (const table of [this.small, this.plain]) {
      const tx = table.get(id)!;
      tx.state = 'committed';
      tx.completedAt = tx.createdAt + 5;
      for (const p of tx.participants) p.acknowledged = true;
      // A participant abandoned: kept whole, not compacted.
      if (abandon) tx.participants[0]!.abandoned = 'presumed-abort';
      table.markFinished(tx);
    }
    while (this.small.finishedCount > this.keep) {
      const oldest = this.small.finishedIds().next().value!;
      expect(this.plain.finishedIds().next().value).toBe(oldest);
      const { principal, idempotencyKey } = this.small.get(oldest)!;
      this.small.remove(oldest);
      this.plain.remove(oldest);
      if (idempotencyKey !== null) expect(this.small.getByKey(principal, idempotencyKey)).toBeUndefined();
    }
  }
}

function expectSame(a: TxTable, b: TxTable): void {
  expect(a.finishedCount).toBe(b.finishedCount);
  expect([...a.finishedIds()]).toEqual([...b.finishedIds()]);
  expect([...a.ids()]).toEqual([...b.ids()]);
  for (const id of b.ids()) {
    const tx = b.get(id)!;
    expect(a.get(id)).toEqual(tx);
    // Read in place, without a record: the same state as the record's.
    expect(a.stateOf(id)).toBe(tx.state);
    // The key index follows each row through finishing, renumbering and restores.
    if (tx.idempotencyKey === null) continue;
    expect(a.getByKey(tx.principal, tx.idempotencyKey)).toEqual(tx);
    expect(a.detachedByKey(tx.principal, tx.idempotencyKey)).toEqual(tx);
    expect(a.getByKey(tx.principal === null ? 'mallory' : null, tx.idempotencyKey)).toBeUndefined();
  }
  expect(a.stateOf('no-such-transaction')).toBeUndefined();
  expect(Buffer.from(a.encode()).equals(Buffer.from(b.encode()))).toBe(true);
}

describe('TxTable with the finished store', () => {
  it('reads and encodes the same with handles renumbered every few chunks, retention dropping chunks meanwhile', () => {
    const rng = new Prng(7);
    // Room for 4 chunks of handles, 1.5 chunks retained: a renumbering every few thousand completions.
    const t = new Twins(rng, 4 * CHUNK_SLOTS, CHUNK_SLOTS + CHUNK_SLOTS / 2);
    for (let i = 0; i < 12 * CHUNK_SLOTS; i++) t.step();
    expectSame(t.small, t.plain);
    const copy = new TxTable();
    copy.decodeInto(t.small.encode());
    expectSame(copy, t.plain);
  });

  it('encodes a capture in slices to the bytes of its moment while rows finish, chunks drop and handles renumber', () => {
    const rng = new Prng(11);
    const t = new Twins(rng, 4 * CHUNK_SLOTS, CHUNK_SLOTS);
    for (let i = 0; i < 3 * CHUNK_SLOTS; i++) t.step();
    for (let round = 0; round < 6; round++) {
      const expected = Buffer.from(t.plain.encode());
      const enc = steppedEncoding((w) => tableSnapshotSteps(t.small.capture(), w), 'utf8');
      const pieces: Buffer[] = [];
      for (let more = true; more; ) {
        more = enc.step();
        pieces.push(Buffer.from(enc.piece()));
        // About a chunk's worth of completions over the encoding: the capture's first chunk is dropped from the store.
        for (let i = 0; i < 400; i++) t.step();
      }
      expect(pieces.length).toBeGreaterThan(5);
      expect(Buffer.concat(pieces).equals(expected), `round ${round}`).toBe(true);
    }
    expectSame(t.small, t.plain);
  });

  it('restores into a store that renumbers its handles while it moves the rows into completion order', () => {
    // Completed in creation order: the moves empty the oldest chunks first, so the store
    // drops them and then, at the limit of 4 chunks of handles, renumbers every handle
    // with a quarter of the rows still to move. A restore that kept the handles it read
    // before the moves would move the wrong rows, or none.
    const rng = new Prng(5);
    const source = new TxTable();
    const ids: string[] = [];
    for (let seq = 1; seq <= 2.5 * CHUNK_SLOTS; seq++) {
      const id = uuidFrom(rng);
      source.insert(unfinished(id, seq, rng));
      ids.push(id);
    }
    for (const id of ids) {
      const tx = source.get(id)!;
      tx.state = 'committed';
      tx.completedAt = tx.createdAt + 5;
      for (const p of tx.participants) p.acknowledged = true;
      source.markFinished(tx);
    }
    const restored = new TxTable(4 * CHUNK_SLOTS);
    restored.decodeInto(source.encode());
    expectSame(restored, source);
  });

  it('refuses a finishedOrder that names an unfinished row, a row twice, no row, or not every finished row', () => {
    const rng = new Prng(9);
    const done = unfinished(uuidFrom(rng), 1, rng);
    done.state = 'committed';
    done.completedAt = done.createdAt + 5;
    for (const p of done.participants) p.acknowledged = true;
    const open = unfinished(uuidFrom(rng), 2, rng);
    const snapshot = (positions: number[]): Uint8Array =>
      encodeTableSnapshot({
        rowCount: 2,
        forEachRow: (visit) => [done, open].forEach((row) => visit(row)),
        finishedPositions: Uint32Array.from(positions),
      });
    const refusal = (positions: number[]): string | null => {
      try {
        new TxTable().decodeInto(snapshot(positions));
        return null;
      } catch (e) {
        expect(e).toMatchObject({ code: 'DATA_CORRUPT' });
        return (e as Error).message;
      }
    };
    expect(refusal([0])).toBeNull();
    expect(refusal([1])).toMatch(/finishedOrder is inconsistent/);
    expect(refusal([0, 0])).toMatch(/finishedOrder is inconsistent/);
    expect(refusal([2])).toMatch(/finishedOrder is inconsistent/);
    expect(refusal([])).toMatch(/finishedOrder misses transactions/);
  });

  it('restores a snapshot into completion order, whatever the creation order', () => {
    const rng = new Prng(3);
    const t = new Twins(rng, 4 * CHUNK_SLOTS, 2 * CHUNK_SLOTS);
    for (let i = 0; i < 5 * CHUNK_SLOTS; i++) t.step();
    const restored = new TxTable(4 * CHUNK_SLOTS);
    restored.decodeInto(t.plain.encode());
    expectSame(restored, t.plain);
    // Retention goes on from the restored table exactly as from the original.
    const oldest = [...t.plain.finishedIds()].slice(0, 10);
    for (const id of oldest) {
      restored.remove(id);
      t.plain.remove(id);
    }
    expectSame(restored, t.plain);
  });
});
