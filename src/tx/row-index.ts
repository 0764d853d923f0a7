// The transaction table's index of its rows: transaction id -> the row (the
// live record of an unfinished transaction, the finished store's handle of a
// finished one), in creation order, as a JS Map keeps insertion order.
//
// WHY: the index was a TxIdMap, which kept every id packed as four words of its
// own (16 bytes), a kind, a value as a float64 and a boxed flag per entry: 4.25
// MiB off the V8 heap at 100,000 finished transactions, for ids the store's
// chunks already hold. Here an entry is its value alone, an int32 (a handle, or
// a mark that the record is boxed in a Map by entry), and a probe compares its
// id with the one the store holds at that handle, or with the record's own id;
// a byte of each slot's hash (a tag) turns away the slots of other ids without
// reading the store: 1.75 MiB at 100,000 (run history, "The rows' index on the
// store's ids").
//
// The layout is V8's own for Map (an ordered hash table): entries are appended
// in insertion order to a column, and an open-addressing table of slots (linear
// probing, at most half full) points at them. A delete marks its entry removed
// and leaves the slot pointing at it; a rebuild, when the column is full, drops
// removed entries, keeping the order, and places every entry again from its id
// (the store's words, or the record's id). Setting an existing id changes its
// value in place, so its position in the order stays.
//
// Every handle the index holds must be live in the store, since a probe may
// read any of them: the table deletes a row before the store removes its slot.
// The store renumbers its handles by one offset (shiftHandles), and a slot it
// moves (a restore putting rows into completion order) changes hands by handle
// (replaceHandle), reading only the new slot: the old one may be dropped by then.
import type { FinishedHandle } from './finished-store.js';
import { hashTag, hashUuidOrString, UuidProbe } from './uuid-words.js';

/** What the index reads of a finished row, by its handle: the finished store. */
export interface IdSlots {
  /** hashUuidOrString() of the id of live slot `h`. */
  idHashAt(h: FinishedHandle): number;
  /** Whether live slot `h` holds the probe's id. */
  holdsId(h: FinishedHandle, probe: UuidProbe): boolean;
  /** The id of live slot `h`, a fresh string. */
  id(h: FinishedHandle): string;
}

/** An entry's value when it is not a handle. */
const RECORD = -1;
const REMOVED = -2;
/** Entries the column starts with; it grows by doubling. */
const MIN_CAPACITY = 64;
/**
 * A rebuild grows the column when live entries would fill more than this share
 * of it. High, because the table's steady state is full retention (as many
 * removed as added): 100,000 live entries fit 131,072, and a rebuild comes
 * every ~30,000 inserts.
 */
const FILL_MAX = 0.875;

export class RowIndex<R extends { readonly id: string }> {
  /** Entries appended so far (live and removed): the next entry's index. */
  private used = 0;
  private live = 0;
  // The column and slots, all made by allocate().
  /** Each entry's handle, RECORD (its record is in `records`), or REMOVED. */
  private vals!: Int32Array;
  /** Records of unfinished rows, by entry index. */
  private records!: Map<number, R>;
  /** entry index + 1 of each occupied slot, 0 for an empty one; length a power of two, 2x the column. */
  private slots!: Int32Array;
  /** hashTag() of the hash of each occupied slot's id. */
  private tags!: Uint8Array;
  /** Counts rebuilds and clears: a walk that sees it change stops (see keys()). */
  private generation = 0;
  /** The id last looked up, reused: lookups allocate nothing. */
  private readonly probe = new UuidProbe();
  private probeSet = false;
  /**
   * Where the probe's id was last found (-1: not looked up, or absent), and the
   * generation that finding belongs to. A transaction's id is looked up several
   * times in a row as an entry applies (its state, its row, then set), and about
   * half of all lookups repeat the one before: those need no probing. An
   * entry's id never changes; a delete marks it removed, which find() checks; a
   * rebuild or clear changes the generation.
   */
  private probeEntry = -1;
  private probeGeneration = -1;

  constructor(private readonly store: IdSlots) {
    this.allocate(MIN_CAPACITY);
  }

  get size(): number {
    return this.live;
  }

  has(id: string): boolean {
    return this.find(id) >= 0;
  }

  get(id: string): R | FinishedHandle | undefined {
    const e = this.find(id);
    return e < 0 ? undefined : this.valueAt(e);
  }

  /**
   * Sets id's row: in place when the id is present (its position stays), else
   * appended last. A handle must be of a live slot holding `id`; a record's id
   * must be `id`.
   */
  set(id: string, value: R | FinishedHandle): this {
    if (typeof value === 'number') checkHandle(value);
    else if (value.id !== id) throw new Error(`RowIndex: the record of ${value.id} set for ${id}`);
    const found = this.find(id);
    if (found >= 0) {
      this.setValue(found, value);
      return this;
    }
    const hash = this.probe.hash;
    if (this.used === this.vals.length) this.rebuild(this.live + 1);
    const e = this.used++;
    this.live++;
    this.setValue(e, value);
    this.place(hash, e);
    this.remember(e);
    return this;
  }

  delete(id: string): boolean {
    const e = this.find(id);
    if (e < 0) return false;
    this.records.delete(e);
    this.vals[e] = REMOVED;
    this.live--;
    return true;
  }

  /**
   * Gives `from`'s entry to live handle `to`, which holds the same id: the
   * store moved the slot. `from` may be dead by now, even dropped: only `to`
   * is read. Returns false when no entry holds `from`.
   */
  replaceHandle(from: FinishedHandle, to: FinishedHandle): boolean {
    checkHandle(to);
    const mask = this.slots.length - 1;
    for (let s = this.store.idHashAt(to) & mask; ; s = (s + 1) & mask) {
      const taken = this.slots[s]!;
      if (taken === 0) return false;
      if (this.vals[taken - 1] === from) {
        this.vals[taken - 1] = to;
        return true;
      }
    }
  }

  /** Every handle moved by `by` (the store renumbered its slots, keeping their order). */
  shiftHandles(by: number): void {
    const vals = this.vals;
    for (let e = 0; e < this.used; e++) if (vals[e]! >= 0) vals[e] = vals[e]! + by;
  }

  clear(): void {
    this.generation++;
    this.used = 0;
    this.live = 0;
    this.allocate(MIN_CAPACITY);
  }

  /**
   * Ids in insertion order: a record's own, a finished row's a fresh string.
   * Like the walks below, it visits the entries present when it started and
   * skips those deleted since. Unlike a Map's, it refuses sets and clears
   * meanwhile: a set may rebuild the column, and the walk then throws rather
   * than read a stale one. (The table never changes itself while it walks.)
   */
  *keys(): IterableIterator<string> {
    const generation = this.generation;
    for (let e = 0, end = this.used; e < end; e++) {
      this.checkGeneration(generation);
      const v = this.vals[e]!;
      if (v >= 0) yield this.store.id(v);
      else if (v === RECORD) yield this.records.get(e)!.id;
    }
  }

  /** Values in insertion order (see keys()). */
  *values(): IterableIterator<R | FinishedHandle> {
    const generation = this.generation;
    for (let e = 0, end = this.used; e < end; e++) {
      this.checkGeneration(generation);
      if (this.vals[e] !== REMOVED) yield this.valueAt(e);
    }
  }

  /** Fresh, empty column and slots for `capacity` entries. */
  private allocate(capacity: number): void {
    this.vals = new Int32Array(capacity);
    this.records = new Map();
    this.slots = new Int32Array(capacity * 2);
    this.tags = new Uint8Array(capacity * 2);
  }

  private valueAt(e: number): R | FinishedHandle {
    const v = this.vals[e]!;
    return v === RECORD ? this.records.get(e)! : v;
  }

  private setValue(e: number, value: R | FinishedHandle): void {
    if (typeof value === 'number') {
      this.records.delete(e);
      this.vals[e] = value;
    } else {
      this.vals[e] = RECORD;
      this.records.set(e, value);
    }
  }

  private checkGeneration(generation: number): void {
    if (generation !== this.generation) throw new Error('RowIndex: set() rebuilt or clear() emptied the index during a walk of it');
  }

  /** The entry index of `id`, or -1. */
  private find(id: string): number {
    const probe = this.probe;
    if (!this.probeSet || id !== probe.text) {
      probe.aim(id);
      this.probeSet = true;
      this.probeEntry = -1;
    }
    const known = this.probeEntry;
    if (known >= 0 && this.probeGeneration === this.generation && this.vals[known] !== REMOVED) return known;
    const e = this.findProbe(probe);
    this.remember(e);
    return e;
  }

  private remember(e: number): void {
    this.probeEntry = e;
    this.probeGeneration = this.generation;
  }

  private findProbe(probe: UuidProbe): number {
    const { slots, tags, vals } = this;
    const mask = slots.length - 1;
    const tag = hashTag(probe.hash);
    // Terminates: the slots are at most half full.
    for (let s = probe.hash & mask; ; s = (s + 1) & mask) {
      const taken = slots[s]!;
      if (taken === 0) return -1;
      if (tags[s] !== tag) continue;
      const e = taken - 1;
      const v = vals[e]!;
      if (v >= 0 ? this.store.holdsId(v, probe) : v === RECORD && this.records.get(e)!.id === probe.text) return e;
    }
  }

  private place(hash: number, e: number): void {
    const { slots } = this;
    const mask = slots.length - 1;
    let s = hash & mask;
    while (slots[s] !== 0) s = (s + 1) & mask;
    slots[s] = e + 1;
    this.tags[s] = hashTag(hash);
  }

  /** A new column and slots for at least `need` live entries, the live ones copied over in order. */
  private rebuild(need: number): void {
    this.generation++;
    let capacity = MIN_CAPACITY;
    while (need > capacity * FILL_MAX) capacity *= 2;
    const { vals, records, used } = this;
    this.allocate(capacity);
    let to = 0;
    for (let e = 0; e < used; e++) {
      const v = vals[e]!;
      if (v === REMOVED) continue;
      const record = v === RECORD ? records.get(e)! : null;
      this.setValue(to, record ?? v);
      this.place(record === null ? this.store.idHashAt(v) : hashUuidOrString(record.id), to);
      to++;
    }
    this.used = to;
  }
}

function checkHandle(h: number): void {
  if (!Number.isInteger(h) || h < 0 || h > 0x7fffffff) throw new RangeError(`RowIndex: ${h} is not a handle`);
}
