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
  readonly participant: string;
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
  // Per transaction an array, not a Map: it has one entry per participant called
  // (two, usually), and it lives as long as the transaction runs, so the leader
  // promotes it to the old generation (scripts/bench/results/README.md, "Fewer
  // cuts per transaction").
  private readonly byTx = new Map<string, ParticipantAttempt[]>();

  /** `txMax`: maxActiveTransactions; finished transactions are forgotten sooner (forget()). */
  constructor(private readonly txMax: number) {}

  called(txId: string, participant: string, call: CallKind, term: number, at: number): void {
    const parts = this.parts(txId);
    const i = indexOf(parts, participant);
    const prev = i < 0 ? undefined : parts[i]!;
    const same = prev !== undefined && prev.call === call && prev.term === term;
    const next = { participant, call, term, attempts: same ? prev.attempts + 1 : 1, lastAttemptAt: at, nextRetryAt: null };
    if (i < 0) parts.push(next);
    else parts[i] = next;
  }

  retryAt(txId: string, participant: string, at: number): void {
    const parts = this.byTx.get(txId);
    if (parts === undefined) return;
    const i = indexOf(parts, participant);
    if (i >= 0) parts[i] = { ...parts[i]!, nextRetryAt: at };
  }

  /** What this node did in `term` (the term it leads now); empty for any other term. */
  of(txId: string, term: number | null): ReadonlyMap<string, ParticipantAttempt> {
    const out = new Map<string, ParticipantAttempt>();
    if (term === null) return out;
    for (const a of this.byTx.get(txId) ?? []) if (a.term === term) out.set(a.participant, a);
    return out;
  }

  forget(txId: string): void {
    this.byTx.delete(txId);
  }

  get size(): number {
    return this.byTx.size;
  }

  private parts(txId: string): ParticipantAttempt[] {
    let parts = this.byTx.get(txId);
    if (parts !== undefined) return parts;
    if (this.byTx.size >= this.txMax) {
      const oldest = this.byTx.keys().next();
      if (oldest.done !== true) this.byTx.delete(oldest.value);
    }
    parts = [];
    this.byTx.set(txId, parts);
    return parts;
  }
}

function indexOf(parts: readonly ParticipantAttempt[], participant: string): number {
  for (let i = 0; i < parts.length; i++) if (parts[i]!.participant === participant) return i;
  return -1;
}
