import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RatifyError } from '../../src/errors.js';
import { MsgpackReader } from '../../src/tx/msgpack-reader.js';
import { packExact } from '../../src/tx/msgpack-writer.js';

const read = (bytes: number[] | Uint8Array): unknown => {
  const r = new MsgpackReader(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  const v = r.value();
  expect(r.done).toBe(true);
  return v;
};

const isCorrupt = (fn: () => unknown): boolean => {
  try {
    fn();
  } catch (e) {
    return e instanceof RatifyError && e.code === 'DATA_CORRUPT';
  }
  return false;
};

describe('MsgpackReader', () => {
  it('reads back every JSON value packExact writes', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        // JSON has no -0 once sent over the wire either: msgpack ints carry no sign of zero.
        expect(read(packExact((w) => w.value(v)))).toEqual(JSON.parse(JSON.stringify(v)));
      }),
      { numRuns: 500, seed: 11 },
    );
  });

  it('keeps a __proto__ key as an own property, as JSON.parse does', () => {
    const v = read(packExact((w) => w.value(JSON.parse('{"__proto__":{"x":1},"y":2}')))) as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(['__proto__', 'y']);
    expect(JSON.stringify(v)).toBe('{"__proto__":{"x":1},"y":2}');
  });

  it('reads every int and float width of the format', () => {
    expect(read([0xcf, 0, 0, 0x01, 0, 0, 0, 0, 0])).toBe(2 ** 40);
    expect(read([0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe])).toBe(-2);
    expect(read([0xd0, 0x80])).toBe(-128);
    expect(read([0xd1, 0x80, 0x00])).toBe(-32768);
    expect(read([0xd2, 0x80, 0, 0, 0])).toBe(-(2 ** 31));
    expect(read([0xca, 0x3f, 0xc0, 0, 0])).toBe(1.5);
    expect(read([0xe0])).toBe(-32);
    expect(read([0x7f])).toBe(127);
  });

  it('refuses types it does not know and reads past the end, as DATA_CORRUPT', () => {
    expect(isCorrupt(() => read([0xc1]))).toBe(true); // never used
    expect(isCorrupt(() => read([0xc4, 0x01, 0x00]))).toBe(true); // bin
    expect(isCorrupt(() => read([0xd4, 0x01, 0x00]))).toBe(true); // fixext
    expect(isCorrupt(() => read([0xa3, 0x61]))).toBe(true); // string longer than the data
    expect(isCorrupt(() => read([0x92, 0x01]))).toBe(true); // array longer than the data
    expect(isCorrupt(() => read([0xcb, 0, 0]))).toBe(true); // float64 cut short
    expect(isCorrupt(() => read([]))).toBe(true);
    expect(isCorrupt(() => new MsgpackReader(new Uint8Array([0x01])).str())).toBe(true);
  });

  it('reads a view into a larger buffer from its own offset', () => {
    const bytes = packExact((w) => w.value(['x', 1]));
    const padded = new Uint8Array(bytes.length + 8);
    padded.set(bytes, 5);
    expect(read(padded.subarray(5, 5 + bytes.length))).toEqual(['x', 1]);
  });
});
