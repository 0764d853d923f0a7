// A MessagePack reader for the table's snapshot, the counterpart of
// msgpack-writer.ts. msgpackr would first build the whole snapshot as arrays
// (one per transaction and participant list) and then the table would build
// records from those: at 100,000 retained transactions that is about 150 MB
// of short-lived heap on every restore. This reader walks the bytes and the
// caller builds each record straight from them. Strings come out as fresh
// strings of their own, never slices of a larger one (see ownString).
//
// Reads exactly what the writer produces (nil, booleans, ints, float64,
// UTF-8 strings, arrays, maps) plus the other int and float widths of the
// format. Anything else, or a read past the end, throws DATA_CORRUPT.
import { RatifyError } from '../errors.js';

export class MsgpackReader {
  private pos = 0;
  private readonly buf: Buffer;

  constructor(data: Uint8Array) {
    this.buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }

  /** True when every byte has been read. */
  get done(): boolean {
    return this.pos === this.buf.length;
  }

  /** Consumes a nil and returns true, or leaves anything else in place. */
  nil(): boolean {
    if (this.byteAt(this.pos) !== 0xc0) return false;
    this.pos += 1;
    return true;
  }

  /** True (nothing consumed) when the next value is an array. */
  isArray(): boolean {
    const t = this.byteAt(this.pos);
    return (t & 0xf0) === 0x90 || t === 0xdc || t === 0xdd;
  }

  array(): number {
    const t = this.next();
    if ((t & 0xf0) === 0x90) return t & 0x0f;
    if (t === 0xdc) return this.uint(2);
    if (t === 0xdd) return this.uint(4);
    return this.unexpected(t, 'an array');
  }

  map(): number {
    const t = this.next();
    if ((t & 0xf0) === 0x80) return t & 0x0f;
    if (t === 0xde) return this.uint(2);
    if (t === 0xdf) return this.uint(4);
    return this.unexpected(t, 'a map');
  }

  bool(): boolean {
    const t = this.next();
    if (t === 0xc2) return false;
    if (t === 0xc3) return true;
    return this.unexpected(t, 'a boolean');
  }

  /** Any number: every int width and float32/float64. */
  num(): number {
    const t = this.next();
    if (t < 0x80) return t;
    if (t >= 0xe0) return t - 0x100;
    switch (t) {
      case 0xcc:
        return this.uint(1);
      case 0xcd:
        return this.uint(2);
      case 0xce:
        return this.uint(4);
      case 0xcf:
        return Number(this.take(8).readBigUInt64BE(this.pos - 8));
      case 0xd0:
        return this.take(1).readInt8(this.pos - 1);
      case 0xd1:
        return this.take(2).readInt16BE(this.pos - 2);
      case 0xd2:
        return this.take(4).readInt32BE(this.pos - 4);
      case 0xd3:
        return Number(this.take(8).readBigInt64BE(this.pos - 8));
      case 0xca:
        return this.take(4).readFloatBE(this.pos - 4);
      case 0xcb:
        return this.take(8).readDoubleBE(this.pos - 8);
      default:
        return this.unexpected(t, 'a number');
    }
  }

  str(): string {
    const t = this.next();
    let n: number;
    if ((t & 0xe0) === 0xa0) n = t & 0x1f;
    else if (t === 0xd9) n = this.uint(1);
    else if (t === 0xda) n = this.uint(2);
    else if (t === 0xdb) n = this.uint(4);
    else return this.unexpected(t, 'a string');
    const start = this.pos;
    this.take(n);
    return this.buf.toString('utf8', start, start + n);
  }

  strOrNull(): string | null {
    return this.nil() ? null : this.str();
  }

  /** Any value the writer's value() writes: null, boolean, number, string, array, plain object. */
  value(): unknown {
    const t = this.byteAt(this.pos);
    if (t === 0xc0) {
      this.pos += 1;
      return null;
    }
    if (t === 0xc2 || t === 0xc3) return this.bool();
    if ((t & 0xe0) === 0xa0 || t === 0xd9 || t === 0xda || t === 0xdb) return this.str();
    if (this.isArray()) {
      const n = this.array();
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) out.push(this.value());
      return out;
    }
    if ((t & 0xf0) === 0x80 || t === 0xde || t === 0xdf) {
      const n = this.map();
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const key = this.str();
        const v = this.value();
        // An own property, as JSON.parse makes it: assigning would set the prototype.
        if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
        else out[key] = v;
      }
      return out;
    }
    return this.num();
  }

  private byteAt(i: number): number {
    const b = this.buf[i];
    if (b === undefined) throw corrupt(`ends at byte ${i}`);
    return b;
  }

  private next(): number {
    return this.byteAt(this.pos++);
  }

  /** Advances past `n` bytes that must exist; returns the buffer for the caller's read at pos - n. */
  private take(n: number): Buffer {
    if (this.pos + n > this.buf.length) throw corrupt(`ends inside a value at byte ${this.pos}`);
    this.pos += n;
    return this.buf;
  }

  private uint(bytes: 1 | 2 | 4): number {
    this.take(bytes);
    return this.buf.readUIntBE(this.pos - bytes, bytes);
  }

  private unexpected(type: number, wanted: string): never {
    throw corrupt(`type byte 0x${type.toString(16)} at ${this.pos - 1} where ${wanted} belongs`);
  }
}

function corrupt(why: string): RatifyError {
  return new RatifyError('DATA_CORRUPT', `transaction snapshot: ${why}`);
}
