// Table record -> the API's transaction view (README, "The transaction view"), with what
// explains a stuck transaction: the deadline, the decision's reason, and the leader's
// attempts per participant. Payloads, idempotency keys and principals stay inside.
import { decisionReason } from './decision-reason.js';
import type { ParticipantAttempt } from './participant-attempts.js';
import { fixedOutcome } from './transitions.js';
import type { ParticipantView, TxRecord, TxView } from './types.js';

const iso = (ms: number): string => new Date(ms).toISOString();
const NO_ATTEMPTS: ReadonlyMap<string, ParticipantAttempt> = new Map();

/** `attempts`: the leader's own calls (participant-attempts.ts); other nodes pass none. */
export function toView(tx: TxRecord, attempts: ReadonlyMap<string, ParticipantAttempt> = NO_ATTEMPTS): TxView {
  const view: TxView = {
    id: tx.id,
    state: tx.state,
    outcome: fixedOutcome(tx),
    protocol: tx.protocol,
    participants: tx.participants.map((p) => participantView(p, attempts.get(p.name))),
    createdAt: iso(tx.createdAt),
    deadlineAt: iso(tx.deadlineAt),
  };
  if (tx.decidedAt !== null) view.decidedAt = iso(tx.decidedAt);
  if (tx.completedAt !== null) view.completedAt = iso(tx.completedAt);
  if (tx.decision !== null && tx.decisionReason !== null) {
    view.decisionReason = decisionReason(
      tx.decisionReason,
      tx.participants.map((p) => p.name),
    );
  }
  return view;
}

function participantView(p: TxRecord['participants'][number], attempt: ParticipantAttempt | undefined): ParticipantView {
  const pv: ParticipantView = { name: p.name, url: p.url, vote: p.vote, acknowledged: p.acknowledged };
  if (p.lastError !== null) pv.lastError = p.lastError;
  if (p.failingSince !== null) pv.failingSince = iso(p.failingSince);
  if (p.abandoned !== null) pv.abandoned = p.abandoned;
  // Calls to a participant that has acknowledged are over: its attempts explain nothing any more.
  if (attempt !== undefined && !p.acknowledged) {
    pv.call = attempt.call;
    pv.attempts = attempt.attempts;
    pv.lastAttemptAt = iso(attempt.lastAttemptAt);
    if (attempt.nextRetryAt !== null) pv.nextRetryAt = iso(attempt.nextRetryAt);
  }
  return pv;
}
