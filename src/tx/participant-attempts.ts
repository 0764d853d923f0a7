// The leader's own record of its calls to each participant: how many attempts
// of the current call (prepare, precommit, commit or abort) it has made and when
// it will try again. The transaction view shows them (views.ts), so a stuck
// transaction says "commit to bank-b: 14 attempts, next at 17:02:11".
//
// Leader-local on purpose, never replicated: an entry per attempt would grow the
// log with every retry of a participant that is down for a day (the replicated
// lastError/failingSince are reported at doublings only, failing-tracker.ts).
// So only the leader that makes the calls knows them; a view served by another
// node, or by a new leader before it has called, has no attempts. Counts start
// anew with each call kind and each term.
import type { CallKind } from './metrics.js';

export interface ParticipantAttempt {
  readonly call: CallKind;
  /** Calls of `call` made in `term` by this node, including one in flight. */
  readonly attempts: number;
  readonly term: number;
  readonly lastAttemptAt: number;
  /** When the next call is due (ms); null while a call is in flight or none is planned. */
  readonly nextRetryAt: number | null;
}

export class ParticipantAttempts {
  // Invariant: at most `txMax` transactions, the oldest recorded dropped first.
  private readonly byTx = new Map<string, Map<string, ParticipantAttempt>>();

  /** `txMax`: maxActiveTransactions; finished transactions are forgotten sooner (forget()). */
  constructor(private readonly txMax: number) {}

  called(txId: string, participant: string, call: CallKind, term: number, at: number): void {
    const parts = this.parts(txId);
    const prev = parts.get(participant);
    const same = prev !== undefined && prev.call === call && prev.term === term;
    parts.set(participant, { call, term, attempts: same ? prev.attempts + 1 : 1, lastAttemptAt: at, nextRetryAt: null });
  }

  retryAt(txId: string, participant: string, at: number): void {
    const parts = this.byTx.get(txId);
    const prev = parts?.get(participant);
    if (parts === undefined || prev === undefined) return;
    parts.set(participant, { ...prev, nextRetryAt: at });
  }

  /** What this node did in `term` (the term it leads now); empty for any other term. */
  of(txId: string, term: number | null): ReadonlyMap<string, ParticipantAttempt> {
    const out = new Map<string, ParticipantAttempt>();
    if (term === null) return out;
    for (const [name, a] of this.byTx.get(txId) ?? []) if (a.term === term) out.set(name, a);
    return out;
  }

  forget(txId: string): void {
    this.byTx.delete(txId);
  }

  get size(): number {
    return this.byTx.size;
  }

  private parts(txId: string): Map<string, ParticipantAttempt> {
    let parts = this.byTx.get(txId);
    if (parts !== undefined) return parts;
    if (this.byTx.size >= this.txMax) {
      const oldest = this.byTx.keys().next();
      if (oldest.done !== true) this.byTx.delete(oldest.value);
    }
    parts = new Map();
    this.byTx.set(txId, parts);
    return parts;
  }
}
