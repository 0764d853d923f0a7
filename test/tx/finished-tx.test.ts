// The compact form of a finished transaction gives back exactly the record it
// was made from (payloads aside, which it never keeps): createdAt, the client
// fields folded into one or absent, the decision, protocol and times. And the
// store that holds them: completion order, removal, captures that outlive it,
// and handles renumbered at their limit.
import { createHash, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FinishedStore } from '../../src/tx/finished-store.js';
import { CHUNK_SLOTS, createFinishedInterners, createPartsInterner, FinishedRow } from '../../src/tx/finished-tx.js';
import type { TxRecord } from '../../src/tx/types.js';
import { finishedRecord } from './finished-record.js';

const finished = finishedRecord;

function newStore(handleLimit?: number): FinishedStore {
  return new FinishedStore(createFinishedInterners(16, 16), () => {}, handleLimit);
}

describe('the compact form', () => {
  const store = newStore();
  const roundTrip = (tx: TxRecord): TxRecord => {
    const row = store.row(store.add(tx));
    expect(row).toBeInstanceOf(FinishedRow);
    return (row as FinishedRow).toRecord();
  };

  it('gives back the record, whatever createdAt is', () => {
    const first = finished();
    expect(roundTrip(first)).toEqual(first);
    for (const createdAt of [first.createdAt + 1, first.createdAt - 86_400_000, first.createdAt + 90 * 86_400_000, 12.5, 0, -3]) {
      const tx = finished({
        id: `tx-${createdAt}`,
        createdAt,
        deadlineAt: createdAt + 30_000,
        decidedAt: createdAt + 5,
        completedAt: createdAt + 9,
      });
      expect(roundTrip(tx)).toEqual(tx);
    }
  });

  it('gives back the client fields, any of them set, packed (the SDK UUID key and sha256 hash) or not', () => {
    const sdkKey = randomUUID();
    const sdkHash = createHash('sha256').update('request').digest('base64url');
    // Same length as a sha256 in base64url, but its last character has bits a decode drops: it must not pack.
    const lossyHash = `${sdkHash.slice(0, 42)}${sdkHash.endsWith('B') ? 'C' : 'B'}`;
    for (const over of [
      { idempotencyKey: 'k-1', requestHash: 'h'.repeat(64), principal: 'alice' },
      { idempotencyKey: null, requestHash: null, principal: 'bob' },
      { idempotencyKey: 'k-2', requestHash: null, principal: null },
      { idempotencyKey: sdkKey, requestHash: sdkHash, principal: null },
      { idempotencyKey: sdkKey, requestHash: sdkHash, principal: 'carol' },
      { idempotencyKey: sdkKey, requestHash: null, principal: null },
      { idempotencyKey: null, requestHash: sdkHash, principal: null },
      { idempotencyKey: sdkKey.toUpperCase(), requestHash: sdkHash, principal: null },
      { idempotencyKey: sdkKey, requestHash: lossyHash, principal: 'dave' },
      { idempotencyKey: sdkKey, requestHash: `${sdkHash.slice(0, 42)}=`, principal: null },
      { idempotencyKey: 'k-3', requestHash: sdkHash, principal: null },
    ]) {
      const tx = finished(over);
      const row = store.row(store.add(tx));
      expect([row.idempotencyKey, row.requestHash, row.principal]).toEqual([over.idempotencyKey, over.requestHash, over.principal]);
      expect(store.record(store.add(tx))).toEqual(tx);
      // A move within the store (a restore's) copies them, whichever form they took.
      expect(store.record(store.moveToEnd(store.add(tx)))).toEqual(tx);
    }
  });

  it('gives back an abort, 3PC and a decision reason', () => {
    const tx = finished({ state: 'aborted', decision: 'abort', protocol: '3pc', decisionReason: 'participant a voted abort' });
    const row = store.row(store.add(tx));
    expect([row.state, row.decision, row.protocol, row.createdAt]).toEqual(['aborted', 'abort', '3pc', tx.createdAt]);
    expect(roundTrip(tx)).toEqual(tx);
  });

  it('keeps whole, as a copy of its own, a record it cannot compact', () => {
    const failing = finished({ id: 'tx-whole' });
    failing.participants[0]!.abandoned = 'presumed-abort';
    const far = finished({ id: 'tx-far', deadlineAt: 1_780_000_000_000 + 2 ** 31 });
    for (const tx of [failing, far]) {
      const h = store.add(tx);
      expect(store.row(h)).not.toBeInstanceOf(FinishedRow);
      const before = structuredClone(tx);
      tx.participants[0]!.lastError = 'changed afterwards';
      expect(store.record(h)).toEqual(before);
      // A record handed out is the caller's to change.
      store.record(h).participants[0]!.lastError = 'changed by a reader';
      expect(store.record(h)).toEqual(before);
    }
  });
});

describe('the participant-list interner', () => {
  it('shares equal lists, and only equal ones: another value, a null, a prefix or a longer list is another list', () => {
    const intern = createPartsInterner(100);
    const list = (...values: Array<string | null>): Array<'commit' | 'abort' | string | null> => values;
    const ab = intern(list('a', 'http://a', 'commit', 'b', 'http://b', 'commit'));
    expect(Object.isFrozen(ab)).toBe(true);
    expect(intern(list('a', 'http://a', 'commit', 'b', 'http://b', 'commit'))).toBe(ab);
    const others = [
      list('a', 'http://a', 'commit', 'b', 'http://b', 'abort'),
      list('a', 'http://a', 'commit', 'b', 'http://b', null),
      list('a', 'http://a', 'commit'),
      list('a', 'http://a', 'commit', 'b', 'http://b', 'commit', 'c', 'http://c', 'commit'),
      list('a', 'http://a,commit', 'b', 'http://b', 'commit'),
      list(),
    ];
    const shared = others.map((o) => intern([...o]));
    for (const [i, o] of others.entries()) {
      expect(shared[i]).toEqual(o);
      expect(shared[i]).not.toBe(ab);
      expect(intern([...o])).toBe(shared[i]);
    }
    expect(intern(list('a', 'http://a', 'commit'))).toBe(shared[2]);
  });

  it('starts over past its bound, and still gives back equal values', () => {
    const intern = createPartsInterner(2);
    const first = intern(['a', 'http://a', 'commit']);
    intern(['b', 'http://b', 'commit']);
    // A third distinct list: the two known ones are forgotten.
    const third = intern(['c', 'http://c', 'commit']);
    expect(intern(['c', 'http://c', 'commit'])).toBe(third);
    const again = intern(['a', 'http://a', 'commit']);
    expect(again).toEqual(first);
    expect(again).not.toBe(first);
  });
});

describe('FinishedStore', () => {
  const ids = (s: FinishedStore): string[] => [...s.handles()].map((h) => s.id(h));

  it('keeps completion order through removals, and drops chunks whose slots are all removed', () => {
    const store = newStore();
    const n = 2 * CHUNK_SLOTS + 10;
    const handles = Array.from({ length: n }, (_, i) => store.add(finished({ id: `tx-${i}`, seq: i })));
    expect(store.size).toBe(n);
    store.remove(handles[5]!);
    store.remove(handles[5]!); // twice is once
    expect(store.size).toBe(n - 1);
    expect(ids(store).slice(0, 6)).toEqual(['tx-0', 'tx-1', 'tx-2', 'tx-3', 'tx-4', 'tx-6']);
    expect(store.has(handles[5]!)).toBe(false);
    const reader = store.capture();
    for (let i = 0; i < CHUNK_SLOTS + 3; i++) store.remove(handles[i]!);
    // The first chunk is gone from the store...
    expect(() => store.row(handles[0]!)).toThrow(RangeError);
    expect(store.first()).toBe(handles[CHUNK_SLOTS + 3]);
    expect(store.size).toBe(n - CHUNK_SLOTS - 3);
    // ...but a capture taken before still reads every slot it had, removed ones too.
    expect(reader.row(handles[0]!).id).toBe('tx-0');
    expect(reader.row(handles[5]!).seq).toBe(5);
    // Slots are never reused: new ones get new handles.
    const next = store.add(finished({ id: 'tx-next' }));
    expect(handles).not.toContain(next);
    expect(ids(store).at(-1)).toBe('tx-next');
  });

  it('moves a slot to the end, keeping its values', () => {
    const store = newStore();
    const a = store.add(finished({ id: 'a', seq: 1, decisionReason: 'why' }));
    store.add(finished({ id: 'b', seq: 2 }));
    const moved = store.moveToEnd(a);
    expect(ids(store)).toEqual(['b', 'a']);
    expect(store.record(moved)).toEqual(finished({ id: 'a', seq: 1, decisionReason: 'why' }));
    expect(() => store.moveToEnd(a)).toThrow(RangeError);
  });

  it('renumbers its handles at the limit and tells the owner the one shift that maps them all', () => {
    const owner = new Map<string, number>();
    let shifts = 0;
    const limit = 4 * CHUNK_SLOTS;
    const store = new FinishedStore(
      createFinishedInterners(16, 16),
      (by) => {
        shifts++;
        expect(by).toBeLessThan(0);
        for (const [id, h] of owner) owner.set(id, h + by);
      },
      limit,
    );
    let next = 0;
    const add = (): void => {
      const id = `tx-${next}`;
      owner.set(id, store.add(finished({ id, seq: next++ })));
    };
    // Keep a window of 1.5 chunks alive while 20 chunks' worth of handles go by.
    for (let i = 0; i < 20 * CHUNK_SLOTS; i++) {
      add();
      if (owner.size > CHUNK_SLOTS + CHUNK_SLOTS / 2) {
        const oldest = store.id(store.first()!);
        store.remove(owner.get(oldest)!);
        owner.delete(oldest);
      }
    }
    expect(shifts).toBeGreaterThan(3);
    expect(store.size).toBe(owner.size);
    for (const [id, h] of owner) {
      expect(h).toBeLessThan(limit);
      expect(store.id(h)).toBe(id);
    }
    expect(ids(store)).toEqual([...owner.keys()]);
  });

  it('refuses a handle limit that is not a whole number of chunks', () => {
    expect(() => newStore(CHUNK_SLOTS)).toThrow(RangeError);
    expect(() => newStore(3 * CHUNK_SLOTS + 1)).toThrow(RangeError);
  });
});
