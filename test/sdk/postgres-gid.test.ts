// Gids of the PostgreSQL adapter: readable where they can be, hashed where they must be,
// always within PostgreSQL's 200-byte limit, distinct per (txId, participant), and
// never quoted into SQL unless they are made of harmless characters.
import { describe, expect, it } from 'vitest';
import { GID_BYTES_MAX, gidLiteral, gidOf } from '../../src/sdk/participant/postgres/gid.js';

const UUID = '0b6f3c5e-1d2a-4c8e-9f00-123456789abc';

describe('gidOf', () => {
  it('is readable for ordinary names and UUID transaction ids', () => {
    expect(gidOf('ratify', UUID, 'bank-a')).toBe(`ratify:bank-a:${UUID}`);
  });

  it('hashes names with other characters, and names too long to fit', () => {
    for (const [txId, participant] of [
      [UUID, "bank'; DROP TABLE accounts; --"],
      [UUID, 'bänk'],
      ['tx:with:colons', 'bank-a'],
      [UUID, 'b'.repeat(256)],
      ['t'.repeat(256), 'bank-a'],
    ] as const) {
      const gid = gidOf('ratify', txId, participant);
      expect(gid).toMatch(/^ratify:#[0-9a-f]{64}$/);
      expect(Buffer.byteLength(gid)).toBeLessThanOrEqual(GID_BYTES_MAX);
      expect(gidLiteral(gid)).toBe(`'${gid}'`);
    }
  });

  it('tells records apart: participant, transaction and prefix each change the gid', () => {
    const gids = new Set([
      gidOf('ratify', UUID, 'a'),
      gidOf('ratify', UUID, 'b'),
      gidOf('ratify', `${UUID.slice(0, -1)}d`, 'a'),
      gidOf('other', UUID, 'a'),
      // The length prefix of the record key keeps these two hashed forms apart.
      gidOf('ratify', 'x:y', 'p'),
      gidOf('ratify', 'y', 'p:x'),
    ]);
    expect(gids.size).toBe(6);
  });

  it('stays within 199 bytes at the longest readable form', () => {
    const participant = 'p'.repeat(199 - 'ratify:'.length - 1 - UUID.length);
    expect(gidOf('ratify', UUID, participant)).toHaveLength(199);
    expect(gidOf('ratify', UUID, `${participant}p`)).toMatch(/^ratify:#/);
  });

  it('refuses to quote anything gidOf cannot make', () => {
    expect(() => gidLiteral("a'b")).toThrow(RangeError);
    expect(() => gidLiteral('a\\b')).toThrow(RangeError);
    expect(() => gidLiteral('x'.repeat(200))).toThrow(RangeError);
  });
});
