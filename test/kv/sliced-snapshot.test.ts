// The KV snapshot, written by our own MessagePack writer, is byte for byte what
// msgpackr's pack() of the flat [key, value, ...] array gave (older nodes, and
// the state digests compared across replicas, depend on it), for any UTF-16
// strings, lone surrogates included; and a snapshot captured at one point and
// encoded in slices is the synchronous snapshot of that point while writes
// (new keys and overwrites) go on between the slices.
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { createKvStateMachine, encodeKvCommand, type KvStateMachine } from '../../src/kv/state-machine.js';
import type { SnapshotEncoding } from '../../src/raft/state-machine.js';
import { ScratchWriter } from '../../src/tx/msgpack-writer.js';
import { Prng } from '../../src/util/random.js';

// The options the KV state machine always packed with.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, structuredClone: false });

/** Any UTF-16 code units, lone surrogates included, across msgpackr's length thresholds (0x20, 0x40, 0x100). */
const anyString = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 300 }).map((units) => String.fromCharCode(...units));

function put(sm: KvStateMachine, index: number, key: string, value: string): void {
  sm.apply({ index, term: 1, data: encodeKvCommand({ op: 'put', key, value }) });
}

function drain(enc: SnapshotEncoding, between: () => void): Buffer {
  const pieces: Buffer[] = [];
  for (let more = true; more; ) {
    more = enc.step();
    pieces.push(Buffer.from(enc.piece()));
    between();
  }
  return Buffer.concat(pieces);
}

describe('kv snapshot', () => {
  it("is msgpackr's bytes for the flat array, for any strings", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(anyString, anyString), { maxLength: 40 }), (pairs) => {
        const sm = createKvStateMachine();
        pairs.forEach(([k, v], i) => put(sm, i + 1, k, v));
        const flat: string[] = [];
        const seen = new Map<string, string>();
        // As the entry carries them: msgpackr reads a lone surrogate back as U+FFFDs.
        const carried = (s: string): string => packr.unpack(packr.pack(s)) as string;
        for (const [k, v] of pairs) seen.set(carried(k), carried(v));
        for (const [k, v] of seen) flat.push(k, v);
        expect(Buffer.from(sm.snapshot()).equals(Buffer.from(packr.pack(flat)))).toBe(true);
        // and what it writes reads back to the same state
        const restored = createKvStateMachine();
        restored.restore(sm.snapshot());
        for (const [k, v] of seen) expect(restored.get(k)).toBe(v);
      }),
      { numRuns: 300, seed: 11 },
    );
  });

  it('writes any string as msgpackr does, lone surrogates included (a state restored from a JSON snapshot may hold them)', () => {
    fc.assert(
      fc.property(fc.array(anyString, { maxLength: 20 }), (strings) => {
        const w = new ScratchWriter('msgpackr');
        w.array(strings.length);
        for (const s of strings) w.str(s);
        expect(Buffer.from(w.copy()).equals(Buffer.from(packr.pack(strings)))).toBe(true);
      }),
      { numRuns: 500, seed: 12 },
    );
  });

  it('covers the array header sizes (16 and 65,536 strings)', () => {
    for (const n of [0, 7, 8, 32_767, 32_768]) {
      const sm = createKvStateMachine();
      const flat: string[] = [];
      for (let i = 0; i < n; i++) {
        put(sm, i + 1, `k${i}`, `v${i}`);
        flat.push(`k${i}`, `v${i}`);
      }
      expect(Buffer.from(sm.snapshot()).equals(Buffer.from(packr.pack(flat))), `${n} keys`).toBe(true);
    }
  });

  it('captured and encoded in slices is the synchronous snapshot at the capture while writes go on', () => {
    const rng = new Prng(5);
    const sm = createKvStateMachine();
    let index = 0;
    const write = (): void => {
      const k = rng.below(12_000);
      put(sm, ++index, `key-${k}`, rng.chance(0.1) ? `välue-\u{1F600}-${index}` : `value-${index}`);
    };
    for (let i = 0; i < 8_000; i++) write();
    let changed = 0;
    for (let round = 0; round < 5; round++) {
      const expected = Buffer.from(sm.snapshot());
      const enc = sm.captureSnapshot!();
      let steps = 0;
      const bytes = drain(enc, () => {
        steps++;
        for (let i = rng.below(300); i > 0; i--) write();
      });
      expect(bytes.equals(expected), `round ${round}`).toBe(true);
      expect(steps).toBeGreaterThan(1);
      if (!Buffer.from(sm.snapshot()).equals(expected)) changed++;
    }
    expect(changed).toBe(5);
  });
});
