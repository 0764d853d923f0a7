// Decoding of coordinator calls. Bodies arrive as `unknown` from any transport and
// are narrowed here, so the fastify plugin, the node:http handler and direct
// handle() callers all get the same checks and the same VALIDATION_FAILED errors.
import { RatifyError } from '../../errors.js';
import { isTerm } from './record.js';
import type { CallPath, ParticipantCall } from './types.js';

export const TX_ID_CHARS_MAX = 256;
export const PARTICIPANT_NAME_CHARS_MAX = 256;
export const TERM_HEADER = 'x-ratify-term';

export type HeaderBag = Readonly<Record<string, string | readonly string[] | undefined>>;

export function decodeCall(path: CallPath, body: unknown, headers: HeaderBag): ParticipantCall {
  if (!isJsonObject(body)) invalid('body must be a JSON object');
  const o = body;
  const txId = boundedString(o['txId'], 'txId', TX_ID_CHARS_MAX);
  const participant = boundedString(o['participant'], 'participant', PARTICIPANT_NAME_CHARS_MAX);
  const term = o['term'];
  if (!isTerm(term)) invalid(`term must be a non-negative integer, got ${JSON.stringify(term)}`);
  checkTermHeader(headers, term);
  if (path !== 'prepare') return { path, txId, participant, term };
  const protocol = o['protocol'];
  if (protocol !== '2pc' && protocol !== '3pc') invalid(`protocol must be "2pc" or "3pc", got ${JSON.stringify(protocol)}`);
  return { path, txId, participant, payload: o['payload'], protocol, term };
}

export function isCallPath(s: string): s is CallPath {
  return s === 'prepare' || s === 'precommit' || s === 'commit' || s === 'abort';
}

function boundedString(v: unknown, name: string, charsMax: number): string {
  if (typeof v !== 'string' || v.length === 0) invalid(`${name} must be a non-empty string`);
  if (v.length > charsMax) invalid(`${name} length (${v.length}) must be at most ${charsMax}`);
  return v;
}

/** The header and the body carry the same term; disagreement means a broken proxy or client. */
export function checkTermHeader(headers: HeaderBag, term: number): void {
  const raw = headers[TERM_HEADER];
  if (raw === undefined) return;
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || !/^\d{1,16}$/.test(value) || Number(value) !== term) {
    invalid(`header X-Ratify-Term (${String(value)}) must equal the body's term (${term})`);
  }
}

/** A JSON object: not null, not an array. */
export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Throws the VALIDATION_FAILED every malformed call or envelope answers with. */
export function invalid(message: string): never {
  throw new RatifyError('VALIDATION_FAILED', message);
}
