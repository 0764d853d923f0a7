// Decoding of the batch envelope, `POST {prefix}/batch` (README "Participant
// protocol", "Batch calls"). The coordinator sends several calls of one kind
// in one request to save syscalls and HTTP work; nothing about a call's meaning
// changes. So this file checks only the envelope: each item is answered by the
// same handle() a single call goes through, and an item that cannot be a call
// at all gets its own 400 while the others still run.
import { RatifyError } from '../../errors.js';
import { checkTermHeader, invalid, isCallPath, isJsonObject, type HeaderBag } from './decode.js';
import { isTerm } from './record.js';
import type { CallPath } from './types.js';

/** Calls per batch request; the coordinator sends at most 64, so this is headroom, not a target. */
export const BATCH_CALLS_MAX = 256;

const SHOWN_CHARS_MAX = 64;

/** One envelope item: a call to run, or the VALIDATION_FAILED it answers without running. */
export type BatchItem =
  | { readonly kind: 'call'; readonly path: CallPath; readonly body: object }
  | { readonly kind: 'invalid'; readonly error: RatifyError };

/** Narrows a batch body to its items; throws VALIDATION_FAILED when the envelope itself is wrong. */
export function decodeBatch(body: unknown, headers: HeaderBag): BatchItem[] {
  if (!isJsonObject(body)) invalid('batch body must be a JSON object');
  const term = body['term'];
  if (!isTerm(term)) invalid(`batch term must be a non-negative integer, got ${shown(term)}`);
  checkTermHeader(headers, term);
  const calls = body['calls'];
  if (!Array.isArray(calls)) invalid('batch calls must be an array');
  if (calls.length === 0) invalid('batch calls must hold at least 1 call');
  if (calls.length > BATCH_CALLS_MAX) invalid(`batch calls (${calls.length}) must be at most ${BATCH_CALLS_MAX}`);
  return (calls as unknown[]).map(decodeItem);
}

function decodeItem(item: unknown, index: number): BatchItem {
  const call = isJsonObject(item) ? item['call'] : undefined;
  const body = isJsonObject(item) ? item['body'] : undefined;
  if (typeof call !== 'string' || !isCallPath(call)) {
    return itemInvalid(`calls[${index}].call must be one of prepare, precommit, commit, abort, got ${shown(call)}`);
  }
  if (!isJsonObject(body)) return itemInvalid(`calls[${index}].body must be a JSON object`);
  return { kind: 'call', path: call, body };
}

/** A bad value in a message, clipped: the body limit bounds what a client sends, not what we echo. */
function shown(v: unknown): string {
  const text = JSON.stringify(v) ?? 'nothing';
  return text.length <= SHOWN_CHARS_MAX ? text : `${text.slice(0, SHOWN_CHARS_MAX)}…`;
}

function itemInvalid(message: string): BatchItem {
  return { kind: 'invalid', error: new RatifyError('VALIDATION_FAILED', message) };
}
