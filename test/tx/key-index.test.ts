// The table's idempotency-key index (key-index.ts) against a model: a plain Map
// from (principal, key) to the id of the transaction holding it, updated as the
// table's contract says (a newer holder takes the key; removing an older one
// leaves it; finishing, moving and renumbering keep it). Keys are drawn from a
// small pool, so holders replace each other and the index's slots fill with
// tombstones and rebuild; they come in every form the store keeps: a UUID
// packed in the chunk, a UUID kept as a string (its request hash did not pack),
// an upper-case UUID, any other string, and in whole records.
import { describe, expect, it } from 'vitest';
import { CHUNK_SLOTS } from '../../src/tx/finished-tx.js';
import { KeyIndex, keyHash, keyIndex, KeyProbe } from '../../src/tx/key-index.js';
import { TxTable } from '../../src/tx/tx-table.js';
import { freshParticipant, type TxRecord } from '../../src/tx/types.js';
import { Prng } from '../../src/util/random.js';

const PRINCIPALS = [null, 'alice', 'bob'] as const;
const SHA256_B64URL = 'n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg';

function uuidFrom(rng: Prng): string {
  const hex = [...Array(16)].map(() => rng.below(256).toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A pool of keys of every form, so that holders of one key come and go. */
function keyPool(rng: Prng, size: number): string[] {
  return [...Array(size)].map((_, k) => {
    switch (k % 3) {
      case 0:
        return uuidFrom(rng);
      case 1:
        return uuidFrom(rng).toUpperCase();
      default:
        return `key-${k}`;
    }
  });
}

class Model {
  readonly table: TxTable;
  /** keyIndex(principal, key) -> id of the holder. */
  readonly holders = new Map<string, string>();
  readonly keys: string[];
  private seq = 0;
  private readonly open: string[] = [];
  private readonly done: string[] = [];

  constructor(
    private readonly rng: Prng,
    handleLimit: number,
    private readonly keep: number,
  ) {
    this.table = new TxTable(handleLimit);
    this.keys = keyPool(rng, 300);
  }

  step(): void {
    const r = this.rng.below(10);
    if (r < 4 || this.open.length === 0) this.create();
    else if (r < 8) this.finish();
    else if (this.done.length > 0) this.removeAny();
    while (this.done.length > this.keep) this.remove(this.done.shift()!);
  }

  private create(): void {
    const seq = ++this.seq;
    const id = uuidFrom(this.rng);
    const key = this.rng.chance(0.8) ? this.keys[this.rng.below(this.keys.length)]! : null;
    const principal = PRINCIPALS[this.rng.below(PRINCIPALS.length)]!;
    const createdAt = 1_780_000_000_000 + seq;
    const tx: TxRecord = {
      id,
      seq,
      state: 'committing',
      protocol: '2pc',
      participants: ['a', 'b'].map((name) => ({
        ...freshParticipant({ name, url: `http://127.0.0.1:1/${name}`, payload: null }),
        vote: 'commit' as const,
      })),
      createdAt,
      deadlineAt: createdAt + 30_000,
      decision: 'commit',
      decisionReason: null,
      decidedAt: createdAt + 2,
      completedAt: null,
      idempotencyKey: key,
      // A hash that packs lets a UUID key pack too; one that does not keeps the key a string.
      requestHash: key === null ? null : this.rng.chance(0.7) ? SHA256_B64URL : `hash-${seq}`,
      principal,
    };
    this.table.insert(tx);
    if (key !== null) this.holders.set(keyIndex(principal, key), id);
    this.open.push(id);
  }

  private finish(): void {
    const id = this.open.splice(this.rng.below(this.open.length), 1)[0]!;
    const tx = this.table.get(id)!;
    tx.state = 'committed';
    tx.completedAt = tx.createdAt + 5;
    for (const p of tx.participants) p.acknowledged = true;
    // Kept whole by the store, not compacted.
    if (this.rng.chance(0.05)) tx.participants[0]!.abandoned = 'presumed-abort';
    this.table.markFinished(tx);
    this.done.push(id);
  }

  private removeAny(): void {
    this.remove(this.done.splice(this.rng.below(this.done.length), 1)[0]!);
  }

  private remove(id: string): void {
    const { principal, idempotencyKey } = this.table.get(id)!;
    this.table.remove(id);
    if (idempotencyKey === null) return;
    const k = keyIndex(principal, idempotencyKey);
    if (this.holders.get(k) === id) this.holders.delete(k);
  }

  check(table: TxTable = this.table): void {
    for (const key of this.keys) {
      for (const principal of PRINCIPALS) {
        const holder = this.holders.get(keyIndex(principal, key));
        expect(table.getByKey(principal, key)?.id, `${principal}/${key}`).toBe(holder);
        if (holder !== undefined) expect(table.detachedByKey(principal, key)).toEqual(table.get(holder));
      }
      // Another case of the same letters is another key.
      expect(table.getByKey(null, key === key.toUpperCase() ? key.toLowerCase() : key.toUpperCase())?.id).toBe(
        this.holders.get(key === key.toUpperCase() ? key.toLowerCase() : key.toUpperCase()),
      );
    }
  }
}

describe('the idempotency-key index', () => {
  it('follows its model through holders replacing each other, finishing, retention, tombstones and rebuilds', () => {
    const model = new Model(new Prng(21), 1 << 30, 2000);
    for (let i = 0; i < 30_000; i++) {
      model.step();
      if (i % 2500 === 0) model.check();
    }
    model.check();
    expect(model.holders.size).toBeGreaterThan(100);
  });

  it('follows its model while the store renumbers its handles and drops chunks', () => {
    // Room for 4 chunks of handles, 1.5 chunks retained: a renumbering every few thousand completions.
    const model = new Model(new Prng(22), 4 * CHUNK_SLOTS, CHUNK_SLOTS + CHUNK_SLOTS / 2);
    for (let i = 0; i < 15 * CHUNK_SLOTS; i++) {
      model.step();
      if (i % 4000 === 0) model.check();
    }
    model.check();
  });

  it('finds every key of a restored table, with holders moved into completion order under a small handle limit', () => {
    // Unique keys here: with a key held twice, the restore keeps the later holder in
    // creation order, which is what the model keeps only when no holder was removed.
    const rng = new Prng(23);
    const source = new TxTable();
    const ids: string[] = [];
    for (let seq = 1; seq <= 2.5 * CHUNK_SLOTS; seq++) {
      const id = uuidFrom(rng);
      const key = seq % 4 === 0 ? `key-${seq}` : uuidFrom(rng);
      const createdAt = 1_780_000_000_000 + seq;
      source.insert({
        id,
        seq,
        state: 'committed',
        protocol: '2pc',
        participants: [
          { ...freshParticipant({ name: 'a', url: 'http://127.0.0.1:1/a', payload: null }), vote: 'commit', acknowledged: true },
        ],
        createdAt,
        deadlineAt: createdAt + 30_000,
        decision: 'commit',
        decisionReason: null,
        decidedAt: createdAt + 2,
        // Completed in reverse: the restore moves every row.
        completedAt: createdAt + 10 * CHUNK_SLOTS - 2 * seq,
        idempotencyKey: key,
        requestHash: seq % 3 === 0 ? `hash-${seq}` : SHA256_B64URL,
        principal: seq % 5 === 0 ? 'alice' : null,
      });
      ids.push(id);
    }
    const restored = new TxTable(4 * CHUNK_SLOTS);
    restored.decodeInto(source.encode());
    for (const id of ids) {
      const tx = source.get(id)!;
      expect(restored.getByKey(tx.principal, tx.idempotencyKey!)?.id).toBe(id);
      expect(restored.getByKey(tx.principal === null ? 'alice' : null, tx.idempotencyKey!)).toBeUndefined();
    }
    // Retention from the restored table frees the keys.
    for (const id of ids.slice(0, 100)) {
      const tx = restored.get(id)!;
      restored.remove(id);
      expect(restored.getByKey(tx.principal, tx.idempotencyKey!)).toBeUndefined();
    }
  });

  it('hashes a key alike as a string or packed, and a principal into another hash', () => {
    const key = '0b6e1a7c-3f2d-4e5a-9b8c-7d6e5f4a3b2c';
    const probe = new KeyProbe().aim(null, key);
    expect(probe.key.packed).toBe(true);
    expect(probe.hash).toBe(keyHash(null, key));
    expect(new KeyProbe().aim('alice', key).hash).toBe(keyHash('alice', key));
    expect(keyHash('alice', key)).not.toBe(keyHash(null, key));
    expect(keyHash('alice', key)).not.toBe(keyHash('bob', key));
    expect(new KeyProbe().aim(null, key.toUpperCase()).key.packed).toBe(false);
  });

  it('refuses a value that is neither a record nor a handle', () => {
    const index = new KeyIndex<object>({ keyHashAt: () => 0, holdsKey: () => false });
    expect(() => index.set(null, 'k', -1)).toThrow(RangeError);
    expect(() => index.set(null, 'k', 1.5)).toThrow(RangeError);
  });
});
