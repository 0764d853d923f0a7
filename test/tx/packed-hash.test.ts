// The request hash packing of the finished store: every canonical sha256 in
// base64url packs to its 32 bytes and back to the same string, and nothing else
// packs, so a read never gives back another string than the one stored.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HASH_BYTES, packHash, unpackHash } from '../../src/tx/packed-hash.js';

describe('packed request hashes', () => {
  it('packs what Node encodes as base64url, to the same bytes, and unpacks the same string', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: HASH_BYTES, maxLength: HASH_BYTES }), (bytes) => {
        const hash = Buffer.from(bytes).toString('base64url');
        const out = new Uint8Array(HASH_BYTES + 2);
        expect(packHash(hash, out, 1)).toBe(true);
        expect(Buffer.from(out.subarray(1, 1 + HASH_BYTES)).equals(Buffer.from(bytes))).toBe(true);
        expect([out[0], out[HASH_BYTES + 1]]).toEqual([0, 0]);
        expect(unpackHash(out, 1)).toBe(hash);
      }),
    );
    const real = createHash('sha256').update('a request').digest('base64url');
    const out = new Uint8Array(HASH_BYTES);
    expect(packHash(real, out, 0)).toBe(true);
    expect(unpackHash(out, 0)).toBe(real);
  });

  it('packs a 43-character string exactly when Node round-trips it, and leaves the output alone otherwise', () => {
    const alphabetish = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=. \u00e9');
    fc.assert(
      fc.property(fc.array(alphabetish, { minLength: 43, maxLength: 43 }), (chars) => {
        const s = chars.join('');
        const out = new Uint8Array(HASH_BYTES).fill(7);
        const canonical = Buffer.from(s, 'base64url').length === HASH_BYTES && Buffer.from(s, 'base64url').toString('base64url') === s;
        expect(packHash(s, out, 0)).toBe(canonical);
        if (canonical) expect(unpackHash(out, 0)).toBe(s);
        else expect(out.every((b) => b === 7)).toBe(true);
      }),
      { numRuns: 2000 },
    );
    const real = createHash('sha256').update('x').digest('base64url');
    for (const other of [`${real}A`, real.slice(1), 'h'.repeat(64), '', `${real.slice(0, 42)}B`, `${real.slice(0, 42)}=`]) {
      if (other === real) continue;
      const round = Buffer.from(other, 'base64url');
      const expected = round.length === HASH_BYTES && round.toString('base64url') === other;
      expect(packHash(other, new Uint8Array(HASH_BYTES), 0), other).toBe(expected);
    }
  });
});
