// A finished transaction as the table keeps it: only what the view, an
// idempotent replay, list() and retention read, in about a sixth of the memory
// of a live TxRecord. A node retains up to retainFinishedMax (100,000) of
// these, so every field counts: no payloads (sent in prepare only), no
// per-participant objects (every participant acknowledged, nothing failing or
// abandoned: a record with one stays a full TxRecord),
// names, URLs, decision reasons and whole participant lists shared between
// transactions, state/decision/protocol in one small integer, times as small
// offsets (a timestamp field costs a 16-byte heap number), and the three
// client fields (idempotency key, request hash, principal), null for most
// transactions, in one field. Node builds without pointer compression, so each
// field is 8 bytes: at 100,000 retained, 3 fields fewer and no heap number for
// createdAt is about 4 MB of heap (scripts/memory-probe.ts).
import type { Decision, Protocol, TxRecord, TxState, Vote } from './types.js';

/** Offsets kept as small integers (V8 Smis on every build): no heap number each, unlike a timestamp. */
const OFFSET_LIMIT_MS = 2 ** 30;
/** Bit of `kind`: createdAt is stored as it is, not as an offset from createdBaseMs. */
const KIND_CREATED_ABSOLUTE = 4;

/**
 * What createdAt is stored as an offset from: the first createdAt this process
 * compacts. Any base gives the same values back (offsetFrom checks that the
 * round trip is exact, else createdAt is stored whole), so it need not agree
 * between nodes; the first one seen keeps the offsets of one deployment's
 * transactions small for about 12 days either side.
 */
let createdBaseMs: number | null = null;

/** The idempotency key, request hash and principal of a transaction that has any of them. */
export interface ClientFields {
  readonly idempotencyKey: string | null;
  readonly requestHash: string | null;
  readonly principal: string | null;
}

export class FinishedTx {
  constructor(
    readonly id: string,
    readonly seq: number,
    /**
     * Bit 0: the decision was commit; bit 1: 3PC; bit 2 (KIND_CREATED_ABSOLUTE):
     * `created` is createdAt itself. State, decision and protocol in one small integer.
     */
    private readonly kind: number,
    readonly decisionReason: string | null,
    /** createdAt as an offset from createdBaseMs, or itself (see kind). */
    private readonly created: number,
    /** deadlineAt, decidedAt and completedAt as offsets from createdAt (see compactFinished). */
    private readonly deadlineOffsetMs: number,
    private readonly decidedOffsetMs: number,
    private readonly completedOffsetMs: number,
    /** Null when all three are null (most transactions). */
    private readonly client: ClientFields | null,
    /**
     * name, url, vote of each participant, flat: one array instead of one object
     * per participant, and the same (frozen) array for every transaction with
     * the same participants and votes (see createPartsInterner).
     */
    readonly parts: ReadonlyArray<string | Vote | null>,
  ) {}

  get createdAt(): number {
    return (this.kind & KIND_CREATED_ABSOLUTE) !== 0 ? this.created : (createdBaseMs ?? 0) + this.created;
  }
  get idempotencyKey(): string | null {
    return this.client?.idempotencyKey ?? null;
  }
  get requestHash(): string | null {
    return this.client?.requestHash ?? null;
  }
  /** Interned: a deployment has few principals. */
  get principal(): string | null {
    return this.client?.principal ?? null;
  }
  get state(): TxState {
    return (this.kind & 1) === 1 ? 'committed' : 'aborted';
  }
  get decision(): Decision {
    return (this.kind & 1) === 1 ? 'commit' : 'abort';
  }
  get protocol(): Protocol {
    return (this.kind & 2) === 2 ? '3pc' : '2pc';
  }
  get deadlineAt(): number {
    return this.createdAt + this.deadlineOffsetMs;
  }
  get decidedAt(): number {
    return this.createdAt + this.decidedOffsetMs;
  }
  get completedAt(): number {
    return this.createdAt + this.completedOffsetMs;
  }

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
        abandoned: null,
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
      principal: this.principal,
    };
  }
}

/** What compactFinished shares between records: strings, and whole participant lists. */
export interface FinishedInterners {
  readonly str: (s: string) => string;
  readonly parts: (parts: Array<string | Vote | null>) => ReadonlyArray<string | Vote | null>;
}

/**
 * The compact form of a finished record, or null when it holds something the
 * compact form drops (a participant not acknowledged or still showing an
 * error, a time too far from createdAt to keep as an offset). Every node runs
 * the same check on the same values, so all of them keep the same form, and
 * snapshots (which encode both forms alike) agree.
 */
export function compactFinished(tx: TxRecord, intern: FinishedInterners): FinishedTx | null {
  if ((tx.state !== 'committed' && tx.state !== 'aborted') || tx.decision === null || tx.completedAt === null || tx.decidedAt === null)
    return null;
  const deadline = offsetFrom(tx.createdAt, tx.deadlineAt);
  const decided = offsetFrom(tx.createdAt, tx.decidedAt);
  const completed = offsetFrom(tx.createdAt, tx.completedAt);
  if (deadline === null || decided === null || completed === null) return null;
  // Sized once: an array grown by push() keeps spare capacity for the rest of its life.
  const parts = new Array<string | Vote | null>(tx.participants.length * 3);
  let i = 0;
  for (const p of tx.participants) {
    if (!p.acknowledged || p.lastError !== null || p.failingSince !== null || p.abandoned !== null) return null;
    parts[i++] = intern.str(p.name);
    parts[i++] = intern.str(p.url);
    parts[i++] = voteConstant(p.vote);
  }
  if (createdBaseMs === null && Number.isSafeInteger(tx.createdAt)) createdBaseMs = tx.createdAt;
  const created = createdBaseMs === null ? null : offsetFrom(createdBaseMs, tx.createdAt);
  const client =
    tx.idempotencyKey === null && tx.requestHash === null && tx.principal === null
      ? null
      : {
          idempotencyKey: tx.idempotencyKey,
          requestHash: tx.requestHash,
          principal: tx.principal === null ? null : intern.str(tx.principal),
        };
  return new FinishedTx(
    tx.id,
    tx.seq,
    (tx.decision === 'commit' ? 1 : 0) | (tx.protocol === '3pc' ? 2 : 0) | (created === null ? KIND_CREATED_ABSOLUTE : 0),
    tx.decisionReason === null ? null : intern.str(tx.decisionReason),
    created ?? tx.createdAt,
    deadline,
    decided,
    completed,
    client,
    intern.parts(parts),
  );
}

/** `to - from` when it is a small integer that gives `to` back exactly, else null. */
export function offsetFrom(from: number, to: number): number | null {
  const offset = to - from;
  if (!Number.isInteger(offset) || offset <= -OFFSET_LIMIT_MS || offset >= OFFSET_LIMIT_MS) return null;
  return Object.is(from + offset, to) ? offset : null;
}

/** The literal, not the decoded copy: one string for every transaction. */
function voteConstant(v: Vote | null): Vote | null {
  return v === null ? null : v === 'commit' ? 'commit' : 'abort';
}

/** The interners of one table. */
export function createFinishedInterners(stringsMax: number, partsMax: number): FinishedInterners {
  return { str: createInterner(stringsMax), parts: createPartsInterner(partsMax) };
}

/**
 * Shares equal participant lists (the same services, all voting commit, is the
 * common case): one frozen array for all of them instead of one per
 * transaction. Sharing is invisible to every reader (the lists are never
 * mutated and snapshots encode values), so its bound only costs memory: when
 * `max` distinct lists are known it starts over, which keeps adapting to the
 * lists in use now.
 */
export function createPartsInterner(max: number): (parts: Array<string | Vote | null>) => ReadonlyArray<string | Vote | null> {
  const seen = new Map<string, ReadonlyArray<string | Vote | null>>();
  return (parts) => {
    const key = JSON.stringify(parts);
    const known = seen.get(key);
    if (known !== undefined) return known;
    if (seen.size >= max) seen.clear();
    const shared = Object.freeze(parts);
    seen.set(key, shared);
    return shared;
  };
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
