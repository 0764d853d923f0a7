// The table's index of its rows (row-index.ts) against the JS Map it stands
// for (model-based), with the real finished store holding the finished rows'
// ids, and the UUID packing both rest on: what a Map does with sets, deletes,
// clears and iteration order, this must do too, for packed ids, ids that are
// not UUIDs, and a mix, while the store renumbers its handles and drops chunks.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FinishedStore } from '../../src/tx/finished-store.js';
import { CHUNK_SLOTS, createFinishedInterners } from '../../src/tx/finished-tx.js';
import { RowIndex } from '../../src/tx/row-index.js';
import type { TxRecord } from '../../src/tx/types.js';
import { hashWords, packUuid, UUID_WORDS, unpackUuid } from '../../src/tx/uuid-words.js';
import { Prng } from '../../src/util/random.js';
import { finishedRecord } from './finished-record.js';

const uuidOf = (bytes: Uint8Array): string => {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

type Row = TxRecord | number;

function expectSameAs(map: RowIndex<TxRecord>, model: Map<string, Row>): void {
  expect(map.size).toBe(model.size);
  expect([...map.keys()]).toEqual([...model.keys()]);
  expect([...map.values()]).toEqual([...model.values()]);
}

function record(id: string, seq: number): TxRecord {
  return finishedRecord({ id, seq, createdAt: 1_780_000_000_000 + seq });
}

/**
 * An index over a store, and the model beside it, as the table keeps them: a
 * record while unfinished, a handle once finished (the store given the row),
 * deleted from the index before the store removes the slot, and every handle
 * shifted when the store renumbers.
 */
class Harness {
  readonly model = new Map<string, Row>();
  readonly store: FinishedStore;
  readonly map: RowIndex<TxRecord>;
  shifts = 0;
  private seq = 0;

  constructor(handleLimit?: number) {
    this.store = new FinishedStore(
      createFinishedInterners(16, 16),
      (by) => {
        this.shifts++;
        this.map.shiftHandles(by);
        for (const [id, row] of this.model) if (typeof row === 'number') this.model.set(id, row + by);
      },
      handleLimit,
    );
    this.map = new RowIndex(this.store);
  }

  /** A fresh record for `id`: a new row, or a present one's record replaced (a Map.set of another value). */
  open(id: string): void {
    const rec = record(id, ++this.seq);
    const before = this.model.get(id);
    this.map.set(id, rec);
    this.model.set(id, rec);
    if (typeof before === 'number') this.store.remove(before);
  }

  finish(id: string): void {
    const row = this.model.get(id);
    if (row === undefined || typeof row === 'number') return;
    const h = this.store.add(row);
    this.map.set(id, h);
    this.model.set(id, h);
  }

  delete(id: string): void {
    const row = this.model.get(id);
    expect(this.map.delete(id)).toBe(this.model.delete(id));
    if (typeof row === 'number') this.store.remove(row);
  }

  clear(): void {
    this.map.clear();
    this.model.clear();
    this.store.clear();
  }
}

describe('uuid words', () => {
  it('packs every canonical lowercase UUID and unpacks the same string', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const id = uuidOf(bytes);
        const words = new Uint32Array(UUID_WORDS + 2);
        expect(packUuid(id, words, 1)).toBe(true);
        expect(unpackUuid(words, 1)).toBe(id);
        expect(words[0]).toBe(0);
        expect(words[UUID_WORDS + 1]).toBe(0);
      }),
    );
    const words = new Uint32Array(UUID_WORDS);
    const id = randomUUID();
    expect(packUuid(id, words, 0)).toBe(true);
    expect(unpackUuid(words, 0)).toBe(id);
  });

  it('refuses what is not a canonical lowercase UUID, so nothing else could come back as one', () => {
    const words = new Uint32Array(UUID_WORDS);
    const id = randomUUID();
    for (const other of [
      id.toUpperCase(),
      `${id}0`,
      id.slice(1),
      id.replace(/-/g, 'a'),
      `${id.slice(0, 8)}0${id.slice(9)}`,
      `g${id.slice(1)}`,
      `\u00e9${id.slice(1)}`,
      `${id.slice(0, 35)}\u0100`,
      'tx-1',
      '',
    ]) {
      if (other === id) continue;
      expect(packUuid(other, words, 0), other).toBe(false);
    }
    fc.assert(
      fc.property(fc.string({ minLength: 36, maxLength: 36 }), (s) => {
        const packed = packUuid(s, words, 0);
        expect(packed).toBe(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(s));
        if (packed) expect(unpackUuid(words, 0)).toBe(s);
      }),
    );
  });

  it('spreads ids that differ in one word only (tests make such ids)', () => {
    const words = new Uint32Array(UUID_WORDS);
    const buckets = new Set<number>();
    for (let n = 0; n < 4096; n++) {
      words[3] = n;
      buckets.add(hashWords(words, 0) & 4095);
    }
    // A hash that ignored the low word, or kept its low bits as they are, would fail one way or the other.
    expect(buckets.size).toBeGreaterThan(2400);
  });
});

describe('RowIndex', () => {
  // Ids drawn from a small pool, so sets hit present ids and deletes hit absent ones.
  const pool = [...Array(12)].map((_, i) => uuidOf(new Uint8Array(16).fill(i * 17)));
  pool.push('tx-1', 'tx-2', '', pool[0]!.toUpperCase(), 'caf\u00e9', `${pool[1]!.slice(0, 35)}z`);
  const op = fc.oneof(
    fc.record({ kind: fc.constantFrom('open' as const, 'finish' as const, 'delete' as const), id: fc.constantFrom(...pool) }),
    fc.record({ kind: fc.constant('clear' as const) }),
  );

  it('does what a Map does, op by op, for packed ids, string ids and both, records and handles', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const h = new Harness();
        for (const o of ops) {
          switch (o.kind) {
            case 'open':
              h.open(o.id);
              break;
            case 'finish':
              h.finish(o.id);
              break;
            case 'delete':
              h.delete(o.id);
              break;
            case 'clear':
              h.clear();
              break;
          }
          // The op's own id again, at once: the lookup that repeats the one before (a set's,
          // a delete's) is answered from where the index last found it, and must still be right.
          if (o.kind !== 'clear') {
            expect(h.map.get(o.id)).toBe(h.model.get(o.id));
            expect(h.map.has(o.id)).toBe(h.model.has(o.id));
          }
          for (const id of pool) {
            expect(h.map.has(id)).toBe(h.model.has(id));
            expect(h.map.get(id)).toBe(h.model.get(id));
          }
        }
        expectSameAs(h.map, h.model);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps order and contents through many rebuilds and renumberings at full retention, as the table runs', () => {
    const rng = new Prng(5);
    // Room for 3 chunks of handles: the store renumbers every few thousand completions.
    const h = new Harness(3 * CHUNK_SLOTS);
    const keep = 3_000;
    const order: string[] = [];
    for (let n = 0; n < 60_000; n++) {
      const id = rng.chance(0.9) ? randomUUID() : `odd-${n}`;
      h.open(id);
      order.push(id);
      h.finish(order[order.length - 1 - rng.below(Math.min(order.length, 8))]!);
      // Retention takes the oldest; now and then a random one goes (a failed create).
      if (h.model.size > keep) h.delete(order.shift()!);
      if (rng.chance(0.05)) h.delete(order[rng.below(order.length)]!);
      if (n % 10_000 === 0) expectSameAs(h.map, h.model);
    }
    expect(h.shifts).toBeGreaterThan(2);
    expectSameAs(h.map, h.model);
    for (const id of order) expect(h.map.get(id)).toBe(h.model.get(id));
    expect(h.map.get('absent')).toBeUndefined();
  });

  it('hands an entry over by handle when the store moves its slot, even once the old chunk is dropped', () => {
    const h = new Harness();
    const ids = [...Array(CHUNK_SLOTS + 10)].map((_, n) => (n % 7 === 0 ? `odd-${n}` : randomUUID()));
    for (const id of ids) {
      h.open(id);
      h.finish(id);
    }
    // Move every row of the first chunk to the end: the last move drops that chunk.
    for (const id of ids.slice(0, CHUNK_SLOTS)) {
      const from = h.model.get(id) as number;
      const to = h.store.moveToEnd(from);
      expect(h.map.replaceHandle(from, to)).toBe(true);
      h.model.set(id, to);
    }
    expect(h.store.denseSize).toBe(2 * CHUNK_SLOTS);
    for (const id of ids) {
      expect(h.map.get(id)).toBe(h.model.get(id));
      expect(h.store.id(h.map.get(id) as number)).toBe(id);
    }
    expectSameAs(h.map, h.model);
    // No entry holds a handle it was never given.
    const last = h.model.get(ids.at(-1)!) as number;
    expect(h.map.replaceHandle(last + 1_000_000, last)).toBe(false);
  });

  it('answers a lookup repeated across a clear from the index as it is now, not from where it last found the id', () => {
    const h = new Harness();
    h.open('tx-1');
    h.finish('tx-1');
    expect(h.map.has('tx-1')).toBe(true);
    h.clear();
    expect(h.map.has('tx-1')).toBe(false);
    expect(h.map.get('tx-1')).toBeUndefined();
    expect(h.map.delete('tx-1')).toBe(false);
    expect(h.map.size).toBe(0);
  });

  it('refuses a record of another id, and a number that is no handle', () => {
    const h = new Harness();
    expect(() => h.map.set('tx-1', record('tx-2', 1))).toThrow(/record of tx-2 set for tx-1/);
    expect(() => h.map.set('tx-1', -1)).toThrow(RangeError);
    expect(() => h.map.set('tx-1', 1.5)).toThrow(RangeError);
    expect(h.map.size).toBe(0);
  });

  it('walks skip entries deleted meanwhile, and refuse a set that rebuilt the column under them', () => {
    const h = new Harness();
    const ids = [...Array(40)].map(() => randomUUID());
    for (const id of ids) h.open(id);
    const walk = h.map.values();
    expect((walk.next().value as TxRecord).id).toBe(ids[0]);
    h.delete(ids[1]!);
    h.delete(ids[39]!);
    expect([...walk].map((r) => (r as TxRecord).id)).toEqual(ids.slice(2, 39));

    const keys = h.map.keys();
    expect(keys.next().value).toBe(ids[0]);
    // 38 live in 64 entries, 40 used: a few dozen sets rebuild them.
    for (let n = 0; n < 30; n++) h.open(randomUUID());
    expect(() => [...keys]).toThrow(/during a walk/);
    const cleared = h.map.values();
    cleared.next();
    h.clear();
    expect(() => cleared.next()).toThrow(/during a walk/);
  });
});
