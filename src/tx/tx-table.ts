// The replicated table and its indexes; its snapshot is table-snapshot.ts.
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
import { compactFinished, createFinishedInterners, FinishedTx, ownString } from './finished-tx.js';
import {
  decodeTableSnapshot,
  encodeTableSnapshot,
  isCurrentSnapshot,
  PARTICIPANT_FIELDS,
  type Row,
  type SnapshotTarget,
  type TableCapture,
} from './table-snapshot.js';
import { isFinished } from './transitions.js';
import { ABANDON_REASONS, TX_STATES, type AbandonReason, type ParticipantRecord, type TxRecord } from './types.js';

export type { Row } from './table-snapshot.js';

/** Distinct strings shared between records; see createInterner. */
const INTERNED_STRINGS_MAX = 4096;
/** Distinct participant lists shared between records; see createPartsInterner. */
const INTERNED_PARTS_MAX = 1024;
/** Reads snapshots of versions 1 and 2 (written before table-snapshot.ts). */
const packr = new Packr({ useRecords: false });

export class TxTable {
  /** Every known transaction, in creation order. */
  private readonly rows = new Map<string, Row>();
  /** keyIndex(principal, idempotency key) -> txId. Invariant: only keys of transactions present in `rows`. */
  readonly byKey = new Map<string, string>();
  /** Ids of transactions not finished, in creation order. */
  readonly unfinished = new Set<string>();
  /**
   * Ids of unfinished transactions whose outcome is fixed (precommitted,
   * committing, aborting): what maxStuckTransactions bounds. Invariant: a
   * subset of `unfinished`; the rest of `unfinished` is what
   * maxActiveTransactions bounds.
   */
  readonly finishing = new Set<string>();
  /**
   * Ids of finished transactions in completion order (retention removes from
   * the front). A Set, not a Map to completedAt: the row has it, and a
   * timestamp as a Map value costs a heap number per transaction.
   */
  readonly finished = new Set<string>();
  private readonly intern = createFinishedInterners(INTERNED_STRINGS_MAX, INTERNED_PARTS_MAX);

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

  /** The row itself (live record or compact finished one), for reads that take a few fields at once and build nothing. */
  row(id: string): Row | undefined {
    return this.rows.get(id);
  }

  /** A copy the caller may keep and change: the table's own record never leaves through it. */
  detached(id: string): TxRecord | undefined {
    const row = this.rows.get(id);
    return row === undefined ? undefined : detach(row);
  }

  /** completedAt of a finished transaction (0 if it has none: only a corrupt table could hold that). */
  completedAt(id: string): number {
    return this.rows.get(id)?.completedAt ?? 0;
  }

  /** Every row in creation order, for scans that filter on seq and state before paying for a record. */
  scan(): IterableIterator<Row> {
    return this.rows.values();
  }

  insert(tx: TxRecord): void {
    this.rows.set(tx.id, tx);
    if (tx.idempotencyKey !== null) this.byKey.set(keyIndex(tx.principal, tx.idempotencyKey), tx.id);
    if (isFinished(tx.state)) this.finished.add(tx.id);
    else this.unfinished.add(tx.id);
    this.noteState(tx);
  }

  /** Keeps `finishing` true to `tx`'s state; apply() calls it after every state change. */
  noteState(tx: TxRecord): void {
    if (isFinishing(tx.state)) this.finishing.add(tx.id);
    else this.finishing.delete(tx.id);
  }

  /** `tx` (a row of this table) just reached committed or aborted, completedAt set. */
  markFinished(tx: TxRecord): void {
    this.unfinished.delete(tx.id);
    this.finishing.delete(tx.id);
    this.finished.add(tx.id);
    // Same position in `rows`: Map.set on an existing key keeps the creation order.
    this.rows.set(tx.id, compactFinished(tx, this.intern) ?? tx);
  }

  remove(id: string): void {
    const row = this.rows.get(id);
    if (row === undefined) return;
    this.rows.delete(id);
    this.unfinished.delete(id);
    this.finishing.delete(id);
    this.finished.delete(id);
    if (row.idempotencyKey === null) return;
    const key = keyIndex(row.principal, row.idempotencyKey);
    if (this.byKey.get(key) === id) this.byKey.delete(key);
  }

  clear(): void {
    this.rows.clear();
    this.byKey.clear();
    this.unfinished.clear();
    this.finishing.clear();
    this.finished.clear();
  }

  encode(): Uint8Array {
    const rows = this.rows;
    const finishedPositions = this.finishedPositions();
    return encodeTableSnapshot({ rowCount: rows.size, rows: () => rows.values(), finishedPositions });
  }

  /**
   * The table as it is now, for an encoding in slices (tableSnapshotSteps) that
   * gives encode()'s bytes of this moment while apply() goes on: the rows by
   * reference, except the live records (unfinished ones, and finished ones that
   * did not compact), which apply() may change and are copied; and the finished
   * ids in completion order. References only, and no lookup by id.
   */
  capture(): TableCapture {
    const rows = Array.from(this.rows.values());
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      if (!(row instanceof FinishedTx)) rows[i] = copyRecord(row);
    }
    // This table's own map: a restore replaces the table, so it is never cleared under the capture.
    const live = this.rows;
    return { rows, finished: Array.from(this.finished), lookup: (id) => live.get(id) };
  }

  /** Row positions (creation order) of the finished transactions, in completion order. */
  private finishedPositions(): Uint32Array {
    const position = new Map<string, number>();
    for (const id of this.rows.keys()) position.set(id, position.size);
    const out = new Uint32Array(this.finished.size);
    let i = 0;
    for (const id of this.finished) out[i++] = position.get(id) ?? 0;
    return out;
  }

  /** Replaces the content; throws DATA_CORRUPT (leaving the table partly filled: use a fresh table) if the bytes are not a valid table. */
  decodeInto(data: Uint8Array): void {
    this.clear();
    const ids: string[] = [];
    const target: SnapshotTarget = {
      row: (tx) => {
        if (!isTxRecord(tx) || this.rows.has(tx.id)) corrupt('snapshot holds an invalid or duplicate transaction');
        ids.push(tx.id);
        if (tx.idempotencyKey !== null) this.byKey.set(keyIndex(tx.principal, tx.idempotencyKey), tx.id);
        if (!isFinished(tx.state)) {
          this.rows.set(tx.id, tx);
          this.unfinished.add(tx.id);
          this.noteState(tx);
          return;
        }
        if (tx.completedAt === null) corrupt(`snapshot holds finished transaction ${tx.id} without completedAt`);
        // Compacted as if completed here, so this table keeps the form every other node keeps; at
        // once, so a restore never holds every finished record in full.
        this.rows.set(tx.id, compactFinished(tx, this.intern) ?? tx);
      },
      finished: (position) => {
        const id = ids[position];
        const row = id === undefined ? undefined : this.rows.get(id);
        if (row === undefined || !isFinished(row.state) || this.finished.has(row.id)) corrupt('snapshot finishedOrder is inconsistent');
        this.finished.add(row.id);
      },
    };
    if (isCurrentSnapshot(data)) decodeTableSnapshot(data, target);
    else decodeLegacy(data, target);
    if (this.finished.size + this.unfinished.size !== this.rows.size) corrupt('snapshot finishedOrder misses transactions');
  }
}

/** The outcome is fixed but not every participant has acknowledged it (or been abandoned). */
export function isFinishing(state: TxRecord['state']): boolean {
  return state === 'precommitted' || state === 'committing' || state === 'aborting';
}

/**
 * The byKey index's key: idempotency keys are per principal, so one principal's
 * key never finds (or blocks) another's transaction. A key without a principal
 * (no tokens, or an entry from before principals) indexes as it always did; a
 * scoped one starts with NUL, which no HTTP header value can hold.
 */
export function keyIndex(principal: string | null, key: string): string {
  return principal === null ? key : `\u0000${principal}\u0000${key}`;
}

export function copyRecord(tx: TxRecord): TxRecord {
  return { ...tx, participants: tx.participants.map((p) => ({ ...p })) };
}

/** A detached TxRecord of a row of either form. */
export function detach(row: Row): TxRecord {
  return row instanceof FinishedTx ? row.toRecord() : copyRecord(row);
}

// ---- versions 1 and 2 -----------------------------------------------------------

/**
 * 1: {version, txs: TxRecord maps, finishedOrder: ids}. 2: the same content as
 * arrays without field names, finishedOrder as row positions. Data directories
 * and lagging followers may still hold them.
 */
function decodeLegacy(data: Uint8Array, target: SnapshotTarget): void {
  let decoded: unknown;
  try {
    decoded = packr.unpack(data);
  } catch (e) {
    throw new RatifyError('DATA_CORRUPT', 'transaction snapshot is not valid msgpack', { cause: e });
  }
  if (!isObject(decoded) || (decoded.version !== 1 && decoded.version !== 2)) corrupt('unknown snapshot version');
  const { txs, finishedOrder } = decoded;
  if (!Array.isArray(txs) || !Array.isArray(finishedOrder)) corrupt('snapshot lacks txs/finishedOrder');
  const positions = new Map<string, number>();
  for (const raw of txs) {
    const decodedTx = decoded.version === 1 ? upgradeRecord(raw) : decodeRow(raw);
    if (!isTxRecord(decodedTx)) corrupt('snapshot holds an invalid or duplicate transaction');
    const tx = withOwnKeys(decodedTx);
    if (decoded.version === 1) positions.set(tx.id, positions.size);
    target.row(tx);
  }
  for (const ref of finishedOrder) {
    const position =
      decoded.version === 1 ? (typeof ref === 'string' ? positions.get(ref) : undefined) : typeof ref === 'number' ? ref : undefined;
    if (position === undefined) corrupt('snapshot finishedOrder is inconsistent');
    target.finished(position);
  }
}

/** A row back to a record; anything malformed yields a value isTxRecord() refuses. */
function decodeRow(raw: unknown): unknown {
  if (!Array.isArray(raw) || raw.length !== 13) return null;
  const [
    id,
    seq,
    state,
    protocol,
    parts,
    createdAt,
    deadlineAt,
    decision,
    decisionReason,
    decidedAt,
    completedAt,
    idempotencyKey,
    requestHash,
  ] = raw;
  if (!Array.isArray(parts) || parts.length % PARTICIPANT_FIELDS !== 0) return null;
  const participants: unknown[] = [];
  for (let i = 0; i < parts.length; i += PARTICIPANT_FIELDS) {
    const [name, url, payload, vote, acknowledged, lastError, failingSince] = parts.slice(i, i + PARTICIPANT_FIELDS);
    participants.push({ name, url, payload, vote, acknowledged, lastError, failingSince, abandoned: null });
  }
  return {
    id,
    seq,
    state,
    protocol,
    participants,
    createdAt,
    deadlineAt,
    decision,
    decisionReason,
    decidedAt,
    completedAt,
    idempotencyKey,
    requestHash,
    principal: null,
  };
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

/** Version 1 snapshots written before participants carried failingSince lack the field: it means "not reported failing". No version before 4 has principals, none before 5 abandoned participants. */
function upgradeRecord(tx: unknown): unknown {
  if (isObject(tx) && !('principal' in tx)) tx.principal = null;
  if (isObject(tx) && Array.isArray(tx.participants)) {
    for (const p of tx.participants) {
      if (isObject(p) && !('failingSince' in p)) p.failingSince = null;
      if (isObject(p) && !('abandoned' in p)) p.abandoned = null;
    }
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
    isNumOrNull(v.failingSince) &&
    (v.abandoned === null || ABANDON_REASONS.includes(v.abandoned as AbandonReason))
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
    isStrOrNull(v.requestHash) &&
    isStrOrNull(v.principal)
  );
}
