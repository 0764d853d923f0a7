// Parsers of setting values. Flags and environment variables arrive as strings, the
// config file's values as any JSON value; each parser accepts both and throws an
// Error whose message names the setting and the value it refused.
import type { Member } from '../../raft/types.js';

/** Accepts a string (flag, env) or a JSON value (file); throws a message naming the setting. */
export type Parser<T> = (value: unknown, name: string) => T;

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export function parseString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new Error(`${name} (${show(value)}) must be a string`);
  return value;
}

export function parseInteger(value: unknown, name: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new Error(`${name} (${show(value)}) must be an integer`);
  return n;
}

export function parseBoolean(value: unknown, name: string): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new Error(`${name} (${show(value)}) must be true or false`);
}

export function parseNullable<T>(inner: Parser<T>): Parser<T | null> {
  return (v, n) => (v === null || v === '' ? null : inner(v, n));
}

export function parseOneOf<T extends string>(allowed: readonly T[]): Parser<T> {
  return (value, name) => {
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
    throw new Error(`${name} (${show(value)}) must be one of ${allowed.join(', ')}`);
  };
}

/**
 * Any finite number: a string is converted, a JSON value must already be a number.
 * Whether it is an integer in range is the validator's question (its message names
 * the limit), as for the transaction settings since they were first read.
 */
export function parseNumber(value: unknown, name: string): number {
  if (typeof value !== 'string') {
    if (typeof value !== 'number') throw new Error(`${name} (${show(value)}) must be a number`);
    return value;
  }
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new Error(`${name} (${show(value)}) must be a number`);
  return n;
}

/**
 * A comma-separated string (flag, env) becomes a list of its non-empty trimmed items;
 * any other value (the file's JSON array) passes through for the validator to check.
 */
export function parseList(value: unknown): readonly string[] {
  if (typeof value !== 'string') return value as readonly string[];
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

export function parseListen(value: unknown, name = 'listen'): ListenAddress {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    return { host: parseString(o['host'], `${name}.host`), port: parseInteger(o['port'], `${name}.port`) };
  }
  const s = parseString(value, name);
  const colon = s.lastIndexOf(':');
  if (colon <= 0) throw new Error(`${name} (${show(value)}) must look like host:port`);
  return { host: s.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: parseInteger(s.slice(colon + 1), `${name} port`) };
}

/** "n1=http://h:1,n2=http://h:2", or in a file an array of {id,url} or an {id: url} object. */
export function parsePeers(value: unknown, name = 'peers'): Member[] {
  let pairs: [unknown, unknown][];
  if (typeof value === 'string') {
    pairs = value
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '')
      .map((p) => {
        const eq = p.indexOf('=');
        if (eq <= 0) throw new Error(`${name} entry (${show(p)}) must look like id=url`);
        return [p.slice(0, eq), p.slice(eq + 1)];
      });
  } else if (Array.isArray(value)) {
    pairs = value.map((p: unknown) => {
      const o = (typeof p === 'object' && p !== null ? p : {}) as Record<string, unknown>;
      return [o['id'], o['url']];
    });
  } else if (typeof value === 'object' && value !== null) {
    pairs = Object.entries(value);
  } else {
    throw new Error(`${name} (${show(value)}) must be a list of id=url`);
  }
  return pairs.map(([id, url]) => ({
    id: parseString(id, `${name} id`),
    url: parseString(url, `${name} url`).replace(/\/+$/, ''),
    voter: true,
  }));
}

/** A value as an error message shows it: strings quoted, the rest as String() has them. */
export function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}
