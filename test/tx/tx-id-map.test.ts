// TxIdMap against the JS Map it replaces (model-based), and the UUID packing
// it rests on: what a Map does with sets, deletes, clears and iteration order,
// this must do too, for packed ids, ids that are not UUIDs, and a mix.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TxIdMap } from '../../src/tx/tx-id-map.js';
import { hashWords, packUuid, UUID_WORDS, unpackUuid } from '../../src/tx/uuid-words.js';
import { Prng } from '../../src/util/random.js';

const uuidOf = (bytes: Uint8Array): string => {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

function expectSameAs<V>(map: TxIdMap<V>, model: Map<string, V>): void {
  expect(map.size).toBe(model.size);
  expect([...map.keys()]).toEqual([...model.keys()]);
  expect([...map.values()]).toEqual([...model.values()]);
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

describe('TxIdMap', () => {
  // Ids drawn from a small pool, so sets hit present ids and deletes hit absent ones.
  const pool = [...Array(12)].map((_, i) => uuidOf(new Uint8Array(16).fill(i * 17)));
  pool.push('tx-1', 'tx-2', '', pool[0]!.toUpperCase(), 'caf\u00e9', `${pool[1]!.slice(0, 35)}z`);
  // Values as the table's: numbers (store handles) in a column, objects (records) boxed by
  // entry; -0 and NaN included, and objects told apart by identity.
  type Value = number | { readonly record: number };
  const records = [{ record: 1 }, { record: 1 }, { record: 2 }];
  const value = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(...records));
  const op = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), id: fc.constantFrom(...pool), value }),
    fc.record({ kind: fc.constant('delete' as const), id: fc.constantFrom(...pool) }),
    fc.record({ kind: fc.constant('clear' as const) }),
  );

  it('does what a Map does, op by op, for packed ids, string ids and both', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const map = new TxIdMap<Value>();
        const model = new Map<string, Value>();
        for (const o of ops) {
          switch (o.kind) {
            case 'set':
              map.set(o.id, o.value);
              model.set(o.id, o.value);
              break;
            case 'delete':
              expect(map.delete(o.id)).toBe(model.delete(o.id));
              break;
            case 'clear':
              map.clear();
              model.clear();
              break;
          }
          // The op's own id again, at once: the lookup that repeats the one before (a set's,
          // a delete's) is answered from where the map last found it, and must still be right.
          if (o.kind !== 'clear') {
            expect(map.get(o.id)).toBe(model.get(o.id));
            expect(map.has(o.id)).toBe(model.has(o.id));
          }
          for (const id of pool) {
            expect(map.has(id)).toBe(model.has(id));
            expect(map.get(id)).toBe(model.get(id));
          }
        }
        expectSameAs(map, model);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps order and contents through many rebuilds at full retention, as the table runs', () => {
    const rng = new Prng(5);
    // A record while active, a handle once finished: values move between the two forms.
    const map = new TxIdMap<number | { readonly n: number }>();
    const model = new Map<string, number | { readonly n: number }>();
    const keep = 5_000;
    const order: string[] = [];
    for (let n = 0; n < 60_000; n++) {
      const id = rng.chance(0.9) ? randomUUID() : `odd-${n}`;
      const active = { n };
      map.set(id, active);
      model.set(id, active);
      order.push(id);
      const finishing = order[order.length - 1 - rng.below(Math.min(order.length, 50))]!;
      if (model.has(finishing)) {
        map.set(finishing, n);
        model.set(finishing, n);
      }
      // Retention takes the oldest; now and then a random one goes (a failed create), or a present one is set again.
      if (model.size > keep) {
        const oldest = order.shift()!;
        expect(map.delete(oldest)).toBe(model.delete(oldest));
      }
      if (rng.chance(0.05)) {
        const any = order[rng.below(order.length)]!;
        expect(map.delete(any)).toBe(model.delete(any));
      }
      if (rng.chance(0.05)) {
        const any = order[rng.below(order.length)]!;
        if (model.has(any)) {
          map.set(any, -n);
          model.set(any, -n);
        }
      }
      if (n % 10_000 === 0) expectSameAs(map, model);
    }
    expectSameAs(map, model);
    for (const id of order) expect(map.get(id)).toBe(model.get(id));
  });

  it('walks skip entries deleted meanwhile, and refuse a set that rebuilt the columns under them', () => {
    const map = new TxIdMap<number>();
    const ids = [...Array(40)].map(() => randomUUID());
    ids.forEach((id, n) => map.set(id, n));
    const walk = map.values();
    expect(walk.next().value).toBe(0);
    map.delete(ids[1]!);
    map.delete(ids[39]!);
    expect([...walk]).toEqual([...Array(37)].map((_, k) => k + 2));

    const keys = map.keys();
    expect(keys.next().value).toBe(ids[0]);
    // 38 live in 64 columns, 40 used: a few dozen sets rebuild them.
    for (let n = 0; n < 30; n++) map.set(randomUUID(), 100 + n);
    expect(() => [...keys]).toThrow(/during a walk/);
    const cleared = map.values();
    cleared.next();
    map.clear();
    expect(() => cleared.next()).toThrow(/during a walk/);
  });
});
