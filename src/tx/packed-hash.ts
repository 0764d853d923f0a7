// A request hash as 32 bytes instead of a 43-character string.
//
// WHY: the SDK sends an idempotency key with every create, so every retained
// transaction carries its request's hash (hashRequest() in operations.ts: a
// sha256 in unpadded base64url), 56 bytes of V8 heap as a string. The finished
// store keeps it as the 32 bytes it encodes (finished-tx.ts).
//
// Only the canonical form packs: 43 characters of the base64url alphabet whose
// last one carries no bits beyond the 256 (its two low bits zero), so unpacking
// gives back the very same string. Anything else stays a string where it is kept.

export const HASH_BYTES = 32;
/** Characters of a packed hash's string. */
export const HASH_CHARS = 43;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** 6-bit value of a base64url char code, -1 for anything else. */
const VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) VALUE[ALPHABET.charCodeAt(i)] = i;
const CODE = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));

/** Decodes `hash` into out[at..at+31] when it is a canonical 32-byte base64url string; false (out untouched) otherwise. */
export function packHash(hash: string, out: Uint8Array, at: number): boolean {
  if (hash.length !== HASH_CHARS) return false;
  for (let i = 0; i < HASH_CHARS; i++) {
    const c = hash.charCodeAt(i);
    if (c >= 128 || VALUE[c]! < 0) return false;
  }
  // 43 chars are 258 bits: the last char's two low bits must be zero, or two strings would share the bytes.
  if ((VALUE[hash.charCodeAt(HASH_CHARS - 1)]! & 3) !== 0) return false;
  let acc = 0;
  let bits = 0;
  let o = at;
  for (let i = 0; i < HASH_CHARS; i++) {
    acc = ((acc << 6) | VALUE[hash.charCodeAt(i)]!) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  return true;
}

const codes: number[] = new Array<number>(HASH_CHARS);

/** The canonical base64url string of the 32 bytes at bytes[at..at+31]. */
export function unpackHash(bytes: Uint8Array, at: number): string {
  writeHashAscii(bytes, at, codes, 0);
  return String.fromCharCode.apply(null, codes);
}

/**
 * Writes the canonical base64url of the 32 bytes at bytes[at..] as 43 ASCII
 * codes at out[to..]: into a snapshot's bytes (msgpack-writer.ts), or the codes
 * unpackHash() makes its string of.
 */
export function writeHashAscii(bytes: Uint8Array, at: number, out: Uint8Array | number[], to: number): void {
  let acc = 0;
  let bits = 0;
  let c = to;
  for (let i = 0; i < HASH_BYTES; i++) {
    acc = ((acc << 8) | bytes[at + i]!) & 0xffffff;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out[c++] = CODE[(acc >>> bits) & 63]!;
    }
  }
  // 256 bits leave 4: the last char holds them in its high bits.
  out[c] = CODE[(acc << (6 - bits)) & 63]!;
}
