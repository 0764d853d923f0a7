// The transaction domain: states, records kept in the replicated table, and the
// public view the HTTP API returns. "Decision" and "outcome" are the
// transaction's; Raft's commit index never appears here.
import type { FastifyPluginAsync } from 'fastify';
import type { TxPluginOptions } from './routes.js';
import type { StateMachine } from '../raft/state-machine.js';
import type { ErrorCode } from '../errors.js';
import type { TableStats } from './table-stats.js';
import type { DecisionReason } from './decision-reason.js';
import type { CallKind } from './metrics.js';

export type TxState = 'active' | 'preparing' | 'precommitted' | 'committing' | 'aborting' | 'committed' | 'aborted';
export const TX_STATES: readonly TxState[] = ['active', 'preparing', 'precommitted', 'committing', 'aborting', 'committed', 'aborted'];

export type Protocol = '2pc' | '3pc';
export type Vote = 'commit' | 'abort';
export type Decision = 'commit' | 'abort';
export type Outcome = 'committed' | 'aborted';

/**
 * Why the coordinator stopped delivering the decision to a participant that
 * never acknowledged it: `presumed-abort`, it never voted commit and the abort
 * went unacknowledged for abandonAfterMs (src/tx/abandon.ts); `force-finish`,
 * an operator force-finished the transaction (src/tx/force-finish.ts).
 */
export type AbandonReason = 'presumed-abort' | 'force-finish';
export const ABANDON_REASONS: readonly AbandonReason[] = ['presumed-abort', 'force-finish'];

export interface ParticipantSpec {
  readonly name: string;
  readonly url: string;
  /** Any JSON value; sent to the participant in prepare. */
  readonly payload: unknown;
}

/** A participant's vote as carried by voteRecorded/decided entries. */
export interface VoteRecord {
  readonly vote: Vote;
  /** Abort reason from the participant, or why the call failed (a failed prepare counts as abort). */
  readonly reason: string | null;
}

export interface ParticipantRecord extends ParticipantSpec {
  /** Sent in prepare only; dropped (null) once the decision is made, to keep retained records small. */
  payload: unknown;
  vote: Vote | null;
  acknowledged: boolean;
  lastError: string | null;
  /**
   * Start (ms) of the current run of failed precommit/commit/abort calls, kept
   * across leader changes (the earliest report wins); null once the
   * participant acknowledges or a new phase (the decision) begins.
   */
  failingSince: number | null;
  /** Set (with the finishing entry) when the coordinator gave up delivering the decision to it; null otherwise. */
  abandoned: AbandonReason | null;
}

/** A participant as enlisted: no vote, no acknowledgement, no failure yet. */
export function freshParticipant(p: ParticipantSpec): ParticipantRecord {
  return {
    name: p.name,
    url: p.url,
    payload: p.payload,
    vote: null,
    acknowledged: false,
    lastError: null,
    failingSince: null,
    abandoned: null,
  };
}

/** A copy of a record with participant objects of its own: changing the copy changes nothing of the original. */
export function copyRecord(tx: TxRecord): TxRecord {
  return { ...tx, participants: tx.participants.map((p) => ({ ...p })) };
}

/** One row of the replicated table. Mutated only by the state machine's apply(). */
export interface TxRecord {
  readonly id: string;
  /** Raft index of the created entry: a total, cluster-wide order used by list cursors. */
  readonly seq: number;
  state: TxState;
  readonly protocol: Protocol;
  participants: ParticipantRecord[];
  readonly createdAt: number;
  readonly deadlineAt: number;
  /** The decided entry's decision; null before it, also at precommitted (whose outcome is already commit: fixedOutcome()). */
  decision: Decision | null;
  decisionReason: string | null;
  /** When the outcome became fixed: the decided entry's time, or for 3PC the precommitted entry's. */
  decidedAt: number | null;
  completedAt: number | null;
  readonly idempotencyKey: string | null;
  readonly requestHash: string | null;
  /**
   * The principal whose token created it (src/http/tokens.ts), or null when the
   * client API had no tokens. Scopes reads and idempotency keys per principal.
   */
  readonly principal: string | null;
}

export interface ParticipantView {
  name: string;
  url: string;
  vote: Vote | null;
  acknowledged: boolean;
  lastError?: string;
  /** ISO 8601; present while the participant is reported failing, so how long is visible. */
  failingSince?: string;
  // Leader-local (participant-attempts.ts): present only in a view served by the leader
  // that is calling this participant, and only until it acknowledges.
  /** The call the leader is making: prepare, precommit, commit or abort. */
  call?: CallKind;
  /** Calls of `call` this leader has made, the one in flight included. */
  attempts?: number;
  lastAttemptAt?: string;
  /** ISO 8601: when the next call is due, while the leader waits to retry. */
  nextRetryAt?: string;
  /** Present when the coordinator stopped delivering the decision to it (see AbandonReason). */
  abandoned?: AbandonReason;
}

/** The API's transaction view, exactly as README "The transaction view" spells it. Timestamps are ISO 8601 strings. */
export interface TxView {
  id: string;
  state: TxState;
  outcome: Outcome | null;
  protocol: Protocol;
  participants: ParticipantView[];
  createdAt: string;
  /** ISO 8601: undecided past it, the transaction is aborted (replicated: every node shows the same). */
  deadlineAt: string;
  decidedAt?: string;
  completedAt?: string;
  /** Why the decision was what it was; present once decided (decision-reason.ts). */
  decisionReason?: DecisionReason;
}

/** What apply() hands back to the proposer. `tx` is a detached copy. */
export type ApplyResult =
  | { readonly ok: true; readonly tx: TxRecord | null; readonly existed?: boolean }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string; readonly tx: TxRecord | null };

export interface TxListFilter {
  readonly state?: TxState;
  readonly limit?: number;
  /** Opaque cursor from a previous page's nextCursor. */
  readonly cursor?: string;
  /** Only transactions this principal created (ownTransactionsOnly); absent: every one. */
  readonly principal?: string | null;
}

export interface TxListPage {
  readonly transactions: TxRecord[];
  readonly nextCursor: string | null;
}

/**
 * What a reader that only counts decisions needs of a transaction (the dashboard's
 * decision feed), read from the table's own row without copying it.
 */
export type TxDecisionView = Readonly<Pick<TxRecord, 'id' | 'seq' | 'createdAt' | 'decision' | 'decidedAt'>>;

export interface TxStateMachine extends StateMachine {
  /** Detached copies; callers may not mutate the table. */
  get(id: string): TxRecord | null;
  /** The state alone, with no record built (get() copies one): for the leader's checks between steps. */
  stateOf(id: string): TxState | null;
  /**
   * The table's own row, not a copy: no record is built (get() builds one, and for a
   * feed that reads every transaction that was the cost of its apply again). Read it
   * at once: a later apply() changes a live row, and the row may leave the table.
   */
  decisionOf(id: string): TxDecisionView | null;
  list(filter: TxListFilter): TxListPage;
  /** Keys are per principal: the same key from two principals names two transactions. */
  findByIdempotencyKey(key: string, principal: string | null): TxRecord | null;
  /** Transactions not yet committed or aborted, oldest first. */
  inFlight(): TxRecord[];
  /** Number of transactions not yet finished. */
  activeCount(): number;
  /** Unfinished transactions whose outcome is still open (active, preparing): what maxActiveTransactions bounds. */
  undecidedCount(): number;
  /** Unfinished transactions whose outcome is fixed (precommitted, committing, aborting): what maxStuckTransactions bounds. */
  finishingCount(): number;
  /** Participants of unfinished transactions reported failing and not yet acknowledged. */
  failingParticipantCount(): number;
  /** Cheap scan for the leader's sweeper: no copies of participants. */
  inFlightBrief(): Array<{ id: string; state: TxState; deadlineAt: number }>;
  /** What the leader needs to decide whether a retention (gc) entry would remove anything. */
  retentionStats(): { finishedCount: number; oldestCompletedAt: number | null };
  /** Observe applied changes (for waiters). Called synchronously inside apply(); must not throw. */
  onChange(listener: (txId: string) => void): () => void;
  /**
   * Observe every state change as apply() makes it (metrics). Called synchronously
   * with the live record, which the listener must neither keep nor change; must not throw.
   */
  onTransition(listener: TransitionListener): () => void;
  /** Transactions per state and the oldest unfinished one (src/tx/table-stats.ts). */
  stats(): TableStats;
}

export type TransitionListener = (tx: Readonly<TxRecord>, from: TxState) => void;

export interface TxService {
  /** Register with the app's LeaderForwarder; errors, validation and auth come from the app's root. */
  readonly plugin: FastifyPluginAsync<TxPluginOptions>;
  /** Subscribe to leadership and start the timers. */
  start(): void;
  /** Stop every driver loop and timer and close participant connections. */
  stop(): Promise<void>;
}
