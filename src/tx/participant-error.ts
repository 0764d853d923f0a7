// What a failed participant call says, and to whom.
//
// A participant's lastError is shown to every reader of the transaction. If it
// carried the low-level cause ("connect ECONNREFUSED 127.0.0.1:37083", "getaddrinfo
// ENOTFOUND ...", a TLS alert), anyone allowed to enlist URLs could use the
// coordinator as a port scanner of its own network and read the answers off the
// view. So the view gets one of a few plain phrases, which tell the operator
// what kind of thing failed and say nothing about the network; the cause goes to
// the coordinator's log, at warn at most once per participant origin per
// LOG_EVERY_MS (a participant that is down for a day would otherwise write a
// line per retry), at debug otherwise.
import type pino from 'pino';
import { describeError } from '../util/describe-error.js';
import { ParticipantUrlRefused } from './participant-url-policy.js';

/** A call that got no answer at all, whatever the cause. */
export const NO_ANSWER = 'no answer from the participant (refused, unreachable or timed out; the coordinator log has the cause)';
const LOG_EVERY_MS = 30_000;
const ORIGINS_MAX = 1024;

/** The part of a failure that readers of the view may see. */
export function publicCallError(e: unknown): string {
  if (e instanceof ParticipantUrlRefused) return e.message;
  if (e instanceof Error) {
    if (e.name === 'AbortError') return 'cancelled';
    // Our own bound on an answer (http-call.ts), not the network's.
    if (/^answer larger than \d+ bytes$/.test(e.message)) return e.message;
  }
  return NO_ANSWER;
}

/** Longest part of a participant's own error message carried into lastError. */
export const PARTICIPANT_MESSAGE_CHARS_MAX = 200;
/** Longest error code taken from an answer (longer is no code: codes are short identifiers). */
const CODE_CHARS_MAX = 64;

/**
 * A participant answered with an error status: what lastError says. The
 * participant's own words (`{"error": {"code", "message"}}`, the participant
 * protocol's shape, or a top-level `code`/`message`) are shown: they come from
 * the service the client enlisted, which is what an operator needs to read,
 * and they are its answer, not the network's. Bounded, one line, control
 * characters out. `code` is returned apart for the callers that act on it.
 */
export function answerError(call: string, status: number, body: unknown): { error: string; code: string | null } {
  const { code, message } = ownWords(body);
  let error = `${call} answered HTTP ${status}`;
  if (code !== null) error += ` ${code}`;
  if (message !== null) error += `: ${message}`;
  return { error, code };
}

function ownWords(body: unknown): { code: string | null; message: string | null } {
  if (!isObject(body)) return { code: null, message: null };
  const inner = isObject(body.error) ? body.error : body;
  const code =
    typeof inner.code === 'string' && inner.code.length <= CODE_CHARS_MAX && /^[A-Za-z0-9_.:-]+$/.test(inner.code) ? inner.code : null;
  const message = typeof inner.message === 'string' ? oneLine(inner.message) : null;
  return { code, message: message === '' ? null : message };
}

function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return flat.length <= PARTICIPANT_MESSAGE_CHARS_MAX ? flat : `${flat.slice(0, PARTICIPANT_MESSAGE_CHARS_MAX - 1)}…`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface CallFailure {
  readonly call: string;
  readonly url: string;
  readonly txId: string;
  readonly participant: string;
}

/** Logs the cause of failed calls; at warn once per origin per LOG_EVERY_MS. */
export class CallErrorLog {
  private readonly lastWarnAt = new Map<string, number>();

  constructor(
    private readonly logger: pino.Logger | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  failed(f: CallFailure, err: unknown): void {
    if (this.logger === undefined) return;
    if (err instanceof Error && err.name === 'AbortError') return;
    const origin = originOf(f.url);
    const now = this.now();
    const last = this.lastWarnAt.get(origin);
    const fields = { participant: f.participant, txId: f.txId, call: f.call, origin, cause: describeError(err) };
    if (last !== undefined && now - last < LOG_EVERY_MS) {
      this.logger.debug(fields, 'participant call failed');
      return;
    }
    if (this.lastWarnAt.size >= ORIGINS_MAX) this.lastWarnAt.clear();
    this.lastWarnAt.set(origin, now);
    this.logger.warn(fields, 'participant call failed (more failures to this origin are logged at debug for 30 s)');
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'invalid-url';
  }
}
