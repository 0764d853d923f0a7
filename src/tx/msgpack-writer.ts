// A MessagePack writer for the one large value the table encodes: its
// snapshot. msgpackr would need the whole snapshot built as arrays first (one
// per transaction and participant list: tens of MB of garbage at 100,000
// retained) and grows its shared write buffer to 4x the result. Here the
// caller emits values straight into a buffer of the exact size, measured by a
// first pass over the same emit function. msgpackr reads the result (it is
// plain MessagePack: nil, booleans, numbers, UTF-8 strings, arrays, maps).
//
// ScratchWriter is the same writer over a buffer that grows as needed and can
// start over: a snapshot encoded in slices (stepped-encoding.ts) cannot measure
// first (the state it measured is gone by the second pass), so each slice's
// piece is written into one small buffer, reused from slice to slice.
import { RatifyError } from '../errors.js';
import { HASH_CHARS, writeHashAscii } from './packed-hash.js';
import { UUID_CHARS, writeUuidAscii } from './uuid-words.js';

export interface MsgpackSink {
  array(length: number): void;
  map(size: number): void;
  nil(): void;
  bool(v: boolean): void;
  /** 32-bit integers as MessagePack ints, every other number as float64 (as msgpackr does). */
  num(v: number): void;
  str(v: string): void;
  /** str() of the UUID packed at words[at..] (uuid-words.ts): the same bytes, without making the string. */
  uuid(words: Uint32Array, at: number): void;
  /** str() of the request hash packed at bytes[at..] (packed-hash.ts): the same bytes, without making the string. */
  hash(bytes: Uint8Array, at: number): void;
  /** Any JSON-like value (null, boolean, number, string, array, plain object), e.g. a payload. */
  value(v: unknown): void;
}

/** `v` as a string, or nil. */
export function strOrNil(w: MsgpackSink, v: string | null): void {
  if (v === null) w.nil();
  else w.str(v);
}

/** Runs `emit` twice: once to measure, once to write into a buffer of exactly that size. */
export function packExact(emit: (sink: MsgpackSink) => void): Uint8Array {
  const sizer = new Sizer();
  emit(sizer);
  const writer = new Writer(Buffer.allocUnsafeSlow(sizer.bytes));
  emit(writer);
  if (writer.pos !== sizer.bytes)
    throw new RatifyError('INTERNAL', `msgpack writer wrote ${writer.pos} bytes after measuring ${sizer.bytes}`);
  return writer.buf;
}

/** Strings up to this length that are all ASCII skip the native UTF-8 calls (a snapshot writes millions). */
const ASCII_FAST_MAX = 64;

/** Byte length of `v` in UTF-8. */
function utf8Length(v: string): number {
  if (v.length <= ASCII_FAST_MAX && isAscii(v)) return v.length;
  return Buffer.byteLength(v, 'utf8');
}

function isAscii(v: string): boolean {
  for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) > 0x7f) return false;
  return true;
}

function isInt32(v: number): boolean {
  return Number.isInteger(v) && v >= -0x80000000 && v <= 0xffffffff;
}

function headerBytes(n: number, fix: number): number {
  return n < fix ? 1 : n < 0x10000 ? 3 : 5;
}

function intBytes(v: number): number {
  if (v >= 0) return v < 0x80 ? 1 : v < 0x100 ? 2 : v < 0x10000 ? 3 : 5;
  return v >= -0x20 ? 1 : v >= -0x80 ? 2 : v >= -0x8000 ? 3 : 5;
}

abstract class Sink implements MsgpackSink {
  abstract array(length: number): void;
  abstract map(size: number): void;
  abstract nil(): void;
  abstract bool(v: boolean): void;
  abstract num(v: number): void;
  abstract str(v: string): void;
  abstract uuid(words: Uint32Array, at: number): void;
  abstract hash(bytes: Uint8Array, at: number): void;

  value(v: unknown): void {
    if (v === null || v === undefined) return this.nil();
    switch (typeof v) {
      case 'boolean':
        return this.bool(v);
      case 'number':
        return this.num(v);
      case 'string':
        return this.str(v);
      case 'object':
        if (Array.isArray(v)) {
          this.array(v.length);
          for (const item of v) this.value(item);
          return;
        }
        return this.object(v as Record<string, unknown>);
      default:
        throw new RatifyError('INTERNAL', `cannot encode a ${typeof v} in a snapshot`);
    }
  }

  private object(o: Record<string, unknown>): void {
    const keys = Object.keys(o);
    this.map(keys.length);
    for (const k of keys) {
      this.str(k);
      this.value(o[k]);
    }
  }
}

class Sizer extends Sink {
  bytes = 0;
  array(length: number): void {
    this.bytes += headerBytes(length, 16);
  }
  map(size: number): void {
    this.bytes += headerBytes(size, 16);
  }
  nil(): void {
    this.bytes += 1;
  }
  bool(): void {
    this.bytes += 1;
  }
  num(v: number): void {
    this.bytes += isInt32(v) ? intBytes(v) : 9;
  }
  str(v: string): void {
    const n = utf8Length(v);
    this.bytes += (n < 32 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5) + n;
  }
  uuid(): void {
    this.bytes += 2 + UUID_CHARS;
  }
  hash(): void {
    this.bytes += 2 + HASH_CHARS;
  }
}

class Writer extends Sink {
  pos = 0;
  constructor(public buf: Buffer) {
    super();
  }
  /** One type byte, then `v` big-endian in `bytes` bytes (0: the value is in the type byte). */
  private put(type: number, v: number, bytes: 0 | 1 | 2 | 4, signed = false): void {
    const b = this.buf;
    b[this.pos++] = type;
    if (bytes === 1) this.pos = signed ? b.writeInt8(v, this.pos) : b.writeUInt8(v, this.pos);
    else if (bytes === 2) this.pos = signed ? b.writeInt16BE(v, this.pos) : b.writeUInt16BE(v, this.pos);
    else if (bytes === 4) this.pos = signed ? b.writeInt32BE(v, this.pos) : b.writeUInt32BE(v, this.pos);
  }
  private header(n: number, fix: number, fixBase: number, code16: number): void {
    if (n < fix) this.put(fixBase | n, 0, 0);
    else if (n < 0x10000) this.put(code16, n, 2);
    else this.put(code16 + 1, n, 4);
  }
  array(length: number): void {
    this.header(length, 16, 0x90, 0xdc);
  }
  map(size: number): void {
    this.header(size, 16, 0x80, 0xde);
  }
  nil(): void {
    this.put(0xc0, 0, 0);
  }
  bool(v: boolean): void {
    this.put(v ? 0xc3 : 0xc2, 0, 0);
  }
  num(v: number): void {
    if (!isInt32(v)) {
      this.buf[this.pos++] = 0xcb;
      this.pos = this.buf.writeDoubleBE(v, this.pos);
    } else if (v >= 0) {
      if (v < 0x80) this.put(v, 0, 0);
      else if (v < 0x100) this.put(0xcc, v, 1);
      else if (v < 0x10000) this.put(0xcd, v, 2);
      else this.put(0xce, v, 4);
    } else if (v >= -0x20) this.put(v & 0xff, 0, 0);
    else if (v >= -0x80) this.put(0xd0, v, 1, true);
    else if (v >= -0x8000) this.put(0xd1, v, 2, true);
    else this.put(0xd2, v, 4, true);
  }
  str(v: string): void {
    const n = utf8Length(v);
    if (n < 32) this.put(0xa0 | n, 0, 0);
    else if (n < 0x100) this.put(0xd9, n, 1);
    else if (n < 0x10000) this.put(0xda, n, 2);
    else this.put(0xdb, n, 4);
    if (n === v.length && n <= ASCII_FAST_MAX) {
      for (let i = 0; i < n; i++) this.buf[this.pos++] = v.charCodeAt(i);
    } else {
      this.pos += this.buf.write(v, this.pos, n, 'utf8');
    }
  }
  // Both are ASCII of 32 to 255 characters: str8 (0xd9, the length), then the characters.
  uuid(words: Uint32Array, at: number): void {
    this.put(0xd9, UUID_CHARS, 1);
    writeUuidAscii(words, at, this.buf, this.pos);
    this.pos += UUID_CHARS;
  }
  hash(bytes: Uint8Array, at: number): void {
    this.put(0xd9, HASH_CHARS, 1);
    writeHashAscii(bytes, at, this.buf, this.pos);
    this.pos += HASH_CHARS;
  }
}

/** How strings are written: as Buffer.write does (lone surrogates become U+FFFD), or byte for byte as msgpackr does. */
export type StringEncoding = 'utf8' | 'msgpackr';

/** The longest UTF-8 form of one UTF-16 code unit. */
const UTF8_BYTES_PER_UNIT_MAX = 3;
/** msgpackr encodes strings shorter than this itself (lone surrogates as 3 bytes of their own), longer ones with Buffer's UTF-8. */
const MSGPACKR_MANUAL_MAX = 0x40;
const SCRATCH_INITIAL_BYTES = 16 * 1024;

/**
 * A MsgpackSink over a buffer that grows as needed and is reused: write, then
 * bytes() is a view of what was written since reset() (valid until the next
 * write or reset), and copy() the exact bytes in a buffer of their own.
 */
export class ScratchWriter extends Writer {
  constructor(private readonly strings: StringEncoding = 'utf8') {
    super(Buffer.allocUnsafeSlow(SCRATCH_INITIAL_BYTES));
  }

  /** Starts over at the start of the buffer (it keeps its size). */
  reset(): void {
    this.pos = 0;
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  copy(): Uint8Array {
    const out = Buffer.allocUnsafeSlow(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  override array(length: number): void {
    this.room(5);
    super.array(length);
  }
  override map(size: number): void {
    this.room(5);
    super.map(size);
  }
  override nil(): void {
    this.room(1);
    super.nil();
  }
  override bool(v: boolean): void {
    this.room(1);
    super.bool(v);
  }
  override num(v: number): void {
    this.room(9);
    super.num(v);
  }
  override uuid(words: Uint32Array, at: number): void {
    this.room(2 + UUID_CHARS);
    super.uuid(words, at);
  }
  override hash(bytes: Uint8Array, at: number): void {
    this.room(2 + HASH_CHARS);
    super.hash(bytes, at);
  }
  override str(v: string): void {
    this.room(5 + v.length * UTF8_BYTES_PER_UNIT_MAX);
    if (this.strings === 'msgpackr' && v.length < MSGPACKR_MANUAL_MAX) this.strManual(v);
    else super.str(v);
  }

  /** msgpackr's own encoding of a short string (pack.js): a lone surrogate as its 3-byte form, not U+FFFD. */
  private strManual(v: string): void {
    const b = this.buf;
    // The header is 1 or 2 bytes here (at most 63 units, 189 bytes): encode after a 2-byte gap, then close it if 1 did.
    const start = this.pos + 2;
    let p = start;
    for (let i = 0; i < v.length; i++) {
      let c1 = v.charCodeAt(i);
      let c2: number;
      if (c1 < 0x80) b[p++] = c1;
      else if (c1 < 0x800) {
        b[p++] = (c1 >> 6) | 0xc0;
        b[p++] = (c1 & 0x3f) | 0x80;
      } else if ((c1 & 0xfc00) === 0xd800 && ((c2 = v.charCodeAt(i + 1)) & 0xfc00) === 0xdc00) {
        c1 = 0x10000 + ((c1 & 0x03ff) << 10) + (c2 & 0x03ff);
        i++;
        b[p++] = (c1 >> 18) | 0xf0;
        b[p++] = ((c1 >> 12) & 0x3f) | 0x80;
        b[p++] = ((c1 >> 6) & 0x3f) | 0x80;
        b[p++] = (c1 & 0x3f) | 0x80;
      } else {
        b[p++] = (c1 >> 12) | 0xe0;
        b[p++] = ((c1 >> 6) & 0x3f) | 0x80;
        b[p++] = (c1 & 0x3f) | 0x80;
      }
    }
    const n = p - start;
    if (n < 32) {
      b[this.pos++] = 0xa0 | n;
      b.copyWithin(this.pos, start, p);
    } else {
      b[this.pos++] = 0xd9;
      b[this.pos++] = n;
    }
    this.pos += n;
  }
}
