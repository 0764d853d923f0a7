// The participant's transaction state machine, in one place.
//
//   none ──prepare──▶ preparing ──vote commit──▶ prepared ──precommit──▶ precommitted
//    │                   │ vote abort / crash        │  │                    │   │
//    │ abort             ▼                           │  └──────commit────────┼──▶ committed
//    └─────────────▶ aborted ◀──────abort────────────┴───────────────────────┘
//
// `planCall` decides what a coordinator call does given the durable record; it is
// pure so the whole table is tested directly. `assertTransition` guards every
// write: an illegal edge is a programmer error and crashes loudly.
import { RatifyError } from '../../errors.js';
import { assertNever } from '../../util/assert-never.js';
import type { CallPath, ParticipantTxRecord, ParticipantTxState, ParticipantVote } from './types.js';

export type RefusalCode = 'TX_ALREADY_ABORTED' | 'TX_ALREADY_COMMITTED' | 'TX_NOT_FOUND';

export type Plan =
  /** First prepare: run the user's prepare handler. */
  | { readonly kind: 'run-prepare' }
  /** A `preparing` record survived a crash: we never answered, so abort and clean up. */
  | { readonly kind: 'abort-interrupted' }
  /** A repeated prepare: answer the vote we recorded, without calling the handler. */
  | { readonly kind: 'reply-vote'; readonly vote: ParticipantVote }
  | { readonly kind: 'run-precommit' }
  | { readonly kind: 'run-commit' }
  | { readonly kind: 'run-abort' }
  /** An abort for a transaction never prepared: remember it so a late prepare votes abort. */
  | { readonly kind: 'record-abort' }
  /** A repeated precommit/commit/abort: acknowledge without calling the handler. */
  | { readonly kind: 'ack' }
  /**
   * Refuse. `violation`: a protocol violation (or lost data), logged loudly.
   * Every refusal is one today; the flag stays so a future expected refusal can
   * be logged quietly.
   */
  | { readonly kind: 'refuse'; readonly code: RefusalCode; readonly message: string; readonly violation: boolean };

export function planCall(record: ParticipantTxRecord | undefined, path: CallPath): Plan {
  switch (path) {
    case 'prepare':
      return planPrepare(record);
    case 'precommit':
      return planPrecommit(record);
    case 'commit':
      return planCommit(record);
    case 'abort':
      return planAbort(record);
    default:
      return assertNever(path);
  }
}

function planPrepare(record: ParticipantTxRecord | undefined): Plan {
  if (record === undefined) return { kind: 'run-prepare' };
  switch (record.state) {
    case 'preparing':
      return { kind: 'abort-interrupted' };
    case 'prepared':
    case 'precommitted':
    case 'committed':
      return { kind: 'reply-vote', vote: { vote: 'commit' } };
    case 'aborted':
      return { kind: 'reply-vote', vote: abortVote(record.reason) };
    default:
      return assertNever(record.state);
  }
}

function planPrecommit(record: ParticipantTxRecord | undefined): Plan {
  if (record === undefined || record.state === 'preparing') return neverVotedCommit('precommit');
  switch (record.state) {
    case 'prepared':
      return { kind: 'run-precommit' };
    case 'precommitted':
    case 'committed':
      return { kind: 'ack' };
    case 'aborted':
      // The SDK never aborts on its own after voting commit (termination.ts), and
      // the coordinator sends precommit only after every commit vote: a
      // violation (lost data, or a record changed behind the SDK's back). The
      // coordinator reports it and commits anyway.
      return {
        kind: 'refuse',
        code: 'TX_ALREADY_ABORTED',
        message: 'precommit for a transaction this participant already aborted',
        violation: true,
      };
    default:
      return assertNever(record.state);
  }
}

function planCommit(record: ParticipantTxRecord | undefined): Plan {
  if (record === undefined || record.state === 'preparing') return neverVotedCommit('commit');
  switch (record.state) {
    case 'prepared':
    case 'precommitted':
      return { kind: 'run-commit' };
    case 'committed':
      return { kind: 'ack' };
    case 'aborted':
      return {
        kind: 'refuse',
        code: 'TX_ALREADY_ABORTED',
        message: 'commit for a transaction this participant already aborted',
        violation: true,
      };
    default:
      return assertNever(record.state);
  }
}

function planAbort(record: ParticipantTxRecord | undefined): Plan {
  if (record === undefined) return { kind: 'record-abort' };
  switch (record.state) {
    case 'preparing':
    case 'prepared':
    case 'precommitted':
      return { kind: 'run-abort' };
    case 'aborted':
      return { kind: 'ack' };
    case 'committed':
      return {
        kind: 'refuse',
        code: 'TX_ALREADY_COMMITTED',
        message: 'abort for a transaction this participant already committed',
        violation: true,
      };
    default:
      return assertNever(record.state);
  }
}

/**
 * Term fencing: the highest term seen after a call of `callTerm`, or null when
 * the call comes from a deposed leader (a term lower than one already seen)
 * and must be refused without acting on it.
 */
export function fenceTerm(highestSeen: number, callTerm: number): number | null {
  return callTerm < highestSeen ? null : callTerm;
}

function neverVotedCommit(path: 'precommit' | 'commit'): Plan {
  return {
    kind: 'refuse',
    code: 'TX_NOT_FOUND',
    message: `${path} for a transaction this participant never voted commit on`,
    violation: true,
  };
}

function abortVote(reason: string | null): ParticipantVote {
  return reason === null ? { vote: 'abort' } : { vote: 'abort', reason };
}

const LEGAL_EDGES: Readonly<Record<ParticipantTxState | 'none', readonly ParticipantTxState[]>> = {
  none: ['preparing', 'aborted'],
  preparing: ['prepared', 'aborted'],
  prepared: ['precommitted', 'committed', 'aborted'],
  precommitted: ['committed', 'aborted'],
  committed: [],
  aborted: [],
};

export function assertTransition(from: ParticipantTxState | 'none', to: ParticipantTxState, txId: string): void {
  if (!LEGAL_EDGES[from].includes(to)) {
    throw new RatifyError('INTERNAL', `illegal participant transition ${from} -> ${to} for transaction ${txId}`);
  }
}
