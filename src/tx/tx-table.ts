// The replicated table and its indexes, plus its snapshot encoding.
//
// Orders matter for determinism: rows iterate in creation (Raft index) order
// and `finished` in completion order, and the snapshot stores both, so a
// restored table iterates exactly like the original.
//
// Unfinished transactions are live TxRecords that apply() mutates. A finished
// one is kept as a FinishedTx (finished-tx.ts) when it compacts, which is what
// bounds memory with 100,000 retained; finished records are never mutated, so
// reads hand out fresh TxRecords made from it.
import { Packr } from 'msgpackr';
import { RatifyError } from '../errors.js';
import { compactFinished, createInterner, FinishedTx, ownString } from './finished-tx.js';
import { packExact, type MsgpackSink } from './msgpack-writer.js';
import { isFinished } from './transitions.js';
import { TX_STATES, type ParticipantRecord, type TxRecord } from './types.js';

/**
 * 1: {version, txs: TxRecord maps, finishedOrder: ids}. 2: the same content as
 * arrays without field names (about 40% of the bytes: a snapshot of 100,000
 * retained transactions is held in memory to send to followers). Both are read.
 */
const SNAPSHOT_VERSION = 2;
/** Distinct strings shared between records; see createInterner. */
const INTERNED_STRINGS_MAX = 4096;
/** Values per participant in a version 2 row. */
const PARTICIPANT_FIELDS = 7;
/** Reads snapshots; they are written by packExact (msgpack-writer.ts). */
const packr = new Packr({ useRecords: false });

export type Row = TxRecord | FinishedTx;

export class TxTable {
  /** Every known transaction, in creation order. */
  private readonly rows = new Map<string, Row>();
  /** Idempotency key -> txId. Invariant: only keys of transactions present in `rows`. */
  readonly byKey = new Map<string, string>();
  /** Ids of transactions not finished, in creation order. */
  readonly unfinished = new Set<string>();
  /** Finished ids -> completedAt, in completion order (retention removes from the front). */
  readonly finished = new Map<string, number>();
  private readonly intern = createInterner(INTERNED_STRINGS_MAX);

  get size(): number {
    return this.rows.size;
  }

  has(id: string): boolean {
    return this.rows.has(id);
  }

  ids(): IterableIterator<string> {
    return this.rows.keys();
  }

  /**
   * The live record of an unfinished transaction (apply() mutates it), or a
   * fresh record of a finished one (nothing mutates those).
   */
  get(id: string): TxRecord | undefined {
    const row = this.rows.get(id);
    return row instanceof FinishedTx ? row.toRecord() : row;
  }

  /** A copy the caller may keep and change: the table's own record never leaves through it. */
  detached(id: string): TxRecord | undefined {
    const row = this.rows.get(id);
    return row === undefined ? undefined : detach(row);
  }

  /** Every row in creation order, for scans that filter on seq and state before paying for a record. */
  scan(): IterableIterator<Row> {
    return this.rows.values();
  }

  insert(tx: TxRecord): void {
    this.rows.set(tx.id, tx);
    if (tx.idempotencyKey !== null) this.byKey.set(tx.idempotencyKey, tx.id);
    if (isFinished(tx.state)) this.finished.set(tx.id, tx.completedAt ?? 0);
    else this.unfinished.add(tx.id);
  }

  markFinished(tx: TxRecord, completedAt: number): void {
    this.unfinished.delete(tx.id);
    this.finished.set(tx.id, completedAt);
    // Same position in `rows`: Map.set on an existing key keeps the creation order.
    this.rows.set(tx.id, compactFinished(tx, this.intern) ?? tx);
  }

  remove(id: string): void {
    const row = this.rows.get(id);
    if (row === undefined) return;
    this.rows.delete(id);
    this.unfinished.delete(id);
    this.finished.delete(id);
    if (row.idempotencyKey !== null && this.byKey.get(row.idempotencyKey) === id) this.byKey.delete(row.idempotencyKey);
  }

  clear(): void {
    this.rows.clear();
    this.byKey.clear();
    this.unfinished.clear();
    this.finished.clear();
  }

  encode(): Uint8Array {
    const position = new Map<string, number>();
    for (const id of this.rows.keys()) position.set(id, position.size);
    return packExact((w) => {
      w.map(3);
      w.str('version');
      w.num(SNAPSHOT_VERSION);
      w.str('txs');
      w.array(this.rows.size);
      for (const row of this.rows.values()) writeRow(w, row);
      w.str('finishedOrder');
      w.array(this.finished.size);
      for (const id of this.finished.keys()) w.num(position.get(id) ?? -1);
    });
  }

  /** Replaces the content; throws DATA_CORRUPT (leaving the table partly filled: use a fresh table) if the bytes are not a valid table. */
  decodeInto(data: Uint8Array): void {
    this.clear();
    let decoded: unknown;
    try {
      decoded = packr.unpack(data);
    } catch (e) {
      throw new RatifyError('DATA_CORRUPT', 'transaction snapshot is not valid msgpack', { cause: e });
    }
    if (!isObject(decoded) || (decoded.version !== 1 && decoded.version !== 2)) corrupt('unknown snapshot version');
    const { txs, finishedOrder } = decoded;
    if (!Array.isArray(txs) || !Array.isArray(finishedOrder)) corrupt('snapshot lacks txs/finishedOrder');
    const records: TxRecord[] = [];
    for (const raw of txs) {
      const decodedTx = decoded.version === 1 ? upgradeRecord(raw) : decodeRow(raw);
      if (!isTxRecord(decodedTx) || this.rows.has(decodedTx.id)) corrupt('snapshot holds an invalid or duplicate transaction');
      const tx = withOwnKeys(decodedTx);
      records.push(tx);
      this.rows.set(tx.id, tx);
      if (tx.idempotencyKey !== null) this.byKey.set(tx.idempotencyKey, tx.id);
      if (!isFinished(tx.state)) this.unfinished.add(tx.id);
    }
    for (const ref of finishedOrder) {
      const tx = decoded.version === 1 ? (typeof ref === 'string' ? this.rows.get(ref) : undefined) : typeof ref === 'number' ? records[ref] : undefined;
      if (tx === undefined || !isFinished(tx.state) || tx.completedAt === null || this.finished.has(tx.id)) corrupt('snapshot finishedOrder is inconsistent');
      this.finished.set(tx.id, tx.completedAt);
      // Compacted as if completed here, so this table keeps the form every other node keeps.
      if (!(tx instanceof FinishedTx)) this.rows.set(tx.id, compactFinished(tx, this.intern) ?? tx);
    }
    if (this.finished.size + this.unfinished.size !== this.rows.size) corrupt('snapshot finishedOrder misses transactions');
  }
}

export function copyRecord(tx: TxRecord): TxRecord {
  return { ...tx, participants: tx.participants.map((p) => ({ ...p })) };
}

/** A detached TxRecord of a row of either form. */
export function detach(row: Row): TxRecord {
  return row instanceof FinishedTx ? row.toRecord() : copyRecord(row);
}

// ---- version 2 rows ------------------------------------------------------------

/**
 * One transaction: [id, seq, state, protocol, participants, createdAt,
 * deadlineAt, decision, decisionReason, decidedAt, completedAt,
 * idempotencyKey, requestHash], participants flattened to 7 values each
 * (name, url, payload, vote, acknowledged, lastError, failingSince). Both forms
 * of a row write the same values, so the bytes never depend on the form.
 */
function writeRow(w: MsgpackSink, row: Row): void {
  w.array(13);
  w.str(row.id);
  w.num(row.seq);
  w.str(row.state);
  w.str(row.protocol);
  if (row instanceof FinishedTx) writeFinishedParticipants(w, row.parts);
  else writeParticipants(w, row.participants);
  w.num(row.createdAt);
  w.num(row.deadlineAt);
  strOrNil(w, row.decision);
  strOrNil(w, row.decisionReason);
  numOrNil(w, row.decidedAt);
  numOrNil(w, row.completedAt);
  strOrNil(w, row.idempotencyKey);
  strOrNil(w, row.requestHash);
}

function writeParticipants(w: MsgpackSink, participants: readonly ParticipantRecord[]): void {
  w.array(participants.length * PARTICIPANT_FIELDS);
  for (const p of participants) {
    w.str(p.name);
    w.str(p.url);
    w.value(p.payload);
    strOrNil(w, p.vote);
    w.bool(p.acknowledged);
    strOrNil(w, p.lastError);
    numOrNil(w, p.failingSince);
  }
}

/** What toRecord() would yield: no payload, acknowledged, nothing failing. */
function writeFinishedParticipants(w: MsgpackSink, parts: FinishedTx['parts']): void {
  w.array((parts.length / 3) * PARTICIPANT_FIELDS);
  for (let i = 0; i < parts.length; i += 3) {
    w.str(parts[i] as string);
    w.str(parts[i + 1] as string);
    w.nil();
    strOrNil(w, parts[i + 2] ?? null);
    w.bool(true);
    w.nil();
    w.nil();
  }
}

function strOrNil(w: MsgpackSink, v: string | null): void {
  if (v === null) w.nil();
  else w.str(v);
}

function numOrNil(w: MsgpackSink, v: number | null): void {
  if (v === null) w.nil();
  else w.num(v);
}

/** A row back to a record; anything malformed yields a value isTxRecord() refuses. */
function decodeRow(raw: unknown): unknown {
  if (!Array.isArray(raw) || raw.length !== 13) return null;
  const [id, seq, state, protocol, parts, createdAt, deadlineAt, decision, decisionReason, decidedAt, completedAt, idempotencyKey, requestHash] = raw;
  if (!Array.isArray(parts) || parts.length % PARTICIPANT_FIELDS !== 0) return null;
  const participants: unknown[] = [];
  for (let i = 0; i < parts.length; i += PARTICIPANT_FIELDS) {
    const [name, url, payload, vote, acknowledged, lastError, failingSince] = parts.slice(i, i + PARTICIPANT_FIELDS);
    participants.push({ name, url, payload, vote, acknowledged, lastError, failingSince });
  }
  return { id, seq, state, protocol, participants, createdAt, deadlineAt, decision, decisionReason, decidedAt, completedAt, idempotencyKey, requestHash };
}

/**
 * The strings that become Map keys (and live as long as the record) as copies
 * of their own: decoded ones are slices of larger strings (see ownString).
 */
function withOwnKeys(tx: TxRecord): TxRecord {
  const own = (s: string | null): string | null => (s === null ? null : ownString(s));
  return { ...tx, id: ownString(tx.id), idempotencyKey: own(tx.idempotencyKey), requestHash: own(tx.requestHash) };
}

// ---- checks ----------------------------------------------------------------------

function corrupt(why: string): never {
  throw new RatifyError('DATA_CORRUPT', `transaction snapshot: ${why}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isNumOrNull = (v: unknown): boolean => v === null || typeof v === 'number';
const isStrOrNull = (v: unknown): boolean => v === null || typeof v === 'string';
const isVoteOrNull = (v: unknown): boolean => v === null || v === 'commit' || v === 'abort';

/** Version 1 snapshots written before participants carried failingSince lack the field: it means "not reported failing". */
function upgradeRecord(tx: unknown): unknown {
  if (isObject(tx) && Array.isArray(tx.participants)) {
    for (const p of tx.participants) if (isObject(p) && !('failingSince' in p)) p.failingSince = null;
  }
  return tx;
}

function isParticipantRecord(v: unknown): v is ParticipantRecord {
  return (
    isObject(v) &&
    typeof v.name === 'string' &&
    typeof v.url === 'string' &&
    'payload' in v &&
    isVoteOrNull(v.vote) &&
    typeof v.acknowledged === 'boolean' &&
    isStrOrNull(v.lastError) &&
    isNumOrNull(v.failingSince)
  );
}

// Asserted when a record is read back from a snapshot (TigerBeetle's paired assertions).
function isTxRecord(v: unknown): v is TxRecord {
  return (
    isObject(v) &&
    typeof v.id === 'string' &&
    typeof v.seq === 'number' &&
    TX_STATES.includes(v.state as TxRecord['state']) &&
    (v.protocol === '2pc' || v.protocol === '3pc') &&
    Array.isArray(v.participants) &&
    v.participants.every(isParticipantRecord) &&
    typeof v.createdAt === 'number' &&
    typeof v.deadlineAt === 'number' &&
    (v.decision === null || v.decision === 'commit' || v.decision === 'abort') &&
    isStrOrNull(v.decisionReason) &&
    isNumOrNull(v.decidedAt) &&
    isNumOrNull(v.completedAt) &&
    isStrOrNull(v.idempotencyKey) &&
    isStrOrNull(v.requestHash)
  );
}
