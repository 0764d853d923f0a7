// The records the baseline writes: for each transaction, its record (as Ratify's
// "created" entry holds it) and then its decision. Ratify's raw-write phase
// writes the same bytes, so both systems replicate the same payload sizes.

export interface TxRecords {
  readonly recordKey: string;
  readonly record: string;
  readonly decisionKey: string;
  readonly decision: string;
}

export function txRecords(txId: string, participantUrls: readonly string[], nowMs: number): TxRecords {
  const record = JSON.stringify({
    id: txId,
    protocol: '2pc',
    state: 'preparing',
    participants: participantUrls.map((url, i) => ({ name: `p${i + 1}`, url })),
    createdAt: nowMs,
    deadlineAt: nowMs + 30_000,
  });
  const votes = Object.fromEntries(participantUrls.map((_, i) => [`p${i + 1}`, 'commit']));
  const decision = JSON.stringify({ id: txId, outcome: 'committed', votes, decidedAt: nowMs });
  return { recordKey: `bench/tx/${txId}`, record, decisionKey: `bench/decision/${txId}`, decision };
}

/** A transaction id unique within one run: phase, worker, sequence. */
export function benchTxId(phase: string, worker: number, seq: number): string {
  return `${phase}-w${worker}-${seq}`;
}
