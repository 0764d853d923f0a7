// The transaction table's index of idempotency keys: (principal, key) -> the
// row of the transaction holding it, the same value the table's rows have (the
// live record of an unfinished transaction, the finished store's handle of a
// finished one).
//
// WHY: the index was a TxIdMap keyed by keyIndex(principal, key), which packs
// a UUID key into 16 bytes of its own and keeps a column of values, kinds and
// hash slots besides: about 4.25 MiB off the V8 heap at 100,000 finished
// transactions with the SDK's keys, twice that while it rebuilt, for keys the
// store's columns already hold. Here a finished holder's entry is its handle
// alone, 4 bytes in a table of slots at most three quarters full, and a byte
// of its hash (1.25 MiB at 100,000); a probe compares its key with the one the
// store holds at that handle. An unfinished holder, a live record with its key
// as strings, stays in a plain Map: maxActiveTransactions bounds those.
//
// The slots use open addressing with linear probing. A delete leaves a
// tombstone, which a later set reuses; when entries and tombstones fill three
// quarters of the slots they are placed again from the store's keys
// (keyHashAt), into slots at most half full, so retention's steady churn (a
// removal for every completion) rebuilds after at least half as many removals
// as there are entries. The store renumbers its handles by one offset
// (finished-store.ts, renumber()), which shiftHandles() applies in place: a
// key's hash does not depend on its handle.
import type { FinishedHandle } from './finished-store.js';
import { hashString, hashTag, hashUuidOrString, hashWords, UuidProbe } from './uuid-words.js';

/**
 * The key of a key-index entry as one string (the unfinished holders' Map, and
 * the driver's flights): idempotency keys are per principal, so one
 * principal's key never finds (or blocks) another's transaction. A key
 * without a principal (no tokens, or an entry from before principals) indexes
 * as it always did; a scoped one starts with NUL, which no HTTP header value
 * can hold.
 */
export function keyIndex(principal: string | null, key: string): string {
  return principal === null ? key : `\u0000${principal}\u0000${key}`;
}

/** A key looked up or set: its principal, the key (packed when it is a canonical UUID, as the store packs it), and keyHash() of both. */
export class KeyProbe {
  principal: string | null = null;
  readonly key = new UuidProbe();
  hash = 0;

  aim(principal: string | null, key: string): this {
    this.principal = principal;
    this.key.aim(key);
    this.hash = withPrincipal(this.key.hash, principal);
    return this;
  }
}

/** What the index reads of a finished holder, by its handle: the finished store. */
export interface KeyedSlots {
  /** keyHash() of the principal and key live slot `h` holds, or -1 if it holds no key. */
  keyHashAt(h: FinishedHandle): number;
  /** Whether live slot `h` holds the probe's principal and key. */
  holdsKey(h: FinishedHandle, probe: KeyProbe): boolean;
}

/** The index's hash of (principal, key): the same whether the key is read as a string or packed (keyHashPacked). */
export function keyHash(principal: string | null, key: string): number {
  return withPrincipal(hashUuidOrString(key), principal);
}

/** keyHash() of a key packed at `words[at]`. */
export function keyHashPacked(principal: string | null, words: Uint32Array, at: number): number {
  return withPrincipal(hashWords(words, at), principal);
}

function withPrincipal(keyPart: number, principal: string | null): number {
  if (principal === null) return keyPart;
  let h = keyPart ^ Math.imul(hashString(principal), 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  return (h ^ (h >>> 13)) & 0x7fffffff;
}

const EMPTY = 0;
const TOMBSTONE = -1;
/** Slots the table starts with, and never goes below: a power of two. */
const MIN_SLOTS = 64;

export class KeyIndex<R extends object> {
  /** Unfinished holders by keyIndex(principal, key). */
  private readonly records = new Map<string, R>();
  /** handle + 1 of a finished holder, EMPTY, or TOMBSTONE; a power of two long. */
  private slots = new Int32Array(MIN_SLOTS);
  /**
   * Eight more bits of each held slot's key hash (hashTag). WHY: a probe passes
   * up to a few slots of other keys, and comparing one means reading the store
   * (its chunk, flags, principal, key words); the tag turns away all but one
   * in 256 of them for a quarter of a MiB at 100,000 keys. Measured with
   * table-memory.js --keys --encode, whose restore sets and moves every key.
   */
  private tags = new Uint8Array(MIN_SLOTS);
  /** Slots holding a handle. */
  private handles = 0;
  private tombstones = 0;
  /** Reused: a lookup allocates nothing for a key it can pack. */
  private readonly probe = new KeyProbe();

  constructor(private readonly store: KeyedSlots) {}

  get size(): number {
    return this.records.size + this.handles;
  }

  get(principal: string | null, key: string): R | FinishedHandle | undefined {
    const record = this.records.get(keyIndex(principal, key));
    if (record !== undefined) return record;
    const at = this.find(this.probe.aim(principal, key));
    return at < 0 ? undefined : this.slots[at]! - 1;
  }

  /**
   * Sets the holder of (principal, key). A handle must be of a live slot that
   * holds that key, as the table's rows give it: the index reads the key there.
   */
  set(principal: string | null, key: string, value: R | FinishedHandle): void {
    if (typeof value !== 'number') {
      const at = this.find(this.probe.aim(principal, key));
      if (at >= 0) this.tombstone(at);
      this.records.set(keyIndex(principal, key), value);
      return;
    }
    if (!Number.isInteger(value) || value < 0 || value >= 0x7fffffff) throw new RangeError(`KeyIndex: ${value} is not a handle`);
    this.records.delete(keyIndex(principal, key));
    const probe = this.probe.aim(principal, key);
    const at = this.find(probe);
    if (at >= 0) {
      this.slots[at] = value + 1;
      return;
    }
    if (this.handles + this.tombstones + 1 > (this.slots.length * 3) / 4) this.rebuild(this.handles + 1);
    this.place(probe.hash, value);
  }

  /** Drops the key's entry if `record` holds it. */
  deleteRecord(principal: string | null, key: string, record: R): void {
    const k = keyIndex(principal, key);
    if (this.records.get(k) === record) this.records.delete(k);
  }

  /**
   * Drops live handle `h`'s entry, if the index has it (it may hold no key, or
   * a later holder of its key may have taken the entry). Call it before the
   * store removes the slot.
   */
  deleteHandle(h: FinishedHandle): void {
    const at = this.slotOf(h, h);
    if (at >= 0) this.tombstone(at);
  }

  /**
   * Gives `from`'s entry, if the index has it, to live handle `to`, which holds
   * the same key (or none): the store moved the slot. `from` may be dead by
   * now, even dropped: only `to` is read.
   */
  replaceHandle(from: FinishedHandle, to: FinishedHandle): void {
    const at = this.slotOf(to, from);
    if (at >= 0) this.slots[at] = to + 1;
  }

  /** Every handle moved by `by` (the store renumbered its slots, keeping their order). */
  shiftHandles(by: number): void {
    const slots = this.slots;
    for (let s = 0; s < slots.length; s++) if (slots[s]! > 0) slots[s] = slots[s]! + by;
  }

  clear(): void {
    this.records.clear();
    this.slots = new Int32Array(MIN_SLOTS);
    this.tags = new Uint8Array(MIN_SLOTS);
    this.handles = 0;
    this.tombstones = 0;
  }

  /** The slot holding the probe's key, or -1. */
  private find(probe: KeyProbe): number {
    const mask = this.slots.length - 1;
    const tag = hashTag(probe.hash);
    for (let s = probe.hash & mask; ; s = (s + 1) & mask) {
      const v = this.slots[s]!;
      if (v === EMPTY) return -1;
      if (v !== TOMBSTONE && this.tags[s] === tag && this.store.holdsKey(v - 1, probe)) return s;
    }
  }

  /**
   * The slot holding handle `h`, found along the probe sequence of the key
   * live handle `keyOf` holds (the same as h's), or -1 (also when it holds no
   * key). It compares handles, not keys: it reads no other slot of the store.
   */
  private slotOf(keyOf: FinishedHandle, h: FinishedHandle): number {
    const hash = this.store.keyHashAt(keyOf);
    if (hash < 0) return -1;
    const mask = this.slots.length - 1;
    const want = h + 1;
    for (let s = hash & mask; ; s = (s + 1) & mask) {
      const v = this.slots[s]!;
      if (v === want) return s;
      if (v === EMPTY) return -1;
    }
  }

  private tombstone(at: number): void {
    this.slots[at] = TOMBSTONE;
    this.handles--;
    this.tombstones++;
  }

  /** Puts handle `h` of key hash `hash` in the first free slot of its probe sequence (the key is not present). */
  private place(hash: number, h: FinishedHandle): void {
    const mask = this.slots.length - 1;
    let s = hash & mask;
    while (this.slots[s]! > 0) s = (s + 1) & mask;
    if (this.slots[s] === TOMBSTONE) this.tombstones--;
    this.slots[s] = h + 1;
    this.tags[s] = hashTag(hash);
    this.handles++;
  }

  /** Places every handle again, without tombstones, in slots that `entries` fill at most half. */
  private rebuild(entries: number): void {
    const old = this.slots;
    let size = MIN_SLOTS;
    while (size < entries * 2) size *= 2;
    this.slots = new Int32Array(size);
    this.tags = new Uint8Array(size);
    this.handles = 0;
    this.tombstones = 0;
    for (let s = 0; s < old.length; s++) {
      const v = old[s]!;
      if (v > 0) this.place(this.store.keyHashAt(v - 1), v - 1);
    }
  }
}
