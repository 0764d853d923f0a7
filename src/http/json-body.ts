// The one JSON body parser of a node's routes (installed by edge.ts in place of
// fastify's own). Two checks fastify's parser does not make, or makes with a
// misleading message:
//
// - Nesting depth. A body nested about 1,500 deep (a 3 KB body) made msgpackr
//   overflow the stack when the leader encoded the entry (500), and on a
//   follower the forward became a misleading 503; deeper still JSON.stringify
//   overflows. Nothing in the API needs more than a few levels, so a body that
//   nests deeper than jsonDepthMax (64) is refused with 400 before any route
//   sees it. JSON.parse itself takes any depth (V8 parses iteratively), and the
//   check walks the result with an explicit stack, so neither can overflow here.
// - Keys named "__proto__" (and "constructor" holding "prototype"). fastify
//   refuses them with "Body is not valid JSON", which is wrong: the body is
//   valid JSON. They are refused, with a message that says so, rather than
//   accepted: the log's encoding (msgpackr) renames "__proto__" to "__proto_"
//   when it decodes an entry, so the participant would get another payload
//   than the client sent, and a participant written in JavaScript that merges a
//   payload naively could have its prototypes polluted through the coordinator.
import type { FastifyInstance } from 'fastify';
import { RatifyError } from '../errors.js';

/** Default bound on the nesting of a JSON body: `{}` is 1, `{"a": []}` is 2. */
export const JSON_DEPTH_MAX_DEFAULT = 64;

/** Replaces fastify's JSON parser on `app` (before any route is registered). */
export function installJsonBody(app: FastifyInstance, depthMax: number): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string, depthMax));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}

/** Parses and checks one body; throws VALIDATION_FAILED naming what is wrong and where. */
export function parseJsonBody(text: string, depthMax: number): unknown {
  if (text.length === 0)
    throw new RatifyError('VALIDATION_FAILED', 'the body is empty but content-type is application/json (send {} or no content-type)');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RatifyError('VALIDATION_FAILED', 'the body is not valid JSON');
  }
  if (!plainlyWithinLimits(text, depthMax)) checkJsonValue(value, depthMax);
  return value;
}

/**
 * True when the text alone shows the body passes checkJsonValue, so the walk
 * (an allocation per object, on every request) can be skipped: no backslash (so
 * every key is spelled literally in the text), neither "__proto__" nor
 * "constructor" anywhere, and no more opening brackets than depthMax (each level
 * of nesting takes one; brackets inside strings only make the count larger).
 * False means only "walk it", not that the body is refused.
 */
export function plainlyWithinLimits(text: string, depthMax: number): boolean {
  if (text.includes('\\') || text.includes('__proto__') || text.includes('constructor')) return false;
  let open = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c === OPEN_BRACE || c === OPEN_BRACKET) && ++open > depthMax) return false;
  }
  return true;
}

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;

interface Frame {
  readonly value: object;
  readonly depth: number;
  readonly parent: Frame | null;
  readonly key: string;
}

/** Throws VALIDATION_FAILED if `value` nests deeper than `depthMax` or holds a forbidden key. */
export function checkJsonValue(value: unknown, depthMax: number): void {
  if (typeof value !== 'object' || value === null) return;
  const stack: Frame[] = [{ value, depth: 1, parent: null, key: '' }];
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    if (frame.depth > depthMax) {
      throw new RatifyError(
        'VALIDATION_FAILED',
        `the body nests deeper than ${depthMax} levels (at ${pointer(frame)}); jsonDepthMax is ${depthMax}`,
      );
    }
    const push = (child: unknown, key: string): void => {
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth: frame.depth + 1, parent: frame, key });
    };
    if (Array.isArray(frame.value)) {
      frame.value.forEach((item: unknown, i) => push(item, String(i)));
      continue;
    }
    const obj = frame.value as Record<string, unknown>;
    for (const key of Object.keys(obj)) {
      const child = obj[key];
      if (
        key === '__proto__' ||
        (key === 'constructor' && typeof child === 'object' && child !== null && Object.hasOwn(child, 'prototype'))
      ) {
        throw new RatifyError(
          'VALIDATION_FAILED',
          `the body holds a key "${key === '__proto__' ? '__proto__' : 'constructor.prototype'}" at ${pointer(frame)}: such keys are refused ` +
            '(the log cannot carry "__proto__" faithfully, and JavaScript consumers may treat them as prototypes); rename the key',
        );
      }
      push(child, key);
    }
  }
}

/** JSON Pointer (RFC 6901) of a frame, "/" for the body itself. */
function pointer(frame: Frame): string {
  const keys: string[] = [];
  for (let f: Frame | null = frame; f !== null && f.parent !== null; f = f.parent)
    keys.push(f.key.replace(/~/g, '~0').replace(/\//g, '~1'));
  return keys.length === 0 ? '/' : `/${keys.reverse().join('/')}`;
}
