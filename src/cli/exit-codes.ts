// Exit codes of the operator commands (ratify status, tx, members, leader,
// snapshot, check). The README's "Operator CLI" section documents them; a test
// runs a command into each.
import { isRatifyClientError } from '../sdk/client-error.js';

export const EXIT = {
  /** The command did what it was asked. */
  ok: 0,
  /** The cluster answered and refused or failed the operation (an error code), or `ratify check` found a mismatch. */
  failed: 1,
  /** Bad flags or arguments, or a bad local file (token, CA, backup): nothing was sent. */
  usage: 2,
  /** No node answered (refused, reset or timed out) after the client's retries. */
  unreachable: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A mistake in what the operator typed or pointed to; the command exits 2 with this message. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof UsageError) return EXIT.usage;
  if (isRatifyClientError(err, 'UNREACHABLE')) return EXIT.unreachable;
  return EXIT.failed;
}
