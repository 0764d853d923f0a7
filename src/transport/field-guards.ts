// Narrowing helpers for decoded, untrusted values (wire messages and stored
// records). Each one either returns a typed value or throws
// RatifyError('VALIDATION_FAILED') naming the field path, so a malformed input
// can never reach the Raft core as a half-typed object.
import { RatifyError } from '../errors.js';

export type Fields = Readonly<Record<string, unknown>>;

export function invalid(path: string, expected: string, got: unknown): RatifyError {
  return new RatifyError('VALIDATION_FAILED', `${path}: expected ${expected}, got ${describe(got)}`);
}

/** A short description of a bad value; never echoes large or binary payloads. */
function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return `array(${x.length})`;
  if (x instanceof Uint8Array) return `bytes(${x.byteLength})`;
  if (typeof x === 'string') return x.length <= 32 ? JSON.stringify(x) : `string(${x.length})`;
  if (typeof x === 'number' || typeof x === 'boolean') return String(x);
  return typeof x;
}

export function readObject(x: unknown, path: string): Fields {
  if (typeof x !== 'object' || x === null || Array.isArray(x) || x instanceof Uint8Array) {
    throw invalid(path, 'an object', x);
  }
  const proto = Object.getPrototypeOf(x) as unknown;
  if (proto !== Object.prototype && proto !== null) throw invalid(path, 'a plain object', x);
  return x as Fields;
}

/** A non-negative safe integer, at least `min`. */
export function readUint(o: Fields, key: string, path: string, min = 0): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw invalid(`${path}.${key}`, `an integer >= ${min}`, v);
  }
  return v;
}

export function readBool(o: Fields, key: string, path: string): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') throw invalid(`${path}.${key}`, 'a boolean', v);
  return v;
}

/** A non-empty string of at most maxLength UTF-16 units. */
export function readString(o: Fields, key: string, path: string, maxLength: number): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > maxLength) {
    throw invalid(`${path}.${key}`, `a non-empty string of at most ${maxLength} characters`, v);
  }
  return v;
}

/**
 * Bytes, returned as a plain Uint8Array view over the same memory (no copy).
 * Decoders hand out Buffers; normalising keeps equality checks and callers
 * independent of which codec or storage produced the value.
 */
export function readBytes(o: Fields, key: string, path: string): Uint8Array {
  const v = o[key];
  if (!(v instanceof Uint8Array)) throw invalid(`${path}.${key}`, 'bytes', v);
  return v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

export function readArray(o: Fields, key: string, path: string, maxLength: number): readonly unknown[] {
  const v = o[key];
  if (!Array.isArray(v)) throw invalid(`${path}.${key}`, 'an array', v);
  if (v.length > maxLength) throw invalid(`${path}.${key}`, `at most ${maxLength} items`, v);
  return v;
}
