// Typed error codes for the whole project. Every code maps to one HTTP status and
// is documented in README.md ("Error codes"); test/errors-doc.test.ts keeps the
// two lists equal. Add a code here, then document it.

export const ERROR_CODES = {
  VALIDATION_FAILED: {
    status: 400,
    description:
      'The request body, params or query failed validation (also a JSON body nested deeper than jsonDepthMax, or one holding a "__proto__" key).',
  },
  PARTICIPANT_URL_REFUSED: {
    status: 400,
    description:
      "A participant URL is refused by the coordinator's URL policy: it carries credentials, points at a link-local, metadata or cluster member address, at loopback while the node listens beyond it, or outside participantHostAllowlist. It is never called.",
  },
  CONFIRMATION_REQUIRED: {
    status: 400,
    description: 'A destructive admin call was not confirmed: force-finish needs a body {"confirm": "<the transaction id>"}.',
  },
  UNAUTHORIZED: {
    status: 401,
    description:
      'The call is not authenticated: a client API call without a valid token (Authorization: Bearer); a peer call without a valid signature under the cluster secret, or a replayed or stale one; an admin call without a token or the right x-ratify-secret; or no trusted client certificate (mutual TLS).',
  },
  SIGNATURE_INVALID: {
    status: 401,
    description:
      'A participant that requires signed calls (the SDK with coordinatorKey) refused a call: unsigned, signed with another key or for another path or body, or with a timestamp beyond its allowed clock skew. Nothing was recorded and the term fence is unchanged.',
  },
  FORBIDDEN: {
    status: 403,
    description:
      "The token's role does not allow the call (reader < client < admin), or the caller is not a member of this cluster, belongs to another cluster, or speaks for another member than it authenticated as.",
  },
  TX_NOT_FOUND: { status: 404, description: 'No transaction with that id is known (it may have been retained past its limit).' },
  ROUTE_NOT_FOUND: { status: 404, description: 'No such endpoint.' },
  MEMBER_NOT_FOUND: { status: 404, description: 'No cluster member with that id.' },
  MEMBER_REMOVED: {
    status: 410,
    description:
      'The calling peer, or this node, was removed from the cluster: the removal is committed and applied. A removed node stops campaigning and serving.',
  },
  TX_NOT_ACTIVE: { status: 409, description: 'The transaction is past the active state; participants can no longer be enlisted.' },
  TX_ALREADY_COMMITTED: { status: 409, description: 'Abort was requested but the decision was commit.' },
  TX_PRECOMMITTED: {
    status: 409,
    description:
      'Abort was requested for a 3PC transaction that is already precommitted: its outcome can only be commit (the view already says committed).',
  },
  TX_ALREADY_ABORTED: {
    status: 409,
    description: 'A participant was told to precommit or commit a transaction it had already aborted (a protocol violation).',
  },
  OUTCOME_CONFLICT: {
    status: 409,
    description:
      "A force-finish named an outcome other than the transaction's: force-finish never contradicts a decision (a commit, or a 3PC precommitted transaction, finishes committed; a decided abort, or an undecided transaction, aborted).",
  },
  STALE_TERM: {
    status: 409,
    description: 'A participant refused a call from a deposed leader: the term is lower than the highest it has seen.',
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 409,
    description:
      "The Idempotency-Key was already used for a request with a different body, or a participant name was enlisted again with a different url or payload (within a transaction the name is the enlist's idempotency key).",
  },
  CONFIG_CHANGE_IN_PROGRESS: { status: 409, description: 'A membership change is still uncommitted; retry after it commits.' },
  INVALID_CONFIG_CHANGE: { status: 409, description: 'The membership change is not allowed (for example, removing the last voter).' },
  TRANSFER_IN_PROGRESS: { status: 409, description: 'A leadership transfer is under way; proposals are paused.' },
  LEARNER_NOT_CAUGHT_UP: {
    status: 409,
    description: "The learner to promote trails the leader's log by more than promoteLagEntriesMax; retry once it has caught up.",
  },
  BODY_TOO_LARGE: { status: 413, description: 'The request body exceeds the configured limit.' },
  TOO_MANY_PARTICIPANTS: { status: 413, description: 'The transaction would exceed the configured participant limit.' },
  URI_TOO_LONG: { status: 414, description: 'A path parameter (an id or key) in the URL is longer than any valid one.' },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    description:
      'The request has a body in a content type the endpoint does not take (or none): send JSON with content-type: application/json (peers: the Raft types).',
  },
  TOO_MANY_PENDING: { status: 429, description: 'Too many uncommitted proposals or active transactions; back off and retry.' },
  INTERNAL: { status: 500, description: 'An unexpected error; the logs carry the cause.' },
  HEURISTIC_OUTCOME: {
    status: 500,
    description:
      "A participant's prepared work was already finished the other way outside Ratify (for example a manual ROLLBACK PREPARED); an operator must reconcile it.",
  },
  NOT_LEADER: { status: 503, description: 'This node is not the leader and could not forward the request.' },
  NO_LEADER: { status: 503, description: 'No leader is known (election in progress or no quorum); retry after Retry-After.' },
  LEADERSHIP_LOST: {
    status: 503,
    description: 'Leadership changed before the proposal was applied; its fate is unknown, retry with the same Idempotency-Key.',
  },
  TIMEOUT: { status: 504, description: 'The operation did not finish within its time limit; its fate may be unknown.' },
  SHUTTING_DOWN: { status: 503, description: 'The node is stopping.' },
  DATA_CORRUPT: { status: 500, description: 'The data directory failed its integrity checks; the node refuses to start.' },
  CONFIG_INVALID: { status: 500, description: 'A configuration value is out of range; the message names the value and the limit.' },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class RatifyError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra fields safe to show to clients (for example leaderId). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RatifyError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = options?.details;
  }

  toJSON(): { error: { code: ErrorCode; message: string } & Record<string, unknown> } {
    return { error: { code: this.code, message: this.message, ...(this.details ?? {}) } };
  }
}

export function isRatifyError(e: unknown, code?: ErrorCode): e is RatifyError {
  return e instanceof RatifyError && (code === undefined || e.code === code);
}
