// The finished transactions a table retains, in completion order, in chunks of
// columns (finished-tx.ts) instead of an object each.
//
// WHY: a node retains up to retainFinishedMax (100,000) finished transactions.
// Kept as one object each (10 fields, about 104 bytes) plus a Set of their ids
// for the completion order, they were about 13 MB of the V8 heap and 200,000
// more objects for every mark-compact to walk, and V8 lets the heap grow
// between collections by a share of what is alive (--heap-growing-percent), so
// every live byte costs more than itself. Here a transaction's numbers live in
// typed arrays and its strings and shared lists in a few arrays per chunk of
// 4,096: about 30 bytes of V8 heap and 30 outside it.
//
// A slot is named by a handle, a small integer (a Smi, no heap number) that the
// table keeps as the row's value in its Map. Slots are filled in completion
// order and never reused or written again: removing one marks it dead, and a
// chunk is dropped once every slot in it is dead. So a capture (the chunk list
// at one moment) reads the same values for as long as it is kept while the
// store goes on, which is what a snapshot encoded in slices needs.
import { Chunk, CHUNK_BITS, CHUNK_SLOTS, type FinishedInterners, FinishedRow } from './finished-tx.js';
import type { KeyedSlots, KeyProbe } from './key-index.js';
import type { IdSlots } from './row-index.js';
import type { UuidProbe } from './uuid-words.js';
import { copyRecord, type TxRecord } from './types.js';

/** A slot of the store: stable for the slot's life (until renumbering, which tells the table). */
export type FinishedHandle = number;

/** A finished row as a reader gets it: compacted (FinishedRow) or kept whole. */
export type FinishedRowOrRecord = FinishedRow | TxRecord;

/**
 * Handles stay below this: a Smi on every V8 build (31 bits with pointer
 * compression). Reached after about a billion completions; the store then
 * numbers its chunks from 0 again and tells the table each new handle.
 */
export const HANDLE_LIMIT = 2 ** 30;

const SLOT_MASK = CHUNK_SLOTS - 1;

/** Reads slots by handle over a list of chunks fixed when it was made. */
export class FinishedReader {
  /** The row peek() moves from slot to slot; made at the first peek. */
  private cursor: FinishedRow | null = null;

  constructor(
    private readonly chunks: readonly Chunk[],
    private readonly firstChunk: number,
  ) {}

  /** The chunk holding `h`; throws on a handle this reader does not hold (a bug in the caller). */
  chunkOf(h: FinishedHandle): Chunk {
    const chunk = this.chunks[(h >>> CHUNK_BITS) - this.firstChunk];
    if (chunk === undefined || (h & SLOT_MASK) >= chunk.used) throw new RangeError(`no finished transaction at handle ${h}`);
    return chunk;
  }

  /** Slot `h` as a row that stays valid: a fresh FinishedRow, or the record kept whole. */
  row(h: FinishedHandle): FinishedRowOrRecord {
    const chunk = this.chunkOf(h);
    const i = h & SLOT_MASK;
    return chunk.wholeAt(i) ?? new FinishedRow(chunk, i);
  }

  /** Slot `h` as a row valid until the next call on this reader: for scans that read one row at a time. */
  peek(h: FinishedHandle): FinishedRowOrRecord {
    const chunk = this.chunkOf(h);
    const i = h & SLOT_MASK;
    const whole = chunk.wholeAt(i);
    if (whole !== undefined) return whole;
    this.cursor ??= new FinishedRow(chunk, i);
    return this.cursor.at(chunk, i);
  }
}

/**
 * What the store tells its table when it numbers its chunks from 0 again (at its
 * handle limit): every live handle is now its old value plus `by` (negative).
 */
export type RenumberListener = (by: number) => void;

export class FinishedStore implements KeyedSlots, IdSlots {
  /** chunks[k] holds the handles of chunk number firstChunk + k. */
  private chunks: Chunk[] = [];
  private firstChunk = 0;
  private liveCount = 0;
  private reader = new FinishedReader(this.chunks, 0);

  constructor(
    private readonly intern: FinishedInterners,
    /** Told when handles are renumbered; the table stores the new ones. */
    private readonly renumbered: RenumberListener,
    private readonly handleLimit: number = HANDLE_LIMIT,
  ) {
    if (handleLimit < 2 * CHUNK_SLOTS || handleLimit > HANDLE_LIMIT || handleLimit % CHUNK_SLOTS !== 0) {
      throw new RangeError(`handleLimit must be a multiple of ${CHUNK_SLOTS} in ${2 * CHUNK_SLOTS}..${HANDLE_LIMIT}, got ${handleLimit}`);
    }
  }

  /** Finished transactions held (not removed). */
  get size(): number {
    return this.liveCount;
  }

  /** Adds finished record `tx` after every other (completion order) and returns its handle. */
  add(tx: TxRecord): FinishedHandle {
    return this.handleOf(this.tail().append(tx, this.intern));
  }

  /** Moves slot `h` after every other (a restore puts rows read in creation order into completion order); returns the new handle. */
  moveToEnd(h: FinishedHandle): FinishedHandle {
    const from = this.reader.chunkOf(h);
    const i = h & SLOT_MASK;
    if (from.isDead(i)) throw new RangeError(`finished transaction at handle ${h} was removed`);
    // The chunk and slot, not `h`: making room may renumber the handles.
    const moved = this.handleOf(this.tail().appendCopy(from, i));
    this.removeAt(from, i);
    return moved;
  }

  remove(h: FinishedHandle): void {
    this.removeAt(this.reader.chunkOf(h), h & SLOT_MASK);
  }

  private removeAt(chunk: Chunk, i: number): void {
    if (chunk.isDead(i)) return;
    chunk.markDead(i);
    this.liveCount--;
    // Retention removes the oldest first, so dead chunks gather at the front.
    let dropped = 0;
    while (dropped < this.chunks.length && this.chunks[dropped]!.live === 0 && this.chunks[dropped]!.full) dropped++;
    if (dropped > 0) {
      this.chunks = this.chunks.slice(dropped);
      this.firstChunk += dropped;
      this.reader = new FinishedReader(this.chunks, this.firstChunk);
    }
  }

  clear(): void {
    this.chunks = [];
    this.firstChunk = 0;
    this.liveCount = 0;
    this.reader = new FinishedReader(this.chunks, 0);
  }

  has(h: FinishedHandle): boolean {
    const chunk = this.chunks[(h >>> CHUNK_BITS) - this.firstChunk];
    const i = h & SLOT_MASK;
    return chunk !== undefined && i < chunk.used && !chunk.isDead(i);
  }

  id(h: FinishedHandle): string {
    return this.reader.chunkOf(h).idAt(h & SLOT_MASK);
  }

  seqOf(h: FinishedHandle): number {
    return this.reader.chunkOf(h).seqs[h & SLOT_MASK]!;
  }

  /** Slot `h` as a row that stays valid. */
  row(h: FinishedHandle): FinishedRowOrRecord {
    return this.reader.row(h);
  }

  /** Slot `h` as a row valid until the next peek(): for scans. */
  peek(h: FinishedHandle): FinishedRowOrRecord {
    return this.reader.peek(h);
  }

  /** A fresh TxRecord of slot `h` that the caller may keep and change. */
  record(h: FinishedHandle): TxRecord {
    const row = this.reader.peek(h);
    return row instanceof FinishedRow ? row.toRecord() : copyRecord(row);
  }

  idHashAt(h: FinishedHandle): number {
    return this.reader.chunkOf(h).idHashAt(h & SLOT_MASK);
  }

  holdsId(h: FinishedHandle, probe: UuidProbe): boolean {
    return this.reader.chunkOf(h).holdsId(h & SLOT_MASK, probe);
  }

  keyHashAt(h: FinishedHandle): number {
    return this.reader.chunkOf(h).keyHashAt(h & SLOT_MASK);
  }

  holdsKey(h: FinishedHandle, probe: KeyProbe): boolean {
    return this.reader.chunkOf(h).holdsKey(h & SLOT_MASK, probe);
  }

  /** The live handles in completion order. */
  *handles(): IterableIterator<FinishedHandle> {
    // Over the list as it is now: a chunk dropped meanwhile has nothing live left to give.
    const { chunks, firstChunk } = this;
    for (let k = 0; k < chunks.length; k++) {
      const chunk = chunks[k]!;
      for (let i = 0; i < chunk.used; i++) if (!chunk.isDead(i)) yield ((firstChunk + k) << CHUNK_BITS) | i;
    }
  }

  /** Slots of the chunks held now (live, removed, and not yet filled): the range of denseIndex(). */
  get denseSize(): number {
    return this.chunks.length * CHUNK_SLOTS;
  }

  /** `h`'s place among the slots of the chunks held now, in completion order: an array index for a pass over the store. */
  denseIndex(h: FinishedHandle): number {
    return h - this.firstChunk * CHUNK_SLOTS;
  }

  /** The oldest live handle (first completed), or undefined when the store is empty. */
  first(): FinishedHandle | undefined {
    for (const h of this.handles()) return h;
    return undefined;
  }

  /**
   * A reader of the handles as they are now, for as long as the caller keeps
   * it: slots are never written again, and the chunks it holds stay alive
   * through it after the store drops them.
   */
  capture(): FinishedReader {
    return this.reader;
  }

  /** The handle of slot `i` of the last chunk, just filled. */
  private handleOf(i: number): FinishedHandle {
    this.liveCount++;
    return ((this.firstChunk + this.chunks.length - 1) << CHUNK_BITS) | i;
  }

  /** The chunk the next slot goes into, adding one (and renumbering first, at the handle limit) when the last is full. */
  private tail(): Chunk {
    const last = this.chunks[this.chunks.length - 1];
    if (last !== undefined && !last.full) return last;
    if ((this.firstChunk + this.chunks.length + 1) * CHUNK_SLOTS > this.handleLimit) {
      this.renumber();
      // More slots alive than handles: retainFinishedMax is far below the limit, so only a bug gets here.
      if ((this.chunks.length + 1) * CHUNK_SLOTS > this.handleLimit) throw new RangeError('finished store: out of handles');
    }
    const chunk = new Chunk();
    this.chunks = [...this.chunks, chunk];
    this.reader = new FinishedReader(this.chunks, this.firstChunk);
    return chunk;
  }

  /** Numbers the chunks from 0 again; every live slot gets a new handle, which the table is told. */
  private renumber(): void {
    const by = -this.firstChunk * CHUNK_SLOTS;
    this.firstChunk = 0;
    this.reader = new FinishedReader(this.chunks, 0);
    this.renumbered(by);
  }
}
