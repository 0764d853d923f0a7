// Presumed abort's bound on phase 2: when the coordinator may stop delivering
// an abort to a participant that has not acknowledged it.
//
// Under presumed abort a participant that never voted commit has nothing to
// lose by never hearing the abort: it voted abort (and released what it held),
// never got prepare, or prepared but its vote never reached the coordinator,
// in which case it asks the cluster itself (cooperative termination) and reads
// `aborted`, or TX_NOT_FOUND once the transaction is gone, which presumed abort
// reads the same way. So after abandonAfterMs from the decision the leader
// stops calling it, and the `completed` entry that finishes the transaction
// names it as abandoned (the view shows `abandoned: "presumed-abort"`): a
// participant URL that leads nowhere no longer keeps a transaction, and its
// slot in maxStuckTransactions, forever (issue 14).
//
// Never abandoned: a participant that voted commit (it holds locks until it
// hears the outcome), and every participant of a commit decision (commit must
// reach each of them). apply() checks the same rule on the entry, so no
// leader, old or new, can abandon one of those.
//
// The clock starts at the decision (decidedAt, in the log), not at this
// leader's first failure, so a leader change neither restarts nor shortens it.
import type { ParticipantRecord, TxRecord } from './types.js';

/** Whether the abort delivery to `p` may be given up once the bound passes. */
export function mayAbandon(tx: Pick<TxRecord, 'decision'>, p: Pick<ParticipantRecord, 'vote' | 'acknowledged'>): boolean {
  return tx.decision === 'abort' && p.vote !== 'commit' && !p.acknowledged;
}

/** When deliveries of the abort to a participant that may be abandoned stop (ms), or null if none may be. */
export function abandonAtMs(tx: Pick<TxRecord, 'decision' | 'decidedAt'>, abandonAfterMs: number): number | null {
  if (tx.decision !== 'abort' || tx.decidedAt === null) return null;
  return tx.decidedAt + abandonAfterMs;
}
