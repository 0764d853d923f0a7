// A transaction id as four 32-bit words instead of a string.
//
// WHY: a node retains up to retainFinishedMax (100,000) finished transactions,
// and each one's id, a 36-character string, was 56 bytes of V8 heap (plus its
// slot in a Map): about 9 MB for the ids alone, which V8's heap growth
// (--heap-growing-percent) turns into more committed memory still. The leader
// makes its ids with randomUUID(), so they are canonical lowercase UUIDs:
// 16 bytes of information. Held as words in typed arrays they cost 16 bytes off
// the V8 heap, and the string is made again only when a reader asks for it.
//
// Only the canonical lowercase form is packed, so unpacking gives back the very
// same string; any other id (a test's, an upper-case one from an old snapshot)
// is not a UUID to this module and stays a string where it is kept.

/** Words of one packed id. */
export const UUID_WORDS = 4;

const HEX = '0123456789abcdef';
/** Hex digit value of a lowercase hex char code, -1 for anything else. */
const DIGIT = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) DIGIT[HEX.charCodeAt(i)] = i;

/** Where the 32 digits are in the 36 characters (the rest are dashes). */
const DIGIT_AT = new Uint8Array(32);
for (let d = 0, pos = 0; d < 32; d++, pos++) {
  if (pos === 8 || pos === 13 || pos === 18 || pos === 23) pos++;
  DIGIT_AT[d] = pos;
}

/**
 * Packs `id` into out[at..at+3] when it is a canonical lowercase UUID
 * (8-4-4-4-12 lowercase hex digits); returns false, writing nothing useful,
 * for any other string. Runs on every lookup by id, so it is written flat.
 */
export function packUuid(id: string, out: Uint32Array, at: number): boolean {
  if (id.length !== 36) return false;
  if (id.charCodeAt(8) !== 45 || id.charCodeAt(13) !== 45 || id.charCodeAt(18) !== 45 || id.charCodeAt(23) !== 45) return false;
  // Any char that is not a lowercase hex digit gives -1, which sets every bit of `bad`.
  let bad = 0;
  for (let w = 0; w < UUID_WORDS; w++) {
    let word = 0;
    for (let k = w * 8, end = k + 8; k < end; k++) {
      const c = id.charCodeAt(DIGIT_AT[k]!);
      const d = c < 128 ? DIGIT[c]! : -1;
      bad |= d;
      word = (word << 4) | (d & 15);
    }
    out[at + w] = word >>> 0;
  }
  return bad >= 0;
}

/** Characters of a canonical UUID. */
export const UUID_CHARS = 36;
const HEX_CODES = Uint8Array.from(HEX, (c) => c.charCodeAt(0));
const codes: number[] = new Array<number>(UUID_CHARS);

/** The canonical string of the id packed at words[at..at+3]. */
export function unpackUuid(words: Uint32Array, at: number): string {
  writeUuidAscii(words, at, codes, 0);
  // One flat string (concatenation would make a rope that every hash flattens again); from a
  // plain array, which apply() takes about 3x faster than a typed one.
  return String.fromCharCode.apply(null, codes);
}

/**
 * Writes the canonical string of the id at words[at..at+3] as 36 ASCII codes at
 * out[to..]: into a snapshot's bytes (msgpack-writer.ts), or the codes
 * unpackUuid() makes its string of.
 */
export function writeUuidAscii(words: Uint32Array, at: number, out: Uint8Array | number[], to: number): void {
  out[to + 8] = out[to + 13] = out[to + 18] = out[to + 23] = 45;
  let d = 0;
  for (let w = 0; w < UUID_WORDS; w++) {
    const word = words[at + w]!;
    for (let shift = 28; shift >= 0; shift -= 4) out[to + DIGIT_AT[d++]!] = HEX_CODES[(word >>> shift) & 15]!;
  }
}

/** A well-mixed 31-bit hash of four words (ids made by tests are far from random). */
export function hashWords(words: Uint32Array, at: number): number {
  let h = 0x9e3779b9;
  for (let w = 0; w < UUID_WORDS; w++) {
    h = Math.imul(h ^ words[at + w]!, 0x85ebca6b);
    h ^= h >>> 13;
  }
  h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35);
  return (h ^ (h >>> 16)) & 0x7fffffff;
}

/** FNV-1a over the UTF-16 code units of a string that is not a packed id. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return (h ^ (h >>> 13)) & 0x7fffffff;
}

/** hashWords() of `s` packed when it is a canonical UUID, else hashString(s): one hash for an id held either way. */
export function hashUuidOrString(s: string): number {
  return packUuid(s, scratch, 0) ? hashWords(scratch, 0) : hashString(s);
}

const scratch = new Uint32Array(UUID_WORDS);

/** Whether the ids packed at a[at] and b[bt] are the same. */
export function sameUuid(a: Uint32Array, at: number, b: Uint32Array, bt: number): boolean {
  return a[at] === b[bt] && a[at + 1] === b[bt + 1] && a[at + 2] === b[bt + 2] && a[at + 3] === b[bt + 3];
}

/**
 * A string looked up in a table that holds canonical UUIDs packed (the store's
 * ids and keys): the string, its words when it packs, and hashUuidOrString()
 * of it. Reused by its table, so a lookup allocates nothing.
 */
export class UuidProbe {
  text = '';
  /** `text` packed into `words`: only a canonical UUID packs, so a packed probe can match only packed words. */
  packed = false;
  readonly words = new Uint32Array(UUID_WORDS);
  hash = 0;

  aim(text: string): void {
    this.text = text;
    this.packed = packUuid(text, this.words, 0);
    this.hash = this.packed ? hashWords(this.words, 0) : hashString(text);
  }
}

/**
 * Eight bits of a 31-bit hash above any slot mask a table reaches in practice
 * (2^23 slots), kept beside a slot to turn away most other entries without
 * reading them; a larger table only shares them (still correct, slower).
 */
export function hashTag(hash: number): number {
  return (hash >>> 23) & 0xff;
}
