// The error every RatifyClient call rejects with: the server's `{error:{code,
// message}}` with its HTTP status, or a client-side code when no usable answer came.
import type { ErrorCode } from '../errors.js';

/**
 * Client-side codes: UNREACHABLE (no node answered: refused, reset or timed out;
 * status 0) and BAD_RESPONSE (an answer that is not the API's JSON).
 */
export type ClientSideCode = 'UNREACHABLE' | 'BAD_RESPONSE';

/** Server codes are open-ended for forward compatibility; known ones autocomplete. */
export type ClientErrorCode = ErrorCode | ClientSideCode | (string & {});

export class RatifyClientError extends Error {
  readonly code: ClientErrorCode;
  /** HTTP status, or 0 when no node answered. */
  readonly status: number;
  /** Extra fields of the server's error object (for example leaderId). */
  readonly details: Readonly<Record<string, unknown>>;
  /** The node that gave this answer, if any. */
  readonly node: string | null;
  /** Attempts made before giving up (1 when the error was not retryable). */
  readonly attempts: number;
  /** The server's Retry-After hint, in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: ClientErrorCode,
    message: string,
    o: {
      status: number;
      node: string | null;
      attempts?: number;
      details?: Record<string, unknown>;
      retryAfterMs?: number | undefined;
      cause?: unknown;
    },
  ) {
    super(message, o.cause === undefined ? undefined : { cause: o.cause });
    this.name = 'RatifyClientError';
    this.code = code;
    this.status = o.status;
    this.node = o.node;
    this.attempts = o.attempts ?? 1;
    this.details = o.details ?? {};
    this.retryAfterMs = o.retryAfterMs;
  }

  /** Builds the error from a non-2xx answer. */
  static fromResponse(status: number, body: unknown, node: string, retryAfterMs?: number): RatifyClientError {
    const err = (body as { error?: unknown } | null)?.error;
    if (typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string') {
      const { code, message, ...details } = err as { code: string; message?: unknown } & Record<string, unknown>;
      return new RatifyClientError(code, typeof message === 'string' ? message : code, { status, node, details, retryAfterMs });
    }
    return new RatifyClientError('BAD_RESPONSE', `HTTP ${status} from ${node} without an error body`, { status, node, retryAfterMs });
  }

  withAttempts(attempts: number): RatifyClientError {
    return new RatifyClientError(this.code, this.message, {
      status: this.status,
      node: this.node,
      attempts,
      details: { ...this.details },
      retryAfterMs: this.retryAfterMs,
      cause: this.cause,
    });
  }
}

export function isRatifyClientError(e: unknown, code?: ClientErrorCode): e is RatifyClientError {
  return e instanceof RatifyClientError && (code === undefined || e.code === code);
}
