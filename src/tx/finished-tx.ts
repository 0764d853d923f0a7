// A finished transaction as the table keeps it: only what the view, an
// idempotent replay, list() and retention read, in about a third of the memory
// of a live TxRecord. A node retains up to retainFinishedMax (100,000) of
// these, so every field counts: no payloads (sent in prepare only), no
// per-participant objects (every participant acknowledged, nothing failing),
// and names, URLs and decision reasons shared between transactions.
import type { Decision, Protocol, TxRecord, TxState, Vote } from './types.js';

export class FinishedTx {
  constructor(
    readonly id: string,
    readonly seq: number,
    readonly state: TxState,
    readonly protocol: Protocol,
    readonly decision: Decision,
    readonly decisionReason: string | null,
    readonly createdAt: number,
    readonly deadlineAt: number,
    readonly decidedAt: number | null,
    readonly completedAt: number,
    readonly idempotencyKey: string | null,
    readonly requestHash: string | null,
    /** name, url, vote of each participant, flat: one array instead of one object per participant. */
    readonly parts: ReadonlyArray<string | Vote | null>,
  ) {}

  /** A fresh TxRecord with the same values as the record this was made from (payloads aside). */
  toRecord(): TxRecord {
    const participants: TxRecord['participants'] = [];
    for (let i = 0; i < this.parts.length; i += 3) {
      participants.push({
        name: this.parts[i] as string,
        url: this.parts[i + 1] as string,
        payload: null,
        vote: this.parts[i + 2] as Vote | null,
        acknowledged: true,
        lastError: null,
        failingSince: null,
      });
    }
    return {
      id: this.id,
      seq: this.seq,
      state: this.state,
      protocol: this.protocol,
      participants,
      createdAt: this.createdAt,
      deadlineAt: this.deadlineAt,
      decision: this.decision,
      decisionReason: this.decisionReason,
      decidedAt: this.decidedAt,
      completedAt: this.completedAt,
      idempotencyKey: this.idempotencyKey,
      requestHash: this.requestHash,
    };
  }
}

/**
 * The compact form of a finished record, or null when it holds something the
 * compact form drops (a participant not acknowledged or still showing an
 * error). Every node runs the same check on the same values, so all of them
 * keep the same form, and snapshots (which encode both forms alike) agree.
 */
export function compactFinished(tx: TxRecord, intern: (s: string) => string): FinishedTx | null {
  if ((tx.state !== 'committed' && tx.state !== 'aborted') || tx.decision === null || tx.completedAt === null) return null;
  // Sized once: an array grown by push() keeps spare capacity for the rest of its life.
  const parts = new Array<string | Vote | null>(tx.participants.length * 3);
  let i = 0;
  for (const p of tx.participants) {
    if (!p.acknowledged || p.lastError !== null || p.failingSince !== null) return null;
    parts[i++] = intern(p.name);
    parts[i++] = intern(p.url);
    parts[i++] = voteConstant(p.vote);
  }
  return new FinishedTx(
    tx.id,
    tx.seq,
    tx.state === 'committed' ? 'committed' : 'aborted',
    tx.protocol === '3pc' ? '3pc' : '2pc',
    tx.decision === 'commit' ? 'commit' : 'abort',
    tx.decisionReason === null ? null : intern(tx.decisionReason),
    tx.createdAt,
    tx.deadlineAt,
    tx.decidedAt,
    tx.completedAt,
    tx.idempotencyKey,
    tx.requestHash,
    parts,
  );
}

/** The literal, not the decoded copy: one string for every transaction. */
function voteConstant(v: Vote | null): Vote | null {
  return v === null ? null : v === 'commit' ? 'commit' : 'abort';
}

/**
 * Shares equal strings (participant names, URLs, decision reasons repeat across
 * transactions). Bounded: past `max` distinct strings it stops adding and
 * hands strings back as they are, which only costs memory, never correctness.
 */
export function createInterner(max: number): (s: string) => string {
  const seen = new Map<string, string>();
  return (s) => {
    const known = seen.get(s);
    if (known !== undefined) return known;
    if (seen.size >= max) return s;
    const own = ownString(s);
    seen.set(own, own);
    return own;
  };
}

/**
 * A copy of `s` that shares memory with no other string. msgpackr decodes the
 * strings of an entry as slices of one string holding all of them, so a
 * 36-character id kept from an entry would keep about 250 bytes alive (the
 * whole entry's text) for as long as the transaction is retained. Only for
 * strings kept long (ids, keys, hashes: they are Map keys too, which cannot be
 * swapped later without moving the entry). The JSON round trip is exact for
 * every string, lone surrogates included.
 */
export function ownString(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}
