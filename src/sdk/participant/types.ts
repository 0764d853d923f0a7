// Public types of the participant SDK: what the coordinator sends, what the user's
// handlers see and answer, and the durable per-transaction record.
import type { ClusterScope } from './answer-scope.js';

export type ParticipantProtocol = '2pc' | '3pc';
export type CallPath = 'prepare' | 'precommit' | 'commit' | 'abort';
export const CALL_PATHS = ['prepare', 'precommit', 'commit', 'abort'] as const satisfies readonly CallPath[];

/** A decoded coordinator call (the wire contract of the participant protocol). */
export type ParticipantCall =
  | {
      readonly path: 'prepare';
      readonly txId: string;
      readonly participant: string;
      readonly payload: unknown;
      readonly protocol: ParticipantProtocol;
      readonly term: number;
    }
  | { readonly path: 'precommit' | 'commit' | 'abort'; readonly txId: string; readonly participant: string; readonly term: number };

/** What prepare answers, with an abort's reason (the coordinator's Vote in src/tx/types.ts is only the word). */
export type ParticipantVote = { readonly vote: 'commit' } | { readonly vote: 'abort'; readonly reason?: string };

/** Who caused a handler call: the coordinator, cooperative termination, or the 3PC timeout rule. */
export type CallSource = 'coordinator' | 'resolver' | 'timeout' | 'recovery';

/** What the user's handlers receive. */
export interface ParticipantTx {
  readonly txId: string;
  /**
   * The name the coordinator enlisted us under. One service may be enlisted under
   * several names in one transaction; each (txId, participant) is its own record.
   */
  readonly participant: string;
  readonly protocol: ParticipantProtocol | null;
  /** The payload of the prepare call, kept in the record so commit/abort see it too. */
  readonly payload: unknown;
  /** Term of the call that triggered the handler; null when the SDK acts on its own. */
  readonly term: number | null;
  readonly source: CallSource;
}

export interface ParticipantHandlers {
  /**
   * Reserve what the transaction needs and vote. A vote of abort (or a throw) must
   * leave nothing behind: abort() is not called for a transaction that voted abort.
   */
  prepare(tx: ParticipantTx): Promise<ParticipantVote>;
  /** Apply what prepare reserved. Called at most once per transaction unless it throws. */
  commit(tx: ParticipantTx): Promise<void>;
  /**
   * Release what prepare reserved. Also called when the process died in the middle of
   * prepare, so it must tolerate finding nothing to release.
   */
  abort(tx: ParticipantTx): Promise<void>;
  precommit?(tx: ParticipantTx): Promise<void>;
}

/** A participant record's state (the coordinator's TxState in src/tx/types.ts is another set). */
export type ParticipantTxState = 'preparing' | 'prepared' | 'precommitted' | 'committed' | 'aborted';
export const PARTICIPANT_TX_STATES = [
  'preparing',
  'prepared',
  'precommitted',
  'committed',
  'aborted',
] as const satisfies readonly ParticipantTxState[];

/** States in which the outcome is still unknown to us. */
export function isInDoubt(state: ParticipantTxState): boolean {
  return state === 'preparing' || state === 'prepared' || state === 'precommitted';
}

/** The durable state of one (txId, participant) pair. */
export interface ParticipantTxRecord {
  readonly txId: string;
  readonly participant: string;
  readonly state: ParticipantTxState;
  /** null when an abort arrived before any prepare. */
  readonly protocol: ParticipantProtocol | null;
  readonly payload: unknown;
  /** Our vote as sent to the coordinator; null if we never answered a prepare. */
  readonly vote: 'commit' | 'abort' | null;
  readonly reason: string | null;
  /** Term of the prepare call; cooperative termination compares it with the cluster's term. */
  readonly preparedTerm: number | null;
  /**
   * The cluster incarnation whose prepare created this record (its call's
   * x-ratify-cluster / x-ratify-incarnation). Cooperative termination only acts
   * on answers from it (answer-scope.ts). Absent for calls without those
   * headers and for records written before the field existed.
   */
  readonly preparedBy?: ClusterScope;
  /** Wall-clock ms of the last change; after a restart the resolver's clocks start from it. */
  readonly updatedAtMs: number;
}

/** A reply in the shape every transport (fastify, node:http, tests) sends back. */
export interface HandleResult {
  readonly status: number;
  readonly body: unknown;
}

/** The subset of a pino logger the SDK uses. */
export interface ParticipantLogger {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}
