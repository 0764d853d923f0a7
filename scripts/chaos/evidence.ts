// What a chaos run records and gathers, as plain data: the checker (invariants.ts) is a
// pure function of it, so it can be fed fabricated histories to prove it can fail.

import type { KvOperation } from '../../test/linearizability/kv-model.js';
import type { Operation } from '../../test/linearizability/model.js';
import type { TxInput, TxOutput } from '../../test/linearizability/tx-model.js';

export type Outcome = 'committed' | 'aborted';
export type Protocol = '2pc' | '3pc';
/**
 * How a transfer talks to the API: one-shot (create with commit: true), interactive
 * (create, then commit), or interactive with an abort sent to race the commit.
 */
export type TransferFlow = 'one-shot' | 'interactive' | 'abort-race';

/** One account change a transfer makes at one bank if it commits. */
export interface Leg {
  readonly bank: string;
  readonly account: string;
  readonly delta: number;
}

/** One logical transfer (one Idempotency-Key) and what the API told the client about it. */
export interface TransferRecord {
  readonly key: string;
  readonly legs: readonly Leg[];
  readonly protocol: Protocol;
  readonly flow: TransferFlow;
  readonly startedAtMs: number;
  /** When the last answer (or the final error) came back; null while in flight. */
  endedAtMs: number | null;
  /** Every transaction id any answer for this key named; more than one is a bug. */
  readonly txIds: string[];
  /** The outcome the API reported during the run; null if the client only got errors. */
  apiOutcome: Outcome | null;
  /** The coordinator's decision time as the answer stated it (ms), when it did. */
  decidedAtMs: number | null;
  /** The last client error (code and message) while the run was going. */
  error: string | null;
  /** Set when the API refused the request with a 4xx: a well-formed transfer must not be refused. */
  rejected: string | null;
  /** The outcome learned after healing, by resending the same key, for transfers that ended in an error. */
  resolvedOutcome: Outcome | null;
}

/** The coordinator's view of one transaction, as one node listed it. */
export interface CoordinatorTx {
  readonly id: string;
  readonly state: string;
  readonly outcome: Outcome | null;
  readonly createdAtMs: number;
  readonly participants: readonly string[];
}

export type ParticipantState = 'preparing' | 'prepared' | 'precommitted' | 'committed' | 'aborted';
export const IN_DOUBT_STATES: readonly ParticipantState[] = ['preparing', 'prepared', 'precommitted'];
export const FINISHED_TX_STATES: readonly string[] = ['committed', 'aborted'];

/** A participant's durable record of one transaction. */
export interface ParticipantRecord {
  readonly txId: string;
  readonly state: ParticipantState;
}

export interface AccountState {
  readonly balance: number;
  /** Funds held by prepared, undecided transfers. */
  readonly held: number;
}

export interface BankSnapshot {
  readonly bank: string;
  /** Only the accounts this run opened. */
  readonly accounts: ReadonlyMap<string, AccountState>;
  /** Per-transaction records, or null where they could not be read (reason in recordsNote). */
  readonly records: readonly ParticipantRecord[] | null;
  readonly recordsNote?: string;
}

/** A transaction read again after the outage: its outcome, or 404 (missing), or no usable answer. */
export type RereadOutcome = Outcome | null | 'missing' | 'unreadable';

export interface ChaosEvidence {
  readonly transfers: readonly TransferRecord[];
  /** Every transaction of this run, as each node lists it: node id -> tx id -> view. */
  readonly coordinatorByNode: ReadonlyMap<string, ReadonlyMap<string, CoordinatorTx>>;
  /** Nodes that could not be listed at the end (their view is missing above). */
  readonly unlistedNodes: readonly string[];
  readonly banksBefore: readonly BankSnapshot[];
  readonly banksAfter: readonly BankSnapshot[];
  /**
   * The full-cluster outage at the end: decided outcomes read before every node was
   * SIGKILLed, and the same transactions read through the API after the restart.
   * Null when the outage step could not run (reason in the report).
   */
  readonly outage: { readonly before: ReadonlyMap<string, Outcome>; readonly after: ReadonlyMap<string, RereadOutcome> } | null;
  /** Terms in which two nodes both claimed leadership (split brain), from live sampling. */
  readonly leadersByTerm: ReadonlyMap<number, readonly string[]>;
  /** Every transaction call of the workload and its readers, for the linearizability check. */
  readonly history: readonly Operation<TxInput, TxOutput>[];
}

/** What a `--state-machine kv` run records: its puts and gets, and the leaders it saw. */
export interface KvEvidence {
  /** Every put and get, including the reads of every key on every node at the end. */
  readonly history: readonly KvOperation[];
  readonly leadersByTerm: ReadonlyMap<number, readonly string[]>;
}
