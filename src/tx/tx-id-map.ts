// A Map from transaction id to V that keeps insertion order, as a JS Map does,
// with the ids packed as words (uuid-words.ts) instead of held as strings.
//
// WHY: the table's index of every transaction it knows was a Map<string, ...>:
// about 36 bytes of V8 heap per entry for the Map's backing store, plus the
// 56-byte id string it kept alive, so some 9 MB at 100,000 retained
// transactions, multiplied again by V8's heap growth. Here an entry is 16 bytes
// of id words, a byte of kind, 8 bytes of hash slots and 9 bytes of value, all
// off the V8 heap: a number value (the finished store's handle, what almost
// every entry holds) sits in a Float64Array, and only an object value (an
// active transaction's record) in a Map by entry. A values Array had been an
// 8-byte pointer per entry on the V8 heap (Node's V8 has no pointer
// compression): 1 MiB at 100,000 transactions (run history, "What a node loads").
//
// The layout is V8's own for Map (an ordered hash table, as in CPython's dict):
// entries are appended in insertion order to columns, and an open-addressing
// table of slots (linear probing, at most half full) points at them. A delete
// marks its entry removed and leaves the slot pointing at it (a tombstone); a
// rebuild, when the entry columns are full, drops removed entries, keeping the
// order, and sizes everything again. Setting an existing id changes its value in
// place, so its position in the order stays, as with Map.set.
//
// Ids that are not canonical lowercase UUIDs (tests make their own) are kept as
// strings in a side Map by entry, and hashed as strings.
import { hashString, hashWords, packUuid, UUID_WORDS, unpackUuid } from './uuid-words.js';

/** Entry kinds. */
const REMOVED = 0;
const PACKED = 1;
const STRING = 2;

/** Entries the columns start with; they grow by doubling. */
const MIN_CAPACITY = 64;
/**
 * A rebuild grows the columns when live entries would fill more than this share
 * of them. High, because the store's steady state is full retention (as many
 * removed as added): 100,000 live entries fit 131,072 columns, and a rebuild
 * comes every ~30,000 inserts.
 */
const FILL_MAX = 0.875;

export class TxIdMap<V> {
  /** Entries appended so far (live and removed): the next entry's index. */
  private used = 0;
  private live = 0;
  // The columns and slots, all made by allocate().
  private words!: Uint32Array;
  private kinds!: Uint8Array;
  /** Each entry's value when it is a number; else 0, and `boxed` says the value is in `objects`. */
  private nums!: Float64Array;
  private boxed!: Uint8Array;
  /** Values that are not numbers, by entry index. */
  private objects!: Map<number, V>;
  /** Ids of STRING entries, by entry index. */
  private strings!: Map<number, string>;
  /** entry index + 1 of each occupied slot, 0 for an empty one; length a power of two, at least 2x the entry capacity. */
  private slots!: Int32Array;
  /** Counts rebuilds and clears: a walk that sees it change stops (see keys()). */
  private generation = 0;
  /** The probe's id, packed (reused: lookups allocate nothing). */
  private readonly probe = new Uint32Array(UUID_WORDS);
  /**
   * The id `probe` holds, whether it packed, and its hash: the table looks an
   * id up and then sets it (a row finishing), so the second call packs nothing.
   */
  private probeId: string | null = null;
  private probePacked = false;
  private probeHash = 0;
  /**
   * Where the probe's id was last found (-1: not looked up, or absent), and the
   * generation that finding belongs to. A transaction's id is looked up several
   * times in a row as an entry applies (its state, its row, then set), and about
   * half of all lookups repeat the one before: those need no probing. A delete
   * marks the entry removed, which find() checks; a rebuild or clear changes the
   * generation.
   */
  private probeEntry = -1;
  private probeGeneration = -1;

  constructor() {
    this.allocate(MIN_CAPACITY);
  }

  get size(): number {
    return this.live;
  }

  has(id: string): boolean {
    return this.find(id) >= 0;
  }

  get(id: string): V | undefined {
    const e = this.find(id);
    return e < 0 ? undefined : this.valueAt(e);
  }

  /** Sets id's value: in place when the id is present (its position stays), else appended last. */
  set(id: string, value: V): this {
    const found = this.find(id);
    if (found >= 0) {
      this.setValue(found, value);
      return this;
    }
    const packed = this.probePacked;
    const hash = this.probeHash;
    if (this.used === this.kinds.length) this.rebuild(this.live + 1);
    const e = this.used++;
    this.live++;
    if (packed) {
      this.words.set(this.probe, e * UUID_WORDS);
      this.kinds[e] = PACKED;
    } else {
      this.strings.set(e, id);
      this.kinds[e] = STRING;
    }
    this.setValue(e, value);
    this.place(hash, e);
    this.remember(e);
    return this;
  }

  delete(id: string): boolean {
    const e = this.find(id);
    if (e < 0) return false;
    if (this.kinds[e] === STRING) this.strings.delete(e);
    this.kinds[e] = REMOVED;
    this.dropValue(e);
    this.live--;
    return true;
  }

  clear(): void {
    this.generation++;
    this.used = 0;
    this.live = 0;
    this.allocate(MIN_CAPACITY);
  }

  /** Fresh, empty columns for `capacity` entries and slots for them. */
  private allocate(capacity: number): void {
    this.words = new Uint32Array(capacity * UUID_WORDS);
    this.kinds = new Uint8Array(capacity);
    this.nums = new Float64Array(capacity);
    this.boxed = new Uint8Array(capacity);
    this.objects = new Map();
    this.strings = new Map();
    this.slots = new Int32Array(capacity * 2);
  }

  /**
   * Ids in insertion order, each a fresh string. Like the walks below, it
   * visits the entries present when it started and skips those deleted since.
   * Unlike a Map's, it refuses sets and clears meanwhile: a set may rebuild
   * the columns, and the walk then throws rather than read stale ones. (The
   * table never changes itself while it walks.)
   */
  *keys(): IterableIterator<string> {
    const { words, kinds, strings, generation } = this;
    for (let e = 0, end = this.used; e < end; e++) {
      this.checkGeneration(generation);
      const kind = kinds[e];
      if (kind === PACKED) yield unpackUuid(words, e * UUID_WORDS);
      else if (kind === STRING) yield strings.get(e)!;
    }
  }

  /** Values in insertion order (see keys()). */
  *values(): IterableIterator<V> {
    const { kinds, generation } = this;
    for (let e = 0, end = this.used; e < end; e++) {
      this.checkGeneration(generation);
      if (kinds[e] !== REMOVED) yield this.valueAt(e);
    }
  }

  private valueAt(e: number): V {
    // A number was stored only for a number value, so it reads back as one.
    return this.boxed[e] === 1 ? this.objects.get(e)! : (this.nums[e]! as V);
  }

  private setValue(e: number, value: V): void {
    if (typeof value === 'number') {
      this.dropValue(e);
      this.nums[e] = value;
    } else {
      this.nums[e] = 0;
      this.boxed[e] = 1;
      this.objects.set(e, value);
    }
  }

  /** Entry e holds no object any more (removed, or given a number): its boxed one is let go. */
  private dropValue(e: number): void {
    this.nums[e] = 0;
    if (this.boxed[e] === 1) {
      this.boxed[e] = 0;
      this.objects.delete(e);
    }
  }

  private checkGeneration(generation: number): void {
    if (generation !== this.generation) throw new Error('TxIdMap: set() rebuilt or clear() emptied the map during a walk of it');
  }

  /** The entry index of `id`, or -1. */
  private find(id: string): number {
    const hash = this.prepare(id);
    const known = this.probeEntry;
    if (known >= 0 && this.probeGeneration === this.generation && this.kinds[known] !== REMOVED) return known;
    const e = this.findHashed(id, this.probePacked, hash);
    this.remember(e);
    return e;
  }

  /** Packs `id` into `probe` (unless it holds it already) and returns its hash. */
  private prepare(id: string): number {
    if (id !== this.probeId) {
      this.probePacked = packUuid(id, this.probe, 0);
      this.probeHash = this.probePacked ? hashWords(this.probe, 0) : hashString(id);
      this.probeId = id;
      this.probeEntry = -1;
    }
    return this.probeHash;
  }

  private remember(e: number): void {
    this.probeEntry = e;
    this.probeGeneration = this.generation;
  }

  private findHashed(id: string, packed: boolean, hash: number): number {
    const slots = this.slots;
    const { kinds, words, probe } = this;
    const mask = slots.length - 1;
    // Terminates: the slots are at most half full.
    for (let s = hash & mask; ; s = (s + 1) & mask) {
      const taken = slots[s]!;
      if (taken === 0) return -1;
      const e = taken - 1;
      const kind = kinds[e];
      if (kind === PACKED) {
        if (!packed) continue;
        const at = e * UUID_WORDS;
        if (words[at] === probe[0] && words[at + 1] === probe[1] && words[at + 2] === probe[2] && words[at + 3] === probe[3]) return e;
      } else if (kind === STRING && !packed && this.strings.get(e) === id) {
        return e;
      }
    }
  }

  private place(hash: number, e: number): void {
    const slots = this.slots;
    const mask = slots.length - 1;
    let s = hash & mask;
    while (slots[s] !== 0) s = (s + 1) & mask;
    slots[s] = e + 1;
  }

  /** New columns and slots for at least `need` live entries, the live ones copied over in order. */
  private rebuild(need: number): void {
    this.generation++;
    let capacity = MIN_CAPACITY;
    while (need > capacity * FILL_MAX) capacity *= 2;
    const { words, kinds, nums, boxed, objects, strings, used } = this;
    this.allocate(capacity);
    let to = 0;
    for (let e = 0; e < used; e++) {
      const kind = kinds[e]!;
      if (kind === REMOVED) continue;
      let hash: number;
      if (kind === PACKED) {
        this.words.set(words.subarray(e * UUID_WORDS, (e + 1) * UUID_WORDS), to * UUID_WORDS);
        hash = hashWords(this.words, to * UUID_WORDS);
      } else {
        const id = strings.get(e)!;
        this.strings.set(to, id);
        hash = hashString(id);
      }
      this.kinds[to] = kind;
      if (boxed[e] === 1) this.setValue(to, objects.get(e)!);
      else this.nums[to] = nums[e]!;
      this.place(hash, to);
      to++;
    }
    this.used = to;
  }
}
