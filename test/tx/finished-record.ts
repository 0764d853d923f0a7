// A finished transaction record as the store compacts it (committed, one acknowledged
// participant, no client fields), for the store's and its indexes' tests.
import { freshParticipant, type TxRecord } from '../../src/tx/types.js';

export function finishedRecord(over: Partial<TxRecord> = {}): TxRecord {
  const createdAt = over.createdAt ?? 1_780_000_000_000;
  return {
    id: 'tx-1',
    seq: 7,
    state: 'committed',
    protocol: '2pc',
    participants: [{ ...freshParticipant({ name: 'a', url: 'http://127.0.0.1:1/a', payload: null }), vote: 'commit', acknowledged: true }],
    createdAt,
    deadlineAt: createdAt + 30_000,
    decision: 'commit',
    decisionReason: null,
    decidedAt: createdAt + 5,
    completedAt: createdAt + 9,
    idempotencyKey: null,
    requestHash: null,
    principal: null,
    ...over,
  };
}
