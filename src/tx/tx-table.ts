// The replicated table and its indexes, plus its snapshot encoding.
//
// Orders matter for determinism: `txs` iterates in creation (Raft index) order
// and `finished` in completion order, and the snapshot stores both, so a
// restored table iterates exactly like the original.
import { Packr } from 'msgpackr';
import { RatifyError } from '../errors.js';
import { isFinished } from './transitions.js';
import { TX_STATES, type ParticipantRecord, type TxRecord } from './types.js';

const SNAPSHOT_VERSION = 1;
const packr = new Packr({ useRecords: false });

export class TxTable {
  /** Every known transaction, in creation order. */
  readonly txs = new Map<string, TxRecord>();
  /** Idempotency key -> txId. Invariant: only keys of transactions present in `txs`. */
  readonly byKey = new Map<string, string>();
  /** Ids of transactions not finished, in creation order. */
  readonly unfinished = new Set<string>();
  /** Finished ids -> completedAt, in completion order (retention removes from the front). */
  readonly finished = new Map<string, number>();

  insert(tx: TxRecord): void {
    this.txs.set(tx.id, tx);
    if (tx.idempotencyKey !== null) this.byKey.set(tx.idempotencyKey, tx.id);
    if (isFinished(tx.state)) this.finished.set(tx.id, tx.completedAt ?? 0);
    else this.unfinished.add(tx.id);
  }

  markFinished(tx: TxRecord, completedAt: number): void {
    this.unfinished.delete(tx.id);
    this.finished.set(tx.id, completedAt);
  }

  remove(id: string): void {
    const tx = this.txs.get(id);
    if (tx === undefined) return;
    this.txs.delete(id);
    this.unfinished.delete(id);
    this.finished.delete(id);
    if (tx.idempotencyKey !== null && this.byKey.get(tx.idempotencyKey) === id) this.byKey.delete(tx.idempotencyKey);
  }

  clear(): void {
    this.txs.clear();
    this.byKey.clear();
    this.unfinished.clear();
    this.finished.clear();
  }

  encode(): Uint8Array {
    return packr.pack({
      version: SNAPSHOT_VERSION,
      txs: [...this.txs.values()],
      finishedOrder: [...this.finished.keys()],
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
    if (!isObject(decoded) || decoded.version !== SNAPSHOT_VERSION) corrupt('unknown snapshot version');
    const { txs, finishedOrder } = decoded;
    if (!Array.isArray(txs) || !Array.isArray(finishedOrder)) corrupt('snapshot lacks txs/finishedOrder');
    for (const tx of txs) {
      if (isObject(tx) && Array.isArray(tx.participants)) upgradeParticipants(tx.participants);
      if (!isTxRecord(tx) || this.txs.has(tx.id)) corrupt('snapshot holds an invalid or duplicate transaction');
      this.txs.set(tx.id, tx);
      if (tx.idempotencyKey !== null) this.byKey.set(tx.idempotencyKey, tx.id);
      if (!isFinished(tx.state)) this.unfinished.add(tx.id);
    }
    for (const id of finishedOrder) {
      const tx = typeof id === 'string' ? this.txs.get(id) : undefined;
      if (tx === undefined || !isFinished(tx.state) || tx.completedAt === null) corrupt('snapshot finishedOrder is inconsistent');
      this.finished.set(tx.id, tx.completedAt);
    }
    if (this.finished.size + this.unfinished.size !== this.txs.size) corrupt('snapshot finishedOrder misses transactions');
  }
}

function corrupt(why: string): never {
  throw new RatifyError('DATA_CORRUPT', `transaction snapshot: ${why}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isNumOrNull = (v: unknown): boolean => v === null || typeof v === 'number';
const isStrOrNull = (v: unknown): boolean => v === null || typeof v === 'string';
const isVoteOrNull = (v: unknown): boolean => v === null || v === 'commit' || v === 'abort';

/** Snapshots written before participants carried failingSince lack the field: it means "not reported failing". */
function upgradeParticipants(participants: unknown[]): void {
  for (const p of participants) if (isObject(p) && !('failingSince' in p)) p.failingSince = null;
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
