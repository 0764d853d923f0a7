// A fixed-size bitset with an incremental hash: the search's "which operations are
// linearized" set. Setting or clearing a bit updates the hash in O(1) (Zobrist hashing:
// the XOR of a fixed random value per bit), so the memo cache costs no scan per step;
// equals() settles hash collisions.

export class Bitset {
  private readonly words: Uint32Array;
  private hi = 0;
  private lo = 0;

  constructor(
    readonly size: number,
    words?: Uint32Array,
    hi = 0,
    lo = 0,
  ) {
    this.words = words ?? new Uint32Array(Math.ceil(size / 32));
    this.hi = hi;
    this.lo = lo;
  }

  has(i: number): boolean {
    return (this.words[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  set(i: number): void {
    if (this.has(i)) return;
    this.words[i >>> 5]! |= 1 << (i & 31);
    this.toggleHash(i);
  }

  clear(i: number): void {
    if (!this.has(i)) return;
    this.words[i >>> 5]! &= ~(1 << (i & 31));
    this.toggleHash(i);
  }

  /** 53 bits of hash, as a safe integer. */
  hash(): number {
    return (this.hi & 0x1fffff) * 2 ** 32 + (this.lo >>> 0);
  }

  equals(other: Bitset): boolean {
    if (other.words.length !== this.words.length) return false;
    for (let i = 0; i < this.words.length; i++) if (this.words[i] !== other.words[i]) return false;
    return true;
  }

  clone(): Bitset {
    return new Bitset(this.size, this.words.slice(), this.hi, this.lo);
  }

  private toggleHash(i: number): void {
    this.hi ^= mix(2 * i + 1);
    this.lo ^= mix(2 * i + 2);
  }
}

/** splitmix32's finalizer: a fixed, well-spread 32-bit value per input. */
function mix(x: number): number {
  let z = Math.imul(x, 0x9e3779b9);
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}
