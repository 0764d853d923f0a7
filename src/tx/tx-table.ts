// The replicated table and its indexes; its snapshot is table-snapshot.ts.
//
// Orders matter for determinism: rows iterate in creation (Raft index) order
// and `finished` in completion order, and the snapshot stores both, so a
// restored table iterates exactly like the original.
//
// Unfinished transactions are live TxRecords that apply() mutates. A finished
// one moves to the FinishedStore (finished-store.ts: columns, in completion
// order), which is what bounds memory with 100,000 retained, and its row in
// `rows` becomes the store's handle; finished records are never mutated, so
// reads hand out fresh TxRecords made from the store.
import { Packr } from 'msgpackr';
import { RatifyError } from '../errors.js';
import { type FinishedHandle, FinishedStore } from './finished-store.js';
import { createFinishedInterners, FinishedRow, ownString } from './finished-tx.js';
import {
  decodeTableSnapshot,
  encodeTableSnapshot,
  isCurrentSnapshot,
  PARTICIPANT_FIELDS,
  type Row,
  type SnapshotTarget,
  type TableCapture,
} from './table-snapshot.js';
import { KeyIndex } from './key-index.js';
import { isFinished } from './transitions.js';
import { RowIndex } from './row-index.js';
import {
  ABANDON_REASONS,
  copyRecord,
  TX_STATES,
  type AbandonReason,
  type ParticipantRecord,
  type TxRecord,
  type TxState,
} from './types.js';

export type { Row } from './table-snapshot.js';

/** Distinct strings shared between records; see createInterner. */
const INTERNED_STRINGS_MAX = 4096;
/** Distinct participant lists shared between records; see createPartsInterner. */
const INTERNED_PARTS_MAX = 1024;
/** Reads snapshots of versions 1 and 2 (written before table-snapshot.ts). */
const packr = new Packr({ useRecords: false });

export class TxTable {
  /**
   * Every known transaction, in creation order: the live record of an
   * unfinished one, the store's handle of a finished one. No id kept as a
   * string, nor twice: a finished row's id is read where the store holds it
   * (row-index.ts). Invariant: every handle live in the store.
   */
  private readonly rows: RowIndex<TxRecord>;
  /**
   * (principal, idempotency key) -> the holder's row, the same value `rows`
   * has for it (not its id: that would keep the id's string alive).
   * Invariant: only keys of transactions present in `rows`, with their row,
   * and every handle live in the store (key-index.ts reads the keys there).
   */
  private readonly byKey: KeyIndex<TxRecord>;
  /** Ids of transactions not finished, in creation order. */
  readonly unfinished = new Set<string>();
  /**
   * Ids of unfinished transactions whose outcome is fixed (precommitted,
   * committing, aborting): what maxStuckTransactions bounds. Invariant: a
   * subset of `unfinished`; the rest of `unfinished` is what
   * maxActiveTransactions bounds.
   */
  readonly finishing = new Set<string>();
  /** The finished transactions, in completion order (retention removes from the front). */
  private readonly finished: FinishedStore;
  /** Handles the store has renumbered so far (it renumbers them all at its handle limit). */
  private renumberings = 0;
  /** The sum of the offsets by which the store renumbered its handles. */
  private handleShift = 0;

  constructor(handleLimit?: number) {
    const intern = createFinishedInterners(INTERNED_STRINGS_MAX, INTERNED_PARTS_MAX);
    // One offset for every handle: both indexes apply it in place, and keep their order.
    const renumbered = (by: number): void => {
      this.renumberings++;
      this.handleShift += by;
      this.rows.shiftHandles(by);
      this.byKey.shiftHandles(by);
    };
    this.finished = new FinishedStore(intern, renumbered, handleLimit);
    this.rows = new RowIndex(this.finished);
    this.byKey = new KeyIndex(this.finished);
  }

  get size(): number {
    return this.rows.size;
  }

  /** Finished transactions held. */
  get finishedCount(): number {
    return this.finished.size;
  }

  has(id: string): boolean {
    return this.rows.has(id);
  }

  ids(): IterableIterator<string> {
    return this.rows.keys();
  }

  /** Ids of the finished transactions in completion order (oldest first). */
  *finishedIds(): IterableIterator<string> {
    for (const h of this.finished.handles()) yield this.finished.id(h);
  }

  /** completedAt of the first finished transaction in completion order, or null when none is. */
  oldestCompletedAt(): number | null {
    const h = this.finished.first();
    return h === undefined ? null : (this.finished.peek(h).completedAt ?? 0);
  }

  /**
   * The live record of an unfinished transaction (apply() mutates it), or a
   * fresh record of a finished one (nothing mutates those).
   */
  get(id: string): TxRecord | undefined {
    return this.recordOf(this.rows.get(id));
  }

  /** The transaction holding idempotency key `key` of `principal`, as get() gives it. */
  getByKey(principal: string | null, key: string): TxRecord | undefined {
    return this.recordOf(this.byKey.get(principal, key));
  }

  /** The transaction holding idempotency key `key` of `principal`, as detached() gives it. */
  detachedByKey(principal: string | null, key: string): TxRecord | undefined {
    return this.detachedOf(this.byKey.get(principal, key));
  }

  /** The state of `id`'s row, read in place. */
  stateOf(id: string): TxState | undefined {
    const row = this.rows.get(id);
    return typeof row === 'number' ? this.finished.peek(row).state : row?.state;
  }

  /** The row itself (live record, or a finished one as the store gives it), for reads that take a few fields at once and build nothing. */
  row(id: string): Row | undefined {
    const row = this.rows.get(id);
    return typeof row === 'number' ? this.finished.row(row) : row;
  }

  /** A copy the caller may keep and change: the table's own record never leaves through it. */
  detached(id: string): TxRecord | undefined {
    return this.detachedOf(this.rows.get(id));
  }

  /** A row value as get() gives it: the live record, or a fresh one of a finished transaction. */
  private recordOf(row: TxRecord | FinishedHandle | undefined): TxRecord | undefined {
    return typeof row === 'number' ? this.finished.record(row) : row;
  }

  /** A row value as detached() gives it: a record nothing else holds. */
  private detachedOf(row: TxRecord | FinishedHandle | undefined): TxRecord | undefined {
    if (row === undefined) return undefined;
    return typeof row === 'number' ? this.finished.record(row) : copyRecord(row);
  }

  /** completedAt of a finished transaction (0 if it has none: only a corrupt table could hold that). */
  completedAt(id: string): number {
    const row = this.rows.get(id);
    if (row === undefined) return 0;
    return (typeof row === 'number' ? this.finished.peek(row).completedAt : row.completedAt) ?? 0;
  }

  /**
   * Every row in creation order, for scans that filter on seq and state before
   * paying for a record. A finished row is valid only until the next step:
   * read it, or detach() it, before going on.
   */
  *scan(): IterableIterator<Row> {
    for (const row of this.rows.values()) yield typeof row === 'number' ? this.finished.peek(row) : row;
  }

  insert(tx: TxRecord): void {
    const row = isFinished(tx.state) ? this.finished.add(tx) : tx;
    this.rows.set(tx.id, row);
    if (tx.idempotencyKey !== null) this.byKey.set(tx.principal, tx.idempotencyKey, row);
    if (row !== tx) return;
    this.unfinished.add(tx.id);
    this.noteState(tx);
  }

  /** Keeps `finishing` true to `tx`'s state; apply() calls it after every state change. */
  noteState(tx: TxRecord): void {
    if (isFinishing(tx.state)) this.finishing.add(tx.id);
    else this.finishing.delete(tx.id);
  }

  /** `tx` (a row of this table) just reached committed or aborted, completedAt set: it moves to the store. */
  markFinished(tx: TxRecord): void {
    // An absent row would give the store a slot, and the key index an entry, that no row names.
    if (this.rows.get(tx.id) !== tx) throw new Error(`TxTable: markFinished of transaction ${tx.id}, which is not a live row of the table`);
    this.unfinished.delete(tx.id);
    this.finishing.delete(tx.id);
    const h = this.finished.add(tx);
    // Same position: a set on an existing id keeps the creation order.
    this.rows.set(tx.id, h);
    const { principal, idempotencyKey } = tx;
    if (idempotencyKey !== null && this.byKey.get(principal, idempotencyKey) === tx) this.byKey.set(principal, idempotencyKey, h);
  }

  remove(id: string): void {
    const row = this.rows.get(id);
    if (row === undefined) return;
    this.rows.delete(id);
    if (typeof row === 'number') {
      // Before the store removes it (the row is gone from `rows` already): the index reads the slot's key to find its entry.
      this.byKey.deleteHandle(row);
      this.finished.remove(row);
    } else if (row.idempotencyKey !== null) {
      this.byKey.deleteRecord(row.principal, row.idempotencyKey, row);
    }
    this.unfinished.delete(id);
    this.finishing.delete(id);
  }

  clear(): void {
    this.rows.clear();
    this.byKey.clear();
    this.unfinished.clear();
    this.finishing.clear();
    this.finished.clear();
  }

  encode(): Uint8Array {
    const finished = this.finished;
    const forEachRow = (visit: (row: Row) => void): void => {
      for (const row of this.rows.values()) visit(typeof row === 'number' ? finished.peek(row) : row);
    };
    return encodeTableSnapshot({ rowCount: this.rows.size, forEachRow, finishedPositions: this.finishedPositions() });
  }

  /**
   * The table as it is now, for an encoding in slices (tableSnapshotSteps) that
   * gives encode()'s bytes of this moment while apply() goes on: the unfinished
   * records copied (apply() changes them), the finished ones by handle through a
   * reader of the store as it is now (their slots are never written again),
   * and the finished rows' positions in completion order, worked out here by
   * slot as encode() does, in the same pass.
   * WHY not the finished ids, looked up while encoding: that made a string of
   * every id here, synchronously in apply(), and a lookup by id, a search by seq
   * and another id string per finished row in the slices; at 100,000 rows the
   * capture took 26-31 ms and the encoding 121-130 ms (table-memory.js --encode),
   * on every node every snapshotThresholdEntries (run history, "A snapshot's
   * finished order by slot").
   */
  capture(): TableCapture {
    const store = this.finished;
    const rows: Array<TxRecord | FinishedHandle> = new Array(this.rows.size);
    const position = new Uint32Array(store.denseSize);
    let at = 0;
    for (const row of this.rows.values()) {
      if (typeof row === 'number') position[store.denseIndex(row)] = at;
      rows[at++] = typeof row === 'number' ? row : copyRecord(row);
    }
    const reader = store.capture();
    return {
      count: rows.length,
      rowAt: (i) => {
        const row = rows[i]!;
        return typeof row === 'number' ? reader.peek(row) : row;
      },
      finishedPositions: this.inCompletionOrder(position),
    };
  }

  /** Row positions (creation order) of the finished transactions, in completion order. */
  private finishedPositions(): Uint32Array {
    const store = this.finished;
    // By slot, not in a Map: the store's handles are dense within its chunks.
    const position = new Uint32Array(store.denseSize);
    let at = 0;
    for (const row of this.rows.values()) {
      if (typeof row === 'number') position[store.denseIndex(row)] = at;
      at++;
    }
    return this.inCompletionOrder(position);
  }

  /** `position` (a row's, by the store's denseIndex) of every finished row, in completion order. */
  private inCompletionOrder(position: Uint32Array): Uint32Array {
    const store = this.finished;
    const out = new Uint32Array(store.size);
    let i = 0;
    for (const h of store.handles()) out[i++] = position[store.denseIndex(h)]!;
    return out;
  }

  /** Replaces the content; throws DATA_CORRUPT (leaving the table partly filled: use a fresh table) if the bytes are not a valid table. */
  decodeInto(data: Uint8Array): void {
    this.clear();
    // Each row's kind by creation-order position, and the finished ones' positions in
    // completion order: numbers, not the ids. WHY: an array of every id string and a Set
    // of every handle lived as long as the decode (a third of a second at 100,000 rows), so
    // the collector promoted them: about 10 MiB more of old and large-object space on a node
    // that restores at start or installs a snapshot (run history, "A snapshot's finished
    // order by slot").
    const kinds: RowKind[] = [];
    const order: number[] = [];
    const target: SnapshotTarget = {
      row: (tx) => {
        if (!isTxRecord(tx) || this.rows.has(tx.id)) corrupt('snapshot holds an invalid or duplicate transaction');
        if (isFinished(tx.state) && tx.completedAt === null) corrupt(`snapshot holds finished transaction ${tx.id} without completedAt`);
        kinds.push(isFinished(tx.state) ? ROW_FINISHED : ROW_UNFINISHED);
        // A finished one goes into the store at once, so a restore never holds every finished
        // record in full; in creation order for now, moved into completion order below.
        this.insert(tx);
      },
      finished: (position) => {
        if (kinds[position] !== ROW_FINISHED) corrupt('snapshot finishedOrder is inconsistent');
        kinds[position] = ROW_ORDERED;
        order.push(position);
      },
    };
    if (isCurrentSnapshot(data)) decodeTableSnapshot(data, target);
    else decodeLegacy(data, target);
    if (order.length + this.unfinished.size !== this.rows.size) corrupt('snapshot finishedOrder misses transactions');
    this.moveToCompletionOrder(order);
  }

  /** Moves the finished rows at these creation-order positions to the store's end, in this order. */
  private moveToCompletionOrder(positions: readonly number[]): void {
    let handles = this.handlesByPosition();
    let renumberings = this.renumberings;
    for (const position of positions) {
      // Making room may renumber every handle (at the store's handle limit): read them again.
      if (this.renumberings !== renumberings) {
        handles = this.handlesByPosition();
        renumberings = this.renumberings;
      }
      const from = handles[position]!;
      const shift = this.handleShift;
      const to = this.finished.moveToEnd(from);
      // Making room for `to` may have renumbered `from` too; it may be dropped by now, so only `to` is read.
      const fromNow = from + (this.handleShift - shift);
      if (!this.rows.replaceHandle(fromNow, to)) throw new Error(`TxTable: no row holds handle ${fromNow} moved to ${to}`);
      this.byKey.replaceHandle(fromNow, to);
    }
  }

  /** Each row's handle by creation-order position; -1 for an unfinished row. */
  private handlesByPosition(): Int32Array {
    const handles = new Int32Array(this.rows.size);
    let at = 0;
    for (const row of this.rows.values()) handles[at++] = typeof row === 'number' ? row : -1;
    return handles;
  }
}

/** What decodeInto() knows of a row by its position. */
type RowKind = typeof ROW_UNFINISHED | typeof ROW_FINISHED | typeof ROW_ORDERED;
const ROW_UNFINISHED = 0;
/** Finished, and not yet named by finishedOrder. */
const ROW_FINISHED = 1;
/** Finished, and named by finishedOrder (a second time is corrupt). */
const ROW_ORDERED = 2;

/** The outcome is fixed but not every participant has acknowledged it (or been abandoned). */
export function isFinishing(state: TxRecord['state']): boolean {
  return state === 'precommitted' || state === 'committing' || state === 'aborting';
}

/** A detached TxRecord of a row of either form. */
export function detach(row: Row): TxRecord {
  return row instanceof FinishedRow ? row.toRecord() : copyRecord(row);
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
