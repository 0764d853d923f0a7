// Every bound of the transaction coordinator, declared once (txFields: flag, env var,
// file key, default, range) and validated once at start-up. The node reads them
// from its sources like its own settings (src/node/config/sources.ts).
//
// Limits that change what apply() does are NOT read from here by the state
// machine: the leader copies them into the command it proposes, so two nodes
// with different configs can never apply the same entry differently.
import { RatifyError } from '../errors.js';
import { defaultsOf, type Field, type Range } from '../node/config/field.js';
import { parseList, parseNumber } from '../node/config/parse.js';
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

/**
 * A transaction setting's declaration: `--tx <flag>=value`, its RATIFY_TX_* variable, the
 * key inside the config file's "tx" object (the flag), its default and, for a number,
 * its range. A key of TxConfig without a declaration here, or a number without a
 * range, does not compile.
 */
export type TxField<T> = Field<T> & { readonly default: T } & (T extends number ? { readonly range: Range } : unknown);

export type TxFieldTable = { readonly [K in keyof TxConfig]: TxField<TxConfig[K]> };

/** Every transaction setting, declared once; the order is --help's. */
export const txFields: TxFieldTable = {
  maxParticipants: { flag: 'maxParticipants', env: 'RATIFY_TX_MAX_PARTICIPANTS', default: 16, range: [1, 1024], parse: parseNumber },
  maxActiveTransactions: {
    flag: 'maxActiveTransactions',
    env: 'RATIFY_TX_MAX_ACTIVE_TRANSACTIONS',
    default: 10_000,
    range: [1, 1_000_000],
    parse: parseNumber,
  },
  maxStuckTransactions: {
    flag: 'maxStuckTransactions',
    env: 'RATIFY_TX_MAX_STUCK_TRANSACTIONS',
    default: 50_000,
    range: [1, 1_000_000],
    parse: parseNumber,
  },
  abandonAfterMs: {
    flag: 'abandonAfterMs',
    env: 'RATIFY_TX_ABANDON_AFTER_MS',
    default: 5 * 60 * 1000,
    range: [1, 7 * 24 * 60 * 60 * 1000],
    parse: parseNumber,
  },
  maxPayloadBytes: {
    flag: 'maxPayloadBytes',
    env: 'RATIFY_TX_MAX_PAYLOAD_BYTES',
    default: 64 * 1024,
    range: [0, 16 * 1024 * 1024],
    parse: parseNumber,
  },
  maxBodyBytes: {
    flag: 'maxBodyBytes',
    env: 'RATIFY_TX_MAX_BODY_BYTES',
    default: 1024 * 1024,
    range: [1024, 64 * 1024 * 1024],
    parse: parseNumber,
  },
  maxNameLength: { flag: 'maxNameLength', env: 'RATIFY_TX_MAX_NAME_LENGTH', default: 128, range: [1, 1024], parse: parseNumber },
  maxUrlLength: { flag: 'maxUrlLength', env: 'RATIFY_TX_MAX_URL_LENGTH', default: 2048, range: [16, 8192], parse: parseNumber },
  maxIdempotencyKeyLength: {
    flag: 'maxIdempotencyKeyLength',
    env: 'RATIFY_TX_MAX_IDEMPOTENCY_KEY_LENGTH',
    default: 256,
    range: [8, 1024],
    parse: parseNumber,
  },
  defaultTimeoutMs: {
    flag: 'defaultTimeoutMs',
    env: 'RATIFY_TX_DEFAULT_TIMEOUT_MS',
    default: 30_000,
    range: [1, 24 * 60 * 60 * 1000],
    parse: parseNumber,
  },
  maxTimeoutMs: {
    flag: 'maxTimeoutMs',
    env: 'RATIFY_TX_MAX_TIMEOUT_MS',
    default: 600_000,
    range: [1, 24 * 60 * 60 * 1000],
    parse: parseNumber,
  },
  prepareCallTimeoutMs: {
    flag: 'prepareCallTimeoutMs',
    env: 'RATIFY_TX_PREPARE_CALL_TIMEOUT_MS',
    default: 5_000,
    range: [1, 600_000],
    parse: parseNumber,
  },
  prepareMaxAttempts: {
    flag: 'prepareMaxAttempts',
    env: 'RATIFY_TX_PREPARE_MAX_ATTEMPTS',
    default: 3,
    range: [1, 100],
    parse: parseNumber,
  },
  prepareRetryDelayMs: {
    flag: 'prepareRetryDelayMs',
    env: 'RATIFY_TX_PREPARE_RETRY_DELAY_MS',
    default: 100,
    range: [0, 60_000],
    parse: parseNumber,
  },
  phase2CallTimeoutMs: {
    flag: 'phase2CallTimeoutMs',
    env: 'RATIFY_TX_PHASE2_CALL_TIMEOUT_MS',
    default: 5_000,
    range: [1, 600_000],
    parse: parseNumber,
  },
  phase2BackoffBaseMs: {
    flag: 'phase2BackoffBaseMs',
    env: 'RATIFY_TX_PHASE2_BACKOFF_BASE_MS',
    default: 50,
    range: [1, 60_000],
    parse: parseNumber,
  },
  phase2BackoffCapMs: {
    flag: 'phase2BackoffCapMs',
    env: 'RATIFY_TX_PHASE2_BACKOFF_CAP_MS',
    default: 10_000,
    range: [1, 3_600_000],
    parse: parseNumber,
  },
  participantFailingThreshold: {
    flag: 'participantFailingThreshold',
    env: 'RATIFY_TX_PARTICIPANT_FAILING_THRESHOLD',
    default: 5,
    range: [1, 1_000_000],
    parse: parseNumber,
  },
  progressRecordDelayMs: {
    flag: 'progressRecordDelayMs',
    env: 'RATIFY_TX_PROGRESS_RECORD_DELAY_MS',
    default: 500,
    range: [0, 600_000],
    parse: parseNumber,
  },
  participantConnectionsPerOrigin: {
    flag: 'participantConnectionsPerOrigin',
    env: 'RATIFY_TX_PARTICIPANT_CONNECTIONS_PER_ORIGIN',
    default: 32,
    range: [1, 1024],
    parse: parseNumber,
  },
  participantBatchCallsMax: {
    flag: 'participantBatchCallsMax',
    env: 'RATIFY_TX_PARTICIPANT_BATCH_CALLS_MAX',
    default: 64,
    range: [1, 256],
    parse: parseNumber,
  },
  retainFinishedMs: {
    flag: 'retainFinishedMs',
    env: 'RATIFY_TX_RETAIN_FINISHED_MS',
    default: 24 * 60 * 60 * 1000,
    range: [0, 365 * 24 * 60 * 60 * 1000],
    parse: parseNumber,
  },
  retainFinishedMax: {
    flag: 'retainFinishedMax',
    env: 'RATIFY_TX_RETAIN_FINISHED_MAX',
    default: 100_000,
    range: [0, 10_000_000],
    parse: parseNumber,
  },
  gcIntervalMs: { flag: 'gcIntervalMs', env: 'RATIFY_TX_GC_INTERVAL_MS', default: 10_000, range: [10, 3_600_000], parse: parseNumber },
  sweepIntervalMs: { flag: 'sweepIntervalMs', env: 'RATIFY_TX_SWEEP_INTERVAL_MS', default: 250, range: [5, 60_000], parse: parseNumber },
  listLimitDefault: {
    flag: 'listLimitDefault',
    env: 'RATIFY_TX_LIST_LIMIT_DEFAULT',
    default: 100,
    range: [1, 100_000],
    parse: parseNumber,
  },
  listLimitMax: { flag: 'listLimitMax', env: 'RATIFY_TX_LIST_LIMIT_MAX', default: 1_000, range: [1, 100_000], parse: parseNumber },
  proposeTimeoutMs: {
    flag: 'proposeTimeoutMs',
    env: 'RATIFY_TX_PROPOSE_TIMEOUT_MS',
    default: 10_000,
    range: [1, 600_000],
    parse: parseNumber,
  },
  readBarrierTimeoutMs: {
    flag: 'readBarrierTimeoutMs',
    env: 'RATIFY_TX_READ_BARRIER_TIMEOUT_MS',
    default: 5_000,
    range: [1, 600_000],
    parse: parseNumber,
  },
  decisionWaitSlackMs: {
    flag: 'decisionWaitSlackMs',
    env: 'RATIFY_TX_DECISION_WAIT_SLACK_MS',
    default: 10_000,
    range: [0, 600_000],
    parse: parseNumber,
  },
  forwardTimeoutMs: {
    flag: 'forwardTimeoutMs',
    env: 'RATIFY_TX_FORWARD_TIMEOUT_MS',
    default: 630_000,
    range: [1, 25 * 60 * 60 * 1000],
    parse: parseNumber,
  },
  participantHostAllowlist: {
    flag: 'participantHostAllowlist',
    env: 'RATIFY_TX_PARTICIPANT_HOST_ALLOWLIST',
    default: [],
    parse: parseList,
  },
};

export const txConfigDefaults: TxConfig = defaultsOf(txFields) as unknown as TxConfig;

function invalid(message: string): never {
  throw new RatifyError('CONFIG_INVALID', message);
}

export function validateTxConfig(c: TxConfig): void {
  for (const [key, field] of Object.entries(txFields) as [keyof TxConfig, Field<unknown>][]) {
    if (field.range === undefined) continue;
    const [min, max] = field.range;
    const value = c[key] as number;
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
