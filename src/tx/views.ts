// Table record -> the API's transaction view (issue 3's shape, nothing more:
// payloads, idempotency keys and deadlines stay inside).
import { fixedOutcome } from './transitions.js';
import type { ParticipantView, TxRecord, TxView } from './types.js';

const iso = (ms: number): string => new Date(ms).toISOString();

export function toView(tx: TxRecord): TxView {
  const view: TxView = {
    id: tx.id,
    state: tx.state,
    outcome: fixedOutcome(tx),
    protocol: tx.protocol,
    participants: tx.participants.map((p) => {
      const pv: ParticipantView = { name: p.name, url: p.url, vote: p.vote, acknowledged: p.acknowledged };
      if (p.lastError !== null) pv.lastError = p.lastError;
      if (p.failingSince !== null) pv.failingSince = iso(p.failingSince);
      if (p.abandoned !== null) pv.abandoned = p.abandoned;
      return pv;
    }),
    createdAt: iso(tx.createdAt),
  };
  if (tx.decidedAt !== null) view.decidedAt = iso(tx.decidedAt);
  if (tx.completedAt !== null) view.completedAt = iso(tx.completedAt);
  return view;
}
