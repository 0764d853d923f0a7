// The bank's per-transaction records (GET /transactions): their shape, their
// keys in the ledger database, and the listing cursor.
import type { LedgerOp } from './ledger.js';

/** prepared: funds held, outcome unknown here. committed / aborted: final. */
export type LedgerTxState = 'prepared' | 'committed' | 'aborted';
export const LEDGER_TX_STATES: readonly LedgerTxState[] = ['prepared', 'committed', 'aborted'];

/** What this bank did for one (transaction, participant name). */
export interface LedgerTxRecord {
  readonly txId: string;
  /** The name the coordinator enlisted this bank under (one bank may be enlisted under several). */
  readonly participant: string;
  readonly state: LedgerTxState;
  /** The operations of the prepare payload; empty when none was accepted (malformed, or abort before prepare). */
  readonly ops: readonly LedgerOp[];
  /** Why this bank aborted on its own (its abort vote), when it did. */
  readonly reason?: string;
}

export interface TxQuery {
  readonly txId?: string;
  readonly state?: LedgerTxState;
  readonly limit: number;
}

export interface TxPage {
  readonly transactions: LedgerTxRecord[];
  readonly nextCursor: string | null;
}

const SEQ_DIGITS = 16;

/** Length-prefixed, so any txId and name encode unambiguously and one txId's records sit together. */
export const recordKey = (txId: string, participant: string): string => `${txId.length}:${txId}:${participant}`;
export const txKey = (key: string): string => `txn!${key}`;
export const openKey = (key: string): string => `open!${key}`;
export const finishedKey = (seq: number): string => `fin!${String(seq).padStart(SEQ_DIGITS, '0')}`;

/** The key range of a listing over `prefix` (txn! or open!), optionally one txId's, after a cursor. */
export function listRange(prefix: string, txId: string | undefined, afterKey: string | null): { gt?: string; gte?: string; lt: string } {
  // ';' follows ':' in byte order: every key of "<len>:<txId>:" sorts below "<len>:<txId>;".
  const lower = txId === undefined ? prefix : `${prefix}${txId.length}:${txId}:`;
  const lt = txId === undefined ? `${prefix.slice(0, -1)}"` : `${prefix}${txId.length}:${txId};`;
  if (afterKey !== null && `${prefix}${afterKey}` >= lower) return { gt: `${prefix}${afterKey}`, lt };
  return { gte: lower, lt };
}

export function encodeCursor(key: string): string {
  return Buffer.from(key).toString('base64url');
}

/** Null when the cursor is not one this API returned. */
export function decodeCursor(cursor: string): string | null {
  const key = Buffer.from(cursor, 'base64url').toString();
  return /^\d{1,10}:/.test(key) ? key : null;
}
