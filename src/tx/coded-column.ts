// One column of a finished-transaction chunk whose values repeat: a 16-bit
// code per slot into a table of the chunk's distinct values, instead of a
// pointer per slot.
//
// Why: the participant lists, decision reasons and principals of finished
// transactions are shared objects (interned, finished-tx.ts), but an Array of
// CHUNK_SLOTS pointers to them is still 32 KiB of V8 heap per chunk and column
// (8 bytes a slot: Node's V8 has no pointer compression), 1.6 MiB at 100,000
// transactions for participants and reasons, which the old generation then
// grows by half again (run history, "What a node loads"). Codes are 2 bytes a
// slot, in a typed array off the V8 heap, and a chunk has at most CHUNK_SLOTS
// distinct values, so a 16-bit code always fits.
//
// Values are told apart as a Map tells keys apart: strings by value, objects by
// identity. Two equal lists that are different objects take two codes, which
// costs a table entry, never a wrong value.

/** Codes per column, one per slot of the chunk. */
export class CodedColumn<T extends NonNullable<unknown>> {
  /** 0: no value (null); k: table[k - 1]. */
  private readonly codes: Uint16Array;
  private readonly table: T[] = [];
  /** Value -> code, while slots may still be set (see seal()). */
  private index: Map<T, number> | null = new Map();

  constructor(slots: number) {
    if (!Number.isInteger(slots) || slots < 1 || slots > 0xffff) throw new RangeError(`a coded column has 1 to 65535 slots, not ${slots}`);
    this.codes = new Uint16Array(slots);
  }

  get(i: number): T | null {
    const code = this.codes[i]!;
    return code === 0 ? null : this.table[code - 1]!;
  }

  set(i: number, value: T | null): void {
    if (this.index === null) throw new Error('the column is sealed');
    if (value === null) {
      this.codes[i] = 0;
      return;
    }
    let code = this.index.get(value);
    if (code === undefined) {
      // A chunk writes each slot once, so it never has more values than slots; this
      // only guards a misuse from wrapping a code around.
      if (this.table.length === 0xffff) throw new RangeError('a coded column holds at most 65535 distinct values');
      code = this.table.push(value);
      this.index.set(value, code);
    }
    this.codes[i] = code;
  }

  /** No more set(): drops the index (the chunk is full, its slots are never written again). */
  seal(): void {
    this.index = null;
  }

  /** Distinct values taken so far. */
  get distinct(): number {
    return this.table.length;
  }
}
