// Every bound of the transaction coordinator, validated once at start-up.
//
// Limits that change what apply() does are NOT read from here by the state
// machine: the leader copies them into the command it proposes, so two nodes
// with different configs can never apply the same entry differently.
import { RatifyError } from '../errors.js';
import { parseAllowlist } from './participant-url-policy.js';

export interface TxConfig {
  /** Participants per transaction (create and enlist). */
  readonly maxParticipants: number;
  /**
   * Transactions whose outcome is still open (active, preparing); new creates
   * get TOO_MANY_PENDING beyond it. Each of them is decided by its deadline
   * at the latest, so this bounds creates per maxTimeoutMs.
   */
  readonly maxActiveTransactions: number;
  /**
   * Transactions whose outcome is fixed but which have not finished
   * (precommitted, committing, aborting: a participant has not acknowledged
   * yet). Normally one is there for milliseconds; it stays while a participant
   * is unreachable. Counted apart from maxActiveTransactions, so that work
   * stuck in phase 2 does not refuse new work until this many pile up (then
   * TOO_MANY_PENDING, naming this setting). A bound on memory, not a rate.
   */
  readonly maxStuckTransactions: number;
  /**
   * Presumed abort: an abort not acknowledged this long after the decision by
   * a participant that never voted commit is given up (abandon.ts). Long
   * enough for a participant's restart or a rolling deploy (so a healthy one
   * still hears its abort directly), short enough that a URL leading nowhere
   * frees its slot in maxStuckTransactions within minutes.
   */
  readonly abandonAfterMs: number;
  /** Bytes of one participant's JSON payload. */
  readonly maxPayloadBytes: number;
  /** Bytes of one request body on the transaction routes (413 BODY_TOO_LARGE beyond it). */
  readonly maxBodyBytes: number;
  readonly maxNameLength: number;
  readonly maxUrlLength: number;
  readonly maxIdempotencyKeyLength: number;
  /** Transaction timeout when the request names none. */
  readonly defaultTimeoutMs: number;
  readonly maxTimeoutMs: number;
  /** One prepare call (clamped to the time left before the deadline). */
  readonly prepareCallTimeoutMs: number;
  /** Attempts per participant in prepare before its failure counts as an abort vote. */
  readonly prepareMaxAttempts: number;
  /** Pause between prepare attempts. */
  readonly prepareRetryDelayMs: number;
  /** One precommit/commit/abort call. */
  readonly phase2CallTimeoutMs: number;
  /** Phase 2 (and 3PC precommit) retry backoff: full jitter in [0, min(cap, base * 2^attempt)). */
  readonly phase2BackoffBaseMs: number;
  readonly phase2BackoffCapMs: number;
  /** Consecutive failed calls after which a participant is reported as failing (view lastError, metrics). */
  readonly participantFailingThreshold: number;
  /**
   * Votes and acknowledgements get Raft entries of their own only once their
   * phase has waited this long; until then they ride in the decision entry
   * (votes) or the completion entry (acknowledgements). A fast transaction then
   * costs three entries (created, decided, completed) instead of seven, while a
   * slow one still shows its votes and acknowledgements as they come in. 0
   * records each as soon as it arrives.
   */
  readonly progressRecordDelayMs: number;
  /** Sockets per participant origin; isolates a slow participant from the others. */
  readonly participantConnectionsPerOrigin: number;
  /**
   * Calls of one kind issued to one participant in the same event-loop turn go
   * out as one `POST {url}/batch` of at most this many (participant-batch.ts);
   * 1 sends every call on its own. Participants without /batch get single calls.
   */
  readonly participantBatchCallsMax: number;
  /** Finished transactions are removed this long after completion ... */
  readonly retainFinishedMs: number;
  /** ... or once more than this many finished ones are kept (oldest first). */
  readonly retainFinishedMax: number;
  /** How often the leader proposes a retention (gc) entry. */
  readonly gcIntervalMs: number;
  /** How often the leader looks for expired active transactions and undriven in-flight ones. */
  readonly sweepIntervalMs: number;
  readonly listLimitDefault: number;
  readonly listLimitMax: number;
  /** Bound on one proposal (create, enlist, decide, ...). */
  readonly proposeTimeoutMs: number;
  /** Bound on the ReadIndex barrier of a GET. */
  readonly readBarrierTimeoutMs: number;
  /** Extra wait, past the transaction's deadline, for a decision before a commit request answers 504. */
  readonly decisionWaitSlackMs: number;
  /** Bound on a write forwarded from a follower to the leader (covers a commit's whole wait). */
  readonly forwardTimeoutMs: number;
  /**
   * Where participants may live: host names (any port, as before), host:port,
   * CIDR ranges and http(s) URL prefixes (participant-url-policy.ts). Empty:
   * anywhere but link-local, metadata and cluster member addresses (and
   * loopback unless this node listens on loopback).
   */
  readonly participantHostAllowlist: readonly string[];
}

export const txConfigDefaults: TxConfig = {
  maxParticipants: 16,
  maxActiveTransactions: 10_000,
  maxStuckTransactions: 50_000,
  abandonAfterMs: 5 * 60 * 1000,
  maxPayloadBytes: 64 * 1024,
  maxBodyBytes: 1024 * 1024,
  maxNameLength: 128,
  maxUrlLength: 2048,
  maxIdempotencyKeyLength: 256,
  defaultTimeoutMs: 30_000,
  maxTimeoutMs: 600_000,
  prepareCallTimeoutMs: 5_000,
  prepareMaxAttempts: 3,
  prepareRetryDelayMs: 100,
  phase2CallTimeoutMs: 5_000,
  phase2BackoffBaseMs: 50,
  phase2BackoffCapMs: 10_000,
  participantFailingThreshold: 5,
  progressRecordDelayMs: 500,
  participantConnectionsPerOrigin: 32,
  participantBatchCallsMax: 64,
  retainFinishedMs: 24 * 60 * 60 * 1000,
  retainFinishedMax: 100_000,
  gcIntervalMs: 10_000,
  sweepIntervalMs: 250,
  listLimitDefault: 100,
  listLimitMax: 1_000,
  proposeTimeoutMs: 10_000,
  readBarrierTimeoutMs: 5_000,
  decisionWaitSlackMs: 10_000,
  forwardTimeoutMs: 630_000,
  participantHostAllowlist: [],
};

type NumericKey = { [K in keyof TxConfig]: TxConfig[K] extends number ? K : never }[keyof TxConfig];

/** Inclusive integer ranges for every numeric field. */
const RANGES: Record<NumericKey, readonly [number, number]> = {
  maxParticipants: [1, 1024],
  maxActiveTransactions: [1, 1_000_000],
  maxStuckTransactions: [1, 1_000_000],
  abandonAfterMs: [1, 7 * 24 * 60 * 60 * 1000],
  maxPayloadBytes: [0, 16 * 1024 * 1024],
  maxBodyBytes: [1024, 64 * 1024 * 1024],
  maxNameLength: [1, 1024],
  maxUrlLength: [16, 8192],
  maxIdempotencyKeyLength: [8, 1024],
  defaultTimeoutMs: [1, 24 * 60 * 60 * 1000],
  maxTimeoutMs: [1, 24 * 60 * 60 * 1000],
  prepareCallTimeoutMs: [1, 600_000],
  prepareMaxAttempts: [1, 100],
  prepareRetryDelayMs: [0, 60_000],
  phase2CallTimeoutMs: [1, 600_000],
  phase2BackoffBaseMs: [1, 60_000],
  phase2BackoffCapMs: [1, 3_600_000],
  participantFailingThreshold: [1, 1_000_000],
  progressRecordDelayMs: [0, 600_000],
  participantConnectionsPerOrigin: [1, 1024],
  participantBatchCallsMax: [1, 256],
  retainFinishedMs: [0, 365 * 24 * 60 * 60 * 1000],
  retainFinishedMax: [0, 10_000_000],
  gcIntervalMs: [10, 3_600_000],
  sweepIntervalMs: [5, 60_000],
  listLimitDefault: [1, 100_000],
  listLimitMax: [1, 100_000],
  proposeTimeoutMs: [1, 600_000],
  readBarrierTimeoutMs: [1, 600_000],
  decisionWaitSlackMs: [0, 600_000],
  forwardTimeoutMs: [1, 25 * 60 * 60 * 1000],
};

function invalid(message: string): never {
  throw new RatifyError('CONFIG_INVALID', message);
}

export function validateTxConfig(c: TxConfig): void {
  for (const key of Object.keys(RANGES) as NumericKey[]) {
    const [min, max] = RANGES[key];
    const value = c[key];
    if (!Number.isInteger(value) || value < min || value > max) {
      invalid(`${key} (${String(value)}) must be an integer between ${min} and ${max}`);
    }
  }
  const relations: ReadonlyArray<readonly [boolean, string]> = [
    [
      c.defaultTimeoutMs <= c.maxTimeoutMs,
      `defaultTimeoutMs (${c.defaultTimeoutMs}) cannot be larger than maxTimeoutMs (${c.maxTimeoutMs})`,
    ],
    [
      c.phase2BackoffBaseMs <= c.phase2BackoffCapMs,
      `phase2BackoffBaseMs (${c.phase2BackoffBaseMs}) cannot be larger than phase2BackoffCapMs (${c.phase2BackoffCapMs})`,
    ],
    [
      c.listLimitDefault <= c.listLimitMax,
      `listLimitDefault (${c.listLimitDefault}) cannot be larger than listLimitMax (${c.listLimitMax})`,
    ],
    [c.maxPayloadBytes < c.maxBodyBytes, `maxPayloadBytes (${c.maxPayloadBytes}) must be smaller than maxBodyBytes (${c.maxBodyBytes})`],
    [
      c.forwardTimeoutMs > c.maxTimeoutMs + c.decisionWaitSlackMs,
      `forwardTimeoutMs (${c.forwardTimeoutMs}) must be larger than maxTimeoutMs + decisionWaitSlackMs (${c.maxTimeoutMs + c.decisionWaitSlackMs})`,
    ],
  ];
  for (const [ok, message] of relations) if (!ok) invalid(message);
  if (!Array.isArray(c.participantHostAllowlist))
    invalid('participantHostAllowlist must be an array of hosts, host:port, CIDR ranges or URL prefixes');
  const { errors } = parseAllowlist(c.participantHostAllowlist);
  if (errors.length > 0) invalid(errors.join('; '));
}
