// A one-shot transaction (`commit: true`, 2PC) in one consensus round: the
// leader keeps the transaction in memory, sends prepare at once, and proposes
// one decided entry that carries the whole record (commands.ts OneShotRecord).
// An interactive transaction, and a 3PC one, still starts with a created entry.
//
// Why no created entry is needed (README "Participant protocol"):
// - Presumed abort: a transaction the log never recorded is aborted. A
//   participant prepared by it asks the cluster (cooperative termination,
//   src/sdk/participant/inquiry.ts) and aborts only on a 404 read behind the
//   read barrier of a leader whose term is newer than its prepare's. That
//   leader has committed an entry of its own term, so an entry of an older term
//   that it has not applied will never commit.
// - The decided entry can therefore only count in the term the prepare was
//   sent in: apply() refuses it in any other (state-machine.ts), and the driver
//   drops its in-memory one-shot transactions the moment its term ends.
// - While the leader still holds the transaction, it answers an inquiry with
//   the in-memory record (`preparing`: ask again), never 404.
// - The idempotency key: the leader looks it up only once its term's first
//   entry is applied (the driver leads only from then on), so an older term's
//   decided entry for the key that will ever commit is already in the table; a
//   retry on the same leader joins the attempt in memory; and apply() refuses a
//   second decided entry for a key, whose proposer then records its own attempt
//   aborted without the key. One key never commits twice.
//
// These are the pure parts, which the model checker (test/model/) calls;
// one-shot-run.ts does the I/O.
import type { TxCommand } from './commands.js';
import type { Decide } from './protocol-rules.js';
import { freshParticipant, type ParticipantSpec, type Protocol, type TxRecord } from './types.js';

/** What the client asked for, stamped by the leader. */
export interface OneShotSpec {
  readonly txId: string;
  readonly participants: readonly ParticipantSpec[];
  readonly protocol: Protocol;
  readonly createdAt: number;
  readonly deadlineAt: number;
  readonly idempotencyKey: string | null;
  readonly requestHash: string | null;
  readonly principal: string | null;
}

/** Why a one-shot attempt was recorded aborted without its key: another transaction holds the key. */
export function keyTakenReason(holderId: string): string {
  return `the Idempotency-Key was taken by transaction ${holderId} (an earlier attempt of the same request) while this attempt prepared`;
}

/** The record the leader prepares from while it holds the transaction in memory: `preparing`, as a created entry would leave it. */
export function oneShotRecord(spec: OneShotSpec): TxRecord {
  return {
    id: spec.txId,
    // Not in the log (yet): list cursors never see it.
    seq: 0,
    state: 'preparing',
    protocol: spec.protocol,
    participants: spec.participants.map(freshParticipant),
    createdAt: spec.createdAt,
    deadlineAt: spec.deadlineAt,
    decision: null,
    decisionReason: null,
    decidedAt: null,
    completedAt: null,
    idempotencyKey: spec.idempotencyKey,
    requestHash: spec.requestHash,
    principal: spec.principal,
  };
}

/** The one entry that records the one-shot transaction `tx`, decided `d`, prepared in `preparedTerm`. */
export function oneShotCommand(tx: TxRecord, d: Decide, nowMs: number, preparedTerm: number): TxCommand & { type: 'decided' } {
  return {
    type: 'decided',
    txId: tx.id,
    decision: d.decision,
    votes: d.votes,
    decidedAt: nowMs,
    reason: d.reason,
    oneShot: {
      participants: tx.participants.map((p) => ({ name: p.name, url: p.url })),
      protocol: tx.protocol,
      createdAt: tx.createdAt,
      deadlineAt: tx.deadlineAt,
      idempotencyKey: tx.idempotencyKey,
      requestHash: tx.requestHash,
      principal: tx.principal,
      preparedTerm,
    },
  };
}

/**
 * `cmd` refused because `holderId` holds its key: the same attempt recorded
 * aborted and without the key, so its prepared participants hear abort.
 */
export function keylessAbortCommand(cmd: TxCommand & { type: 'decided' }, holderId: string, nowMs: number): TxCommand {
  if (cmd.oneShot === undefined) throw new Error(`decided entry of ${cmd.txId} is not a one-shot entry`);
  return {
    ...cmd,
    decision: 'abort',
    decidedAt: nowMs,
    reason: keyTakenReason(holderId),
    oneShot: { ...cmd.oneShot, idempotencyKey: null, requestHash: null },
  };
}
