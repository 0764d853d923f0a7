// The compact form of a finished transaction gives back exactly the record it
// was made from (payloads aside, which it never keeps): createdAt stored as an
// offset or whole, the client fields folded into one or absent, the decision,
// protocol and times.
import { describe, expect, it } from 'vitest';
import { compactFinished, createFinishedInterners } from '../../src/tx/finished-tx.js';
import type { TxRecord } from '../../src/tx/types.js';

function finished(over: Partial<TxRecord> = {}): TxRecord {
  const createdAt = over.createdAt ?? 1_780_000_000_000;
  return {
    id: 'tx-1',
    seq: 7,
    state: 'committed',
    protocol: '2pc',
    participants: [
      {
        name: 'a',
        url: 'http://127.0.0.1:1/a',
        payload: null,
        vote: 'commit',
        acknowledged: true,
        lastError: null,
        failingSince: null,
        abandoned: null,
      },
    ],
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

describe('compactFinished', () => {
  const intern = createFinishedInterners(16, 16);
  const roundTrip = (tx: TxRecord): TxRecord => {
    const row = compactFinished(tx, intern);
    expect(row).not.toBeNull();
    return row!.toRecord();
  };

  it('gives back the record, createdAt near or far from the first one compacted', () => {
    const first = finished();
    expect(roundTrip(first)).toEqual(first);
    for (const createdAt of [first.createdAt + 1, first.createdAt - 86_400_000, first.createdAt + 90 * 86_400_000, 12.5, 0, -3]) {
      const tx = finished({ id: `tx-${createdAt}`, createdAt });
      expect(roundTrip(tx)).toEqual(tx);
    }
  });

  it('gives back the client fields, any of them set', () => {
    for (const over of [
      { idempotencyKey: 'k-1', requestHash: 'h'.repeat(64), principal: 'alice' },
      { idempotencyKey: null, requestHash: null, principal: 'bob' },
      { idempotencyKey: 'k-2', requestHash: null, principal: null },
    ]) {
      const tx = finished(over);
      const row = compactFinished(tx, intern)!;
      expect([row.idempotencyKey, row.requestHash, row.principal]).toEqual([over.idempotencyKey, over.requestHash, over.principal]);
      expect(row.toRecord()).toEqual(tx);
    }
  });

  it('gives back an abort, 3PC and a decision reason', () => {
    const tx = finished({ state: 'aborted', decision: 'abort', protocol: '3pc', decisionReason: 'participant a voted abort' });
    const row = compactFinished(tx, intern)!;
    expect([row.state, row.decision, row.protocol, row.createdAt]).toEqual(['aborted', 'abort', '3pc', tx.createdAt]);
    expect(row.toRecord()).toEqual(tx);
  });
});
