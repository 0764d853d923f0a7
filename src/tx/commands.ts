// The replicated commands: every transaction change that recovery needs is one
// of these, inside a Raft entry. The proposer (the leader) stamps ids, times and
// the limits apply() enforces, so apply() never reads a clock, a random source
// or this node's config.
import { Packr } from 'msgpackr';
import { packBounded } from '../util/bounded-pack.js';
import type { Decision, Outcome, ParticipantSpec, Protocol, Vote } from './types.js';

export interface VoteEntry {
  readonly participant: string;
  readonly vote: Vote;
  /** The participant's own abort reason, if it gave one. */
  readonly reason: string | null;
  /** Why the prepare call failed, when the abort vote stands for a failure (shown as lastError). */
  readonly error: string | null;
}

/**
 * What a created entry would have said, carried by the decided entry of a
 * one-shot transaction (src/tx/one-shot.ts). The payloads stay out: a decided
 * transaction is never prepared again, so apply() drops them anyway.
 */
export interface OneShotRecord {
  readonly participants: ReadonlyArray<{ readonly name: string; readonly url: string }>;
  readonly protocol: Protocol;
  readonly createdAt: number;
  readonly deadlineAt: number;
  readonly idempotencyKey: string | null;
  readonly requestHash: string | null;
  readonly principal: string | null;
  /**
   * The leader's term when it sent prepare. apply() refuses the entry unless it
   * is the entry's own term: a participant that a newer leader told "unknown"
   * has aborted, and no entry of another term may then record the transaction.
   */
  readonly preparedTerm: number;
}

export type TxCommand =
  | {
      readonly type: 'created';
      readonly txId: string;
      readonly participants: readonly ParticipantSpec[];
      readonly protocol: Protocol;
      readonly createdAt: number;
      readonly deadlineAt: number;
      readonly idempotencyKey: string | null;
      readonly requestHash: string | null;
      /** One-shot flow: start in `preparing` and save an entry. */
      readonly commitRequested: boolean;
      /** Bound on the undecided transactions (active, preparing); before stuckMax existed, on every unfinished one. */
      readonly activeMax: number;
      /**
       * Bound on the unfinished transactions whose outcome is fixed
       * (maxStuckTransactions). Absent in entries written before it existed:
       * then activeMax bounds every unfinished transaction, as it did.
       */
      readonly stuckMax?: number;
      /** Who created it (src/http/tokens.ts); null with no tokens. Absent in entries written before it existed: null. */
      readonly principal?: string | null;
    }
  | { readonly type: 'enlisted'; readonly txId: string; readonly participant: ParticipantSpec; readonly participantsMax: number }
  | { readonly type: 'commitRequested'; readonly txId: string }
  | ({ readonly type: 'voteRecorded'; readonly txId: string } & VoteEntry)
  | {
      readonly type: 'precommitted';
      readonly txId: string;
      readonly votes: readonly VoteEntry[];
      /**
       * When the leader proposed it (ms): the outcome is fixed from here on
       * (commit), so apply() sets the view's decidedAt. Absent in entries
       * written before it existed.
       */
      readonly precommittedAt?: number;
    }
  | {
      readonly type: 'decided';
      readonly txId: string;
      readonly decision: Decision;
      readonly votes: readonly VoteEntry[];
      readonly decidedAt: number;
      readonly reason: string;
      /**
       * A one-shot transaction's whole record: no created entry came before
       * this one (README "Participant protocol", one consensus round). Absent
       * for a transaction the table already holds, and in entries written
       * before the one-shot path existed.
       */
      readonly oneShot?: OneShotRecord;
    }
  | {
      readonly type: 'participantFailing';
      readonly txId: string;
      readonly participant: string;
      readonly error: string;
      /** When this leader's run of failed calls to the participant began (ms); apply() keeps the earliest. */
      readonly failingSince: number;
    }
  | { readonly type: 'acknowledged'; readonly txId: string; readonly participant: string }
  | CompletedCommand
  | {
      /**
       * The completions of several transactions in one entry (completion-queue.ts):
       * each applies exactly as its own `completed` entry would, in this order.
       * At most COMPLETIONS_PER_ENTRY_MAX of them.
       */
      readonly type: 'completedBatch';
      readonly completions: readonly CompletedCommand[];
    }
  | {
      /** An operator finished the transaction by hand (src/tx/force-finish.ts); never against its outcome. */
      readonly type: 'forceFinished';
      readonly txId: string;
      /** The outcome the operator expects; apply() refuses the entry when it is not the transaction's. Null: whatever it is. */
      readonly outcome: Outcome | null;
      /** The admin principal that asked (null without tokens), kept in the log. */
      readonly principal: string | null;
      readonly at: number;
    }
  | { readonly type: 'gc'; readonly now: number; readonly retainFinishedMs: number; readonly retainFinishedMax: number };

/** Every participant acknowledged (or was abandoned): the transaction is finished. */
export interface CompletedCommand {
  readonly type: 'completed';
  readonly txId: string;
  readonly completedAt: number;
  /**
   * Participants acknowledged by this same entry (the fast path records no
   * acknowledged entries). Absent in entries written before it existed.
   */
  readonly acknowledged?: readonly string[];
  /**
   * Participants the coordinator stopped delivering an abort to (presumed
   * abort: none of them voted commit; src/tx/abandon.ts). Absent in entries
   * written before it existed.
   */
  readonly abandoned?: readonly string[];
}

/**
 * Bound on the completions one completedBatch entry may carry; apply() refuses
 * a bigger one as malformed. The leader's queue flushes well below it.
 */
export const COMPLETIONS_PER_ENTRY_MAX = 1024;

export type TxCommandType = TxCommand['type'];

// Plain maps, no record extension: the bytes depend only on the values, which
// keeps snapshots of equal tables byte-identical.
const packr = new Packr({ useRecords: false });

export function encodeCommand(cmd: TxCommand): Uint8Array {
  // A copy with its own memory: pack() returns a view into msgpackr's write
  // buffer, which every Packr in the process shares (up to PACK_BUFFER_BYTES_MAX,
  // see bounded-pack.ts). An entry keeps its data until the log is compacted, and
  // a view would keep that whole buffer alive with it (as would a slice of Node's
  // shared 8 KiB Buffer pool).
  return new Uint8Array(packBounded(packr, cmd));
}

/** Returns null when the bytes are not a well-formed command. */
export function decodeCommand(data: Uint8Array): TxCommand | null {
  let value: unknown;
  try {
    // Through a view of its own: msgpackr caches a DataView on the buffer it reads
    // (a property it adds), and `data` is a log entry's, kept until the log is
    // compacted. On the entry's own buffer that cost every retained entry a
    // DataView and a property array, about 120 bytes (0.7 MiB of 6,000 entries).
    value = packr.unpack(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  } catch {
    return null;
  }
  return isTxCommand(value) ? value : null;
}

// ---- guards -------------------------------------------------------------

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStrOrNull = (v: unknown): v is string | null => v === null || isStr(v);
const isVote = (v: unknown): v is Vote => v === 'commit' || v === 'abort';

function isParticipantSpec(v: unknown): v is ParticipantSpec {
  return isObj(v) && isStr(v.name) && isStr(v.url) && 'payload' in v;
}

function isVoteEntry(v: unknown): v is VoteEntry {
  return isObj(v) && isStr(v.participant) && isVote(v.vote) && isStrOrNull(v.reason) && isStrOrNull(v.error);
}

function isOptionalNames(v: unknown): boolean {
  return v === undefined || (Array.isArray(v) && v.every(isStr));
}

function isOneShotRecord(v: unknown): v is OneShotRecord {
  return (
    isObj(v) &&
    Array.isArray(v.participants) &&
    v.participants.every((p) => isObj(p) && isStr(p.name) && isStr(p.url)) &&
    (v.protocol === '2pc' || v.protocol === '3pc') &&
    isNum(v.createdAt) &&
    isNum(v.deadlineAt) &&
    isStrOrNull(v.idempotencyKey) &&
    isStrOrNull(v.requestHash) &&
    isStrOrNull(v.principal) &&
    isNum(v.preparedTerm)
  );
}

function isCompleted(v: Obj): boolean {
  return hasTx(v) && isNum(v.completedAt) && isOptionalNames(v.acknowledged) && isOptionalNames(v.abandoned);
}

function hasTx(v: Obj): boolean {
  return isStr(v.txId) && v.txId.length > 0;
}

export function isTxCommand(v: unknown): v is TxCommand {
  if (!isObj(v) || !isStr(v.type)) return false;
  const type = v.type as TxCommandType;
  switch (type) {
    case 'created':
      return (
        hasTx(v) &&
        Array.isArray(v.participants) &&
        v.participants.every(isParticipantSpec) &&
        (v.protocol === '2pc' || v.protocol === '3pc') &&
        isNum(v.createdAt) &&
        isNum(v.deadlineAt) &&
        isStrOrNull(v.idempotencyKey) &&
        isStrOrNull(v.requestHash) &&
        typeof v.commitRequested === 'boolean' &&
        isNum(v.activeMax) &&
        (v.stuckMax === undefined || isNum(v.stuckMax)) &&
        (v.principal === undefined || isStrOrNull(v.principal))
      );
    case 'enlisted':
      return hasTx(v) && isParticipantSpec(v.participant) && isNum(v.participantsMax);
    case 'commitRequested':
      return hasTx(v);
    case 'precommitted':
      return (
        hasTx(v) && Array.isArray(v.votes) && v.votes.every(isVoteEntry) && (v.precommittedAt === undefined || isNum(v.precommittedAt))
      );
    case 'voteRecorded':
      return hasTx(v) && isVoteEntry(v);
    case 'decided':
      return (
        hasTx(v) &&
        (v.decision === 'commit' || v.decision === 'abort') &&
        Array.isArray(v.votes) &&
        v.votes.every(isVoteEntry) &&
        isNum(v.decidedAt) &&
        isStr(v.reason) &&
        (v.oneShot === undefined || isOneShotRecord(v.oneShot))
      );
    case 'participantFailing':
      return hasTx(v) && isStr(v.participant) && isStr(v.error) && isNum(v.failingSince);
    case 'acknowledged':
      return hasTx(v) && isStr(v.participant);
    case 'completed':
      return isCompleted(v);
    case 'completedBatch':
      return (
        Array.isArray(v.completions) &&
        v.completions.length > 0 &&
        v.completions.length <= COMPLETIONS_PER_ENTRY_MAX &&
        v.completions.every((c) => isObj(c) && c.type === 'completed' && isCompleted(c))
      );
    case 'forceFinished':
      return (
        hasTx(v) && (v.outcome === null || v.outcome === 'committed' || v.outcome === 'aborted') && isStrOrNull(v.principal) && isNum(v.at)
      );
    case 'gc':
      return isNum(v.now) && isNum(v.retainFinishedMs) && isNum(v.retainFinishedMax);
    default:
      // Unknown type (for example from a newer version): not a command we can apply.
      return false;
  }
}
