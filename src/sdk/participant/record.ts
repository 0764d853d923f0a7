// Encoding of a participant's transaction record, asserted in pairs (TigerBeetle
// style): `assertRecord` just before a record is written, `decodeRecord` right
// after it is read back. A record that fails either check means a bug or a
// damaged data directory, never something to paper over.
import { RatifyError } from '../../errors.js';
import type { ClusterScope } from './answer-scope.js';
import { CLUSTER_ID_PATTERN, INCARNATION_PATTERN } from './signature.js';
import { PARTICIPANT_TX_STATES, isInDoubt, type ParticipantProtocol, type ParticipantTxRecord, type ParticipantTxState } from './types.js';

const RECORD_VERSION = 1;

/** Stored form: the record plus a version so a future layout change can migrate. */
interface StoredRecord extends ParticipantTxRecord {
  readonly v: typeof RECORD_VERSION;
}

export function assertRecord(r: ParticipantTxRecord): void {
  const problem = recordProblem(r);
  if (problem !== null)
    throw new RatifyError('INTERNAL', `refusing to write a bad participant record for ${r.participant}/${r.txId}: ${problem}`);
}

export function encodeRecord(r: ParticipantTxRecord): StoredRecord {
  assertRecord(r);
  return {
    v: RECORD_VERSION,
    txId: r.txId,
    state: r.state,
    participant: r.participant,
    protocol: r.protocol,
    payload: r.payload,
    vote: r.vote,
    reason: r.reason,
    preparedTerm: r.preparedTerm,
    ...(r.preparedBy === undefined ? {} : { preparedBy: { clusterId: r.preparedBy.clusterId, incarnation: r.preparedBy.incarnation } }),
    updatedAtMs: r.updatedAtMs,
  };
}

export function decodeRecord(value: unknown, key: string): ParticipantTxRecord {
  if (typeof value !== 'object' || value === null) throw corrupt(key, 'not an object');
  const o = value as Record<string, unknown>;
  if (o['v'] !== RECORD_VERSION) throw corrupt(key, `unknown record version ${String(o['v'])}`);
  const r: ParticipantTxRecord = {
    txId: o['txId'] as string,
    state: o['state'] as ParticipantTxState,
    participant: o['participant'] as string,
    protocol: o['protocol'] as ParticipantProtocol | null,
    payload: o['payload'],
    vote: o['vote'] as 'commit' | 'abort' | null,
    reason: o['reason'] as string | null,
    preparedTerm: o['preparedTerm'] as number | null,
    // Optional: records written before scopes have none and keep the old inquiry rules.
    ...(o['preparedBy'] === undefined ? {} : { preparedBy: o['preparedBy'] as ClusterScope }),
    updatedAtMs: o['updatedAtMs'] as number,
  };
  const problem = recordProblem(r);
  if (problem !== null) throw corrupt(key, problem);
  return r;
}

function recordProblem(r: ParticipantTxRecord): string | null {
  if (typeof r.txId !== 'string' || r.txId.length === 0) return 'txId must be a non-empty string';
  if (!PARTICIPANT_TX_STATES.includes(r.state)) return `unknown state ${String(r.state)}`;
  if (typeof r.participant !== 'string' || r.participant.length === 0) return 'participant must be a non-empty string';
  if (r.protocol !== null && r.protocol !== '2pc' && r.protocol !== '3pc') return `unknown protocol ${String(r.protocol)}`;
  if (r.vote !== null && r.vote !== 'commit' && r.vote !== 'abort') return `unknown vote ${String(r.vote)}`;
  if (r.reason !== null && typeof r.reason !== 'string') return 'reason must be a string or null';
  if (r.preparedTerm !== null && !isTerm(r.preparedTerm)) return 'preparedTerm must be a non-negative integer or null';
  if (r.preparedBy !== undefined && !isClusterScope(r.preparedBy))
    return 'preparedBy must be {clusterId, incarnation} in the formats of the cluster headers';
  if (!Number.isFinite(r.updatedAtMs)) return 'updatedAtMs must be a number';
  return stateProblem(r);
}

/** Invariants that tie the state to the other fields. */
function stateProblem(r: ParticipantTxRecord): string | null {
  // A commit vote is the promise that makes us wait for the coordinator; every
  // state past `prepared` must carry it.
  const needsCommitVote = r.state === 'prepared' || r.state === 'precommitted' || r.state === 'committed';
  if (needsCommitVote && r.vote !== 'commit') return `state ${r.state} requires a commit vote`;
  if (r.state === 'preparing' && r.vote !== null) return 'a preparing record has not voted yet';
  if (isInDoubt(r.state) && (r.protocol === null || r.preparedTerm === null)) return `state ${r.state} requires protocol and preparedTerm`;
  return null;
}

/**
 * The identity of a record. One service may be enlisted under several names in a
 * transaction, so the name is part of the key; the length prefix keeps the
 * encoding unambiguous whatever characters the name holds.
 */
export function recordKey(txId: string, participant: string): string {
  return `${participant.length}:${participant}:${txId}`;
}

function isClusterScope(v: unknown): v is ClusterScope {
  const s = v as { clusterId?: unknown; incarnation?: unknown } | null;
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof s.clusterId === 'string' &&
    CLUSTER_ID_PATTERN.test(s.clusterId) &&
    typeof s.incarnation === 'string' &&
    INCARNATION_PATTERN.test(s.incarnation)
  );
}

export function isTerm(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

function corrupt(key: string, problem: string): RatifyError {
  return new RatifyError('DATA_CORRUPT', `participant record ${key} is damaged: ${problem}`);
}
