// Types of the transaction API as the client sees it (README, "Transaction API"). They
// mirror the server's views; the client never imports server internals, so it can
// be shipped alone.

export type Protocol = '2pc' | '3pc';
export type TransactionState = 'active' | 'preparing' | 'precommitted' | 'committing' | 'aborting' | 'committed' | 'aborted';
export type Outcome = 'committed' | 'aborted';

export interface ParticipantSpec {
  readonly name: string;
  /** The participant's base URL; the coordinator POSTs to {url}/prepare and so on. */
  readonly url: string;
  readonly payload?: unknown;
}

export interface ParticipantView {
  readonly name: string;
  readonly url: string;
  readonly vote: 'commit' | 'abort' | null;
  readonly acknowledged: boolean;
  readonly lastError?: string;
  /** ISO 8601: since when the participant's calls have been failing; present only while it is reported failing. */
  readonly failingSince?: string;
  // Known only to the leader that calls the participant: present in a view served by it, until the participant acknowledges.
  /** The call the leader is making. */
  readonly call?: 'prepare' | 'precommit' | 'commit' | 'abort';
  /** Calls of `call` this leader has made, the one in flight included. */
  readonly attempts?: number;
  /** ISO 8601. */
  readonly lastAttemptAt?: string;
  /** ISO 8601: when the next call is due, while the leader waits to retry. */
  readonly nextRetryAt?: string;
  /**
   * Present when the coordinator stopped delivering the decision to it:
   * `presumed-abort`, it never voted commit and did not acknowledge the abort
   * within abandonAfterMs; `force-finish`, an operator force-finished the
   * transaction.
   */
  readonly abandoned?: 'presumed-abort' | 'force-finish';
}

/** Why a transaction was decided as it was. */
export type DecisionReasonCode =
  | 'all-voted-commit'
  | 'all-acknowledged-precommit'
  | 'participant-voted-abort'
  | 'participant-failed'
  | 'participant-aborted-on-own'
  | 'participant-committed-on-own'
  | 'deadline'
  | 'client-abort'
  | 'other';

export interface DecisionReason {
  readonly code: DecisionReasonCode;
  /** The coordinator's sentence, e.g. "participant bank-b voted abort: insufficient funds". */
  readonly message: string;
  /** The participant whose answer decided it (participant-* codes). */
  readonly participant?: string;
}

export interface TransactionView {
  readonly id: string;
  readonly state: TransactionState;
  /** Set as soon as the outcome is fixed: the decision is durable, or (3PC) `precommitted` is, which can only end in commit. */
  readonly outcome: Outcome | null;
  readonly protocol: Protocol;
  readonly participants: readonly ParticipantView[];
  /** ISO 8601. */
  readonly createdAt: string;
  /** ISO 8601: undecided past it, the transaction is aborted. */
  readonly deadlineAt: string;
  readonly decidedAt?: string;
  readonly completedAt?: string;
  /** Present once decided. */
  readonly decisionReason?: DecisionReason;
}

export interface TransactionPage {
  readonly transactions: readonly TransactionView[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null;
}

export interface ClusterMember {
  readonly id: string;
  readonly url: string;
  readonly voter: boolean;
}

export interface ClusterView {
  readonly nodeId: string;
  readonly role: 'leader' | 'follower' | 'candidate' | 'learner';
  readonly term: number;
  readonly leaderId: string | null;
  readonly leaderUrl?: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** Index of the node's latest snapshot (local or installed). */
  readonly snapshotIndex?: number;
  readonly members: readonly ClusterMember[];
  /** This node was removed from the cluster and no longer takes part (absent from older versions). */
  readonly removed?: boolean;
}

export interface CreateTransactionInput {
  readonly participants?: readonly ParticipantSpec[];
  readonly protocol?: Protocol;
  /** The transaction's deadline; undecided past it, it is aborted. */
  readonly timeoutMs?: number;
  /** Makes retries safe; one is generated per call when omitted. */
  readonly idempotencyKey?: string;
}

export interface RunTransactionInput extends CreateTransactionInput {
  readonly participants: readonly ParticipantSpec[];
}

export interface ListInput {
  readonly state?: TransactionState;
  readonly limit?: number;
  readonly cursor?: string;
}

export const FINISHED_STATES: readonly TransactionState[] = ['committed', 'aborted'];
