// Frames survive any chunking of the byte stream, and the reader refuses what
// it must not buffer.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRatifyError } from '../../src/errors.js';
import { encodeFrame, FrameReader } from '../../src/transport/frames.js';

function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.byteLength + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    out.push(bytes.subarray(last, p));
    last = p;
  }
  out.push(bytes.subarray(last));
  return out;
}

describe('FrameReader', () => {
  it('returns exactly the frames written, in order, however the bytes are chunked', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (payloads, cuts) => {
          const wire = Buffer.concat(payloads.map((p) => encodeFrame(p)));
          const reader = new FrameReader(1024);
          const got = splitAt(wire, cuts).flatMap((chunk) => reader.push(chunk).map((f) => Buffer.from(f)));
          expect(got).toEqual(payloads.map((p) => Buffer.from(p)));
          expect(reader.pendingBytes).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('holds an incomplete frame until the rest arrives', () => {
    const reader = new FrameReader(1024);
    const frame = encodeFrame(Buffer.from('hello'));
    expect(reader.push(frame.subarray(0, 2))).toEqual([]);
    expect(reader.push(frame.subarray(2, 6))).toEqual([]);
    expect(reader.pendingBytes).toBe(6);
    expect(reader.push(frame.subarray(6)).map((f) => f.toString())).toEqual(['hello']);
  });

  it('refuses a frame above the limit from its header alone', () => {
    const reader = new FrameReader(16);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(17, 0);
    let err: unknown;
    try {
      reader.push(header);
    } catch (e) {
      err = e;
    }
    expect(isRatifyError(err, 'BODY_TOO_LARGE')).toBe(true);
    expect(() => new FrameReader(16).push(encodeFrame(Buffer.alloc(16)))).not.toThrow();
  });

  it('refuses an empty frame', () => {
    expect(() => new FrameReader(16).push(Buffer.alloc(4))).toThrow(/empty stream frame/);
  });
});
