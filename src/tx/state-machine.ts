// The coordinator's replicated state machine: applies TxCommands to the table.
//
// apply() is deterministic: it reads only the entry (its index and the stamped
// command), never a clock, a random source or this node's config. A command
// that a race made stale (a second decision, a vote after the decision, an
// enlist after commit was requested) is answered with a result, not thrown,
// so every node rejects it the same way and no node crashes on it.
import type { AppliedEntry, SnapshotEncoding } from '../raft/state-machine.js';
import { assertNever } from '../util/assert-never.js';
import { RatifyError, type ErrorCode } from '../errors.js';
import { canonicalJson } from '../util/canonical-json.js';
import { decodeCommand, type OneShotRecord, type TxCommand, type VoteEntry } from './commands.js';
import type { TxConfig } from './config.js';
import { assertTransition, canTransition, finishedState, isFinished, phase2State } from './transitions.js';
import { ownString } from './finished-tx.js';
import { countByState, oldestUnfinishedCreatedAt, type TableStats } from './table-stats.js';
import { FORCE_FINISH_REASON, planForceFinish } from './force-finish.js';
import { mayAbandon } from './abandon.js';
import { detach, TxTable } from './tx-table.js';
import { steppedEncoding } from './stepped-encoding.js';
import { tableSnapshotSteps } from './table-snapshot.js';
import {
  copyRecord,
  freshParticipant,
  TX_STATES,
  type ApplyResult,
  type ParticipantRecord,
  type TransitionListener,
  type TxListFilter,
  type TxListPage,
  type TxDecisionView,
  type TxRecord,
  type TxStateMachine,
  type TxState,
} from './types.js';

type Cmd<T extends TxCommand['type']> = Extract<TxCommand, { type: T }>;

/** What apply() answers for a completedBatch entry: one result per completion, in the entry's order. */
export type BatchApplyResult = ApplyResult & { readonly ok: true; readonly items: readonly ApplyResult[] };

export function isBatchApplyResult(r: ApplyResult): r is BatchApplyResult {
  return r.ok && Array.isArray((r as { items?: unknown }).items);
}

const ok = (tx: TxRecord | null, existed = false): ApplyResult => ({ ok: true, tx: tx && copyRecord(tx), existed });
const reject = (code: ErrorCode, message: string, tx: TxRecord | null = null): ApplyResult => ({
  ok: false,
  code,
  message,
  tx: tx && copyRecord(tx),
});

export function createTxStateMachine(config: TxConfig): TxStateMachine {
  return new ReplicatedTxStateMachine(config);
}

class ReplicatedTxStateMachine implements TxStateMachine {
  private table = new TxTable();
  /**
   * The table checkSnapshot() decoded last, kept for the restore() of the same
   * bytes that follows it when a follower installs a snapshot from its leader:
   * one decode instead of two (at 100,000 transactions each is about 145 MiB
   * allocated, and the install already holds the old table and the new one).
   * Dropped by the next apply() or restore(), so a check not followed by its
   * restore holds no table for long.
   */
  private checked: { readonly data: Uint8Array; readonly table: TxTable } | null = null;
  private readonly listeners = new Set<(txId: string) => void>();
  private readonly transitionListeners = new Set<TransitionListener>();

  constructor(private readonly config: TxConfig) {}

  apply(entry: AppliedEntry): ApplyResult {
    this.checked = null;
    const cmd = decodeCommand(entry.data);
    // Skipping (rather than throwing) keeps every node alive and identical if a
    // malformed entry ever got into the log; the proposer sees the rejection.
    if (cmd === null) return reject('INTERNAL', `entry ${entry.index} is not a transaction command`);
    const result = this.dispatch(cmd, entry.index, entry.term);
    if ('txId' in cmd) this.notify(cmd.txId);
    else if (cmd.type === 'completedBatch') for (const c of cmd.completions) this.notify(c.txId);
    return result;
  }

  private dispatch(cmd: TxCommand, index: number, term: number): ApplyResult {
    switch (cmd.type) {
      case 'created':
        return this.created(cmd, index);
      case 'enlisted':
        return this.enlisted(cmd);
      case 'commitRequested':
        return this.commitRequested(cmd);
      case 'voteRecorded':
        return this.voteRecorded(cmd);
      case 'precommitted':
        return this.precommitted(cmd);
      case 'decided':
        return cmd.oneShot === undefined ? this.decided(cmd) : this.decidedOneShot(cmd, cmd.oneShot, index, term);
      case 'participantFailing':
        return this.participantFailing(cmd);
      case 'acknowledged':
        return this.acknowledged(cmd);
      case 'completed':
        return this.completed(cmd);
      case 'completedBatch':
        return this.completedBatch(cmd);
      case 'forceFinished':
        return this.forceFinished(cmd);
      case 'gc':
        return this.gc(cmd);
      default:
        return assertNever(cmd);
    }
  }

  private created(cmd: Cmd<'created'>, index: number): ApplyResult {
    const principal = cmd.principal ?? null;
    if (cmd.idempotencyKey !== null) {
      // Two creates with one key can both pass the leader's check; the first applied wins.
      // Keys are per principal: another principal's key is another key.
      const existing = this.table.getByKey(principal, cmd.idempotencyKey);
      if (existing !== undefined) {
        if (existing.requestHash === cmd.requestHash) return ok(existing, true);
        return reject('IDEMPOTENCY_KEY_REUSED', 'the Idempotency-Key was already used for a different request', existing);
      }
    }
    const same = this.lookup(cmd.txId);
    if (same !== null) return ok(same, true);
    const refusal = this.quotaRefusal(cmd);
    if (refusal !== null) return reject('TOO_MANY_PENDING', refusal);
    const names = new Set(cmd.participants.map((p) => p.name));
    if (names.size !== cmd.participants.length) return reject('VALIDATION_FAILED', 'participant names must be unique');
    const tx: TxRecord = {
      id: ownString(cmd.txId),
      seq: index,
      state: cmd.commitRequested ? 'preparing' : 'active',
      protocol: cmd.protocol,
      participants: cmd.participants.map(freshParticipant),
      createdAt: cmd.createdAt,
      deadlineAt: cmd.deadlineAt,
      decision: null,
      decisionReason: null,
      decidedAt: null,
      completedAt: null,
      idempotencyKey: cmd.idempotencyKey === null ? null : ownString(cmd.idempotencyKey),
      requestHash: cmd.requestHash === null ? null : ownString(cmd.requestHash),
      principal: principal === null ? null : ownString(principal),
    };
    this.table.insert(tx);
    return ok(tx);
  }

  private enlisted(cmd: Cmd<'enlisted'>): ApplyResult {
    const tx = this.lookup(cmd.txId);
    if (tx === null) return reject('TX_NOT_FOUND', `transaction ${cmd.txId} not found`);
    // Checked first: once commit is requested the participant list is closed,
    // and an answer of 200 to a late enlist would read as "you are in".
    if (tx.state !== 'active') return reject('TX_NOT_ACTIVE', `transaction ${tx.id} is ${tx.state}, not active`, tx);
    const { participant } = cmd;
    const existing = tx.participants.find((p) => p.name === participant.name);
    if (existing !== undefined) {
      // A retried enlist is fine; a different participant under the same name is not.
      if (existing.url === participant.url && samePayload(existing.payload, participant.payload)) return ok(tx, true);
      return reject('IDEMPOTENCY_KEY_REUSED', enlistConflict(participant.name), tx);
    }
    if (tx.participants.length >= cmd.participantsMax) {
      return reject(
        'TOO_MANY_PARTICIPANTS',
        `participants (${tx.participants.length + 1}) would exceed maxParticipants (${cmd.participantsMax})`,
        tx,
      );
    }
    tx.participants.push({ ...participant, vote: null, acknowledged: false, lastError: null, failingSince: null, abandoned: null });
    return ok(tx);
  }

  private commitRequested(cmd: Cmd<'commitRequested'>): ApplyResult {
    const tx = this.lookup(cmd.txId);
    if (tx === null) return reject('TX_NOT_FOUND', `transaction ${cmd.txId} not found`);
    if (tx.state !== 'active') return ok(tx, true); // already preparing or decided: commit is idempotent
    this.move(tx, 'preparing');
    return ok(tx);
  }

  private voteRecorded(cmd: Cmd<'voteRecorded'>): ApplyResult {
    const tx = this.lookup(cmd.txId);
    if (tx === null) return reject('TX_NOT_FOUND', `transaction ${cmd.txId} not found`);
    // Votes only matter while preparing; a late one (after the decision) changes nothing.
    if (tx.state === 'preparing') this.setVotes(tx, [cmd]);
    return ok(tx);
  }

  private precommitted(cmd: Cmd<'precommitted'>): ApplyResult {
    const tx = this.lookup(cmd.txId);
    if (tx === null) return reject('TX_NOT_FOUND', `transaction ${cmd.txId} not found`);
    if (tx.state === 'precommitted') return ok(tx, true);
    if (tx.protocol !== '3pc' || tx.state !== 'preparing') {
      return reject('TX_NOT_ACTIVE', `transaction ${tx.id} (${tx.protocol}, ${tx.state}) cannot precommit`, tx);
    }
    if (!this.allVoteCommit(tx, cmd.votes))
      return reject('INTERNAL', `precommit of ${tx.id} without a commit vote from every participant`, tx);
    this.setVotes(tx, cmd.votes);
    // The outcome is fixed (commit) from here on: the view shows it with this time.
    if (cmd.precommittedAt !== undefined) tx.decidedAt = cmd.precommittedAt;
    this.move(tx, 'precommitted');
    return ok(tx);
  }

  private decided(cmd: Cmd<'decided'>): ApplyResult {
    const tx = this.lookup(cmd.txId);
    if (tx === null) return reject('TX_NOT_FOUND', `transaction ${cmd.txId} not found`);
    if (tx.decision !== null) return ok(tx, true); // the first decision applied wins
    // The 3PC invariant (transitions.ts): an abort entry that lost the race with
    // precommitted (a client abort, a deadline abort proposed from a stale
    // view, an old leader's entry) is refused here, the same way on every node.
    if (tx.state === 'precommitted' && cmd.decision === 'abort') {
      return reject('TX_PRECOMMITTED', precommittedRefusal(tx.id), tx);
    }
    const next = phase2State(cmd.decision);
    if (!canTransition(tx.state, next)) {
      return reject('TX_NOT_ACTIVE', `transaction ${tx.id} is ${tx.state} and cannot be decided ${cmd.decision}`, tx);
    }
    if (cmd.decision === 'commit') {
      if (tx.protocol === '3pc' && tx.state !== 'precommitted')
        return reject('INTERNAL', `3PC transaction ${tx.id} decided commit before precommit`, tx);
      if (tx.protocol === '2pc' && !this.allVoteCommit(tx, cmd.votes))
        return reject('INTERNAL', `commit of ${tx.id} without a commit vote from every participant`, tx);
    }
    // Prepare is sent only once `preparing` is applied, so no participant of a
    // transaction aborted while active has heard of it: there is nobody to tell.
    if (tx.state === 'active') for (const p of tx.participants) p.acknowledged = true;
    for (const p of tx.participants) {
      // Phase 2 is a new series of calls: failures of the precommit phase no longer say how long it has been failing.
      p.failingSince = null;
      // Prepare is over for good (a decided transaction is never prepared again): its payload is dead weight.
      p.payload = null;
    }
    this.setVotes(tx, cmd.votes);
    tx.decision = cmd.decision;
    tx.decisionReason = cmd.reason;
    // A precommitted transaction's outcome was fixed when precommitted applied; that time stays.
    tx.decidedAt ??= cmd.decidedAt;
    this.move(tx, next);
    return ok(tx);
  }

  /**
   * A one-shot transaction's first and deciding entry (src/tx/one-shot.ts): it
   * adds the record already decided. Refused, the same way on every node:
   * - from another term than the prepare's: a newer leader may already have
   *   told a participant "unknown", which then aborted (README "Participant
   *   protocol"); the leader drops such transactions when its term ends, and
   *   this makes a late or replayed entry harmless all the same;
   * - with an idempotency key another transaction holds: at most one
   *   transaction per key, so a retry that started anew beside a first attempt
   *   whose entry landed after all never commits too. The proposer then
   *   records its own attempt aborted, without the key.
   * No quota check: the participants are prepared already, and a refusal would
   * leave them waiting for a newer term. The leader counted its in-memory
   * one-shot transactions against the quotas before it sent prepare.
   */
  private decidedOneShot(cmd: Cmd<'decided'>, rec: OneShotRecord, index: number, term: number): ApplyResult {
    if (term !== rec.preparedTerm) {
      return reject(
        'LEADERSHIP_LOST',
        `one-shot transaction ${cmd.txId} was prepared in term ${rec.preparedTerm}; its decision cannot be recorded in term ${term}`,
      );
    }
    const same = this.lookup(cmd.txId);
    if (same !== null) return ok(same, true);
    if (rec.idempotencyKey !== null) {
      const holder = this.table.getByKey(rec.principal, rec.idempotencyKey);
      if (holder !== undefined) return reject('IDEMPOTENCY_KEY_REUSED', `the Idempotency-Key is held by transaction ${holder.id}`, holder);
    }
    if (new Set(rec.participants.map((p) => p.name)).size !== rec.participants.length)
      return reject('VALIDATION_FAILED', 'participant names must be unique');
    const participants: ParticipantRecord[] = rec.participants.map((p) => freshParticipant({ ...p, payload: null }));
    if (cmd.decision === 'commit') {
      if (rec.protocol === '3pc') return reject('INTERNAL', `3PC transaction ${cmd.txId} decided commit before precommit`);
      if (!participants.every((p) => cmd.votes.some((v) => v.participant === p.name && v.vote === 'commit')))
        return reject('INTERNAL', `commit of ${cmd.txId} without a commit vote from every participant`);
    }
    const tx: TxRecord = {
      id: ownString(cmd.txId),
      seq: index,
      state: 'preparing',
      protocol: rec.protocol,
      participants,
      createdAt: rec.createdAt,
      deadlineAt: rec.deadlineAt,
      decision: null,
      decisionReason: null,
      decidedAt: null,
      completedAt: null,
      idempotencyKey: rec.idempotencyKey === null ? null : ownString(rec.idempotencyKey),
      requestHash: rec.requestHash === null ? null : ownString(rec.requestHash),
      principal: rec.principal === null ? null : ownString(rec.principal),
    };
    this.table.insert(tx);
    // The rest is decided()'s, from the state the created entry would have left: preparing.
    return this.decided(cmd);
  }

  private participantFailing(cmd: Cmd<'participantFailing'>): ApplyResult {
    const tx = this.lookup(cmd.txId);
    if (tx === null) return reject('TX_NOT_FOUND', `transaction ${cmd.txId} not found`);
    const p = tx.participants.find((x) => x.name === cmd.participant);
    if (p !== undefined && !p.acknowledged && !isFinished(tx.state)) {
      p.lastError = cmd.error;
      // A new leader starts its own count; the run began when the first leader saw it begin.
      p.failingSince = p.failingSince === null ? cmd.failingSince : Math.min(p.failingSince, cmd.failingSince);
    }
    return ok(tx);
  }

  private acknowledged(cmd: Cmd<'acknowledged'>): ApplyResult {
    const tx = this.lookup(cmd.txId);
    if (tx === null) return reject('TX_NOT_FOUND', `transaction ${cmd.txId} not found`);
    if (tx.state !== 'committing' && tx.state !== 'aborting') return ok(tx, true);
    const p = tx.participants.find((x) => x.name === cmd.participant);
    if (p === undefined) return reject('INTERNAL', `transaction ${tx.id} has no participant ${cmd.participant}`, tx);
    p.acknowledged = true;
    p.lastError = null;
    p.failingSince = null;
    return ok(tx);
  }

  /** Each completion as its own entry would apply (a refused one changes nothing, the others still apply); `items` in order. */
  private completedBatch(cmd: Cmd<'completedBatch'>): BatchApplyResult {
    return { ok: true, tx: null, items: cmd.completions.map((c) => this.completed(c)) };
  }

  private completed(cmd: Cmd<'completed'>): ApplyResult {
    const tx = this.lookup(cmd.txId);
    if (tx === null) return reject('TX_NOT_FOUND', `transaction ${cmd.txId} not found`);
    if (isFinished(tx.state)) return ok(tx, true);
    const named = cmd.acknowledged ?? [];
    const abandoned = cmd.abandoned ?? [];
    const stranger = [...named, ...abandoned].find((name) => !tx.participants.some((p) => p.name === name));
    if (stranger !== undefined) return reject('INTERNAL', `transaction ${tx.id} has no participant ${stranger}`, tx);
    // Checked before anything changes, so a refused entry leaves the record as it was.
    if (tx.decision === null || !tx.participants.every((p) => p.acknowledged || named.includes(p.name) || abandoned.includes(p.name))) {
      return reject('INTERNAL', `transaction ${tx.id} cannot complete before every participant acknowledged the decision`, tx);
    }
    // Presumed abort only: a participant that voted commit holds locks and hears the decision until it acknowledges (abandon.ts).
    const refused = tx.participants.find((p) => abandoned.includes(p.name) && !mayAbandon(tx, p));
    if (refused !== undefined)
      return reject(
        'INTERNAL',
        `transaction ${tx.id} cannot abandon participant ${refused.name}: ${tx.decision} decided, vote ${String(refused.vote)}`,
        tx,
      );
    for (const p of tx.participants) {
      if (named.includes(p.name)) {
        p.acknowledged = true;
        p.lastError = null;
        p.failingSince = null;
      } else if (abandoned.includes(p.name)) {
        // lastError stays: the view says what the last delivery met.
        p.abandoned = 'presumed-abort';
        p.failingSince = null;
      }
    }
    this.finish(tx, finishedState(tx.decision), cmd.completedAt);
    return ok(tx);
  }

  private forceFinished(cmd: Cmd<'forceFinished'>): ApplyResult {
    const tx = this.lookup(cmd.txId);
    if (tx === null) return reject('TX_NOT_FOUND', `transaction ${cmd.txId} not found`);
    const plan = planForceFinish(tx, cmd.outcome);
    switch (plan.kind) {
      case 'done':
        return ok(tx, true);
      case 'conflict':
        return reject('OUTCOME_CONFLICT', plan.message, tx);
      case 'finish':
        break;
      default:
        return assertNever(plan);
    }
    if (tx.decision === null) {
      // Open (active, preparing): decided abort first. Precommitted: the outcome was fixed as commit there.
      const decision = plan.outcome === 'committed' ? 'commit' : 'abort';
      tx.decision = decision;
      tx.decisionReason =
        decision === 'abort' ? FORCE_FINISH_REASON : 'force-finished by an operator while precommitted (3PC: the outcome was commit)';
      tx.decidedAt ??= cmd.at;
      // Nobody heard prepare of a transaction still active: nobody to abandon (as in decided()).
      if (tx.state === 'active') for (const p of tx.participants) p.acknowledged = true;
      this.move(tx, phase2State(decision));
    }
    for (const p of tx.participants) {
      p.payload = null;
      p.failingSince = null;
      if (!p.acknowledged) p.abandoned = 'force-finish';
    }
    this.finish(tx, plan.outcome === 'committed' ? 'committed' : 'aborted', cmd.at);
    return ok(tx);
  }

  private finish(tx: TxRecord, state: TxRecord['state'], completedAt: number): void {
    this.move(tx, state);
    tx.completedAt = completedAt;
    this.table.markFinished(tx);
  }

  /** Why a create is refused by the quotas, or null. */
  private quotaRefusal(cmd: Cmd<'created'>): string | null {
    const { unfinished, finishing } = this.table;
    // An entry from before maxStuckTransactions: the old rule, so replaying an old log gives the same table.
    if (cmd.stuckMax === undefined) {
      return unfinished.size >= cmd.activeMax
        ? `active transactions (${unfinished.size}) reached maxActiveTransactions (${cmd.activeMax})`
        : null;
    }
    const undecided = unfinished.size - finishing.size;
    if (undecided >= cmd.activeMax)
      return `active transactions (${undecided}, not yet decided) reached maxActiveTransactions (${cmd.activeMax})`;
    if (finishing.size >= cmd.stuckMax) {
      return `decided but unfinished transactions (${finishing.size}) reached maxStuckTransactions (${cmd.stuckMax}); see GET /v1/admin/stuck-transactions`;
    }
    return null;
  }

  private gc(cmd: Cmd<'gc'>): ApplyResult {
    const removed: string[] = [];
    // Completion order approximates time order (leaders' clocks may differ a
    // little), so stop at the first one still inside the retention window.
    for (const id of this.table.finishedIds()) {
      if (this.table.completedAt(id) + cmd.retainFinishedMs > cmd.now) break;
      removed.push(id);
    }
    // Then by count: the oldest beyond retainFinishedMax (collected first, then removed).
    let excess = this.table.finishedCount - removed.length - cmd.retainFinishedMax;
    if (excess > 0) {
      let skip = removed.length;
      for (const id of this.table.finishedIds()) {
        if (skip > 0) {
          skip--;
          continue;
        }
        if (excess-- === 0) break;
        removed.push(id);
      }
    }
    for (const id of removed) this.table.remove(id);
    for (const id of removed) this.notify(id);
    return ok(null);
  }

  // ---- helpers -----------------------------------------------------------

  private lookup(id: string | undefined): TxRecord | null {
    return id === undefined ? null : (this.table.get(id) ?? null);
  }

  private move(tx: TxRecord, to: TxRecord['state']): void {
    assertTransition(tx.state, to);
    const from = tx.state;
    tx.state = to;
    this.table.noteState(tx);
    for (const listener of this.transitionListeners) {
      try {
        listener(tx, from);
      } catch {
        // A metric's bug must never break apply().
      }
    }
  }

  private setVotes(tx: TxRecord, votes: readonly VoteEntry[]): void {
    for (const v of votes) {
      const p = tx.participants.find((x) => x.name === v.participant);
      if (p === undefined) continue;
      p.vote = v.vote;
      if (v.error !== null) p.lastError = v.error;
    }
  }

  private allVoteCommit(tx: TxRecord, votes: readonly VoteEntry[]): boolean {
    return tx.participants.every((p) => votes.some((v) => v.participant === p.name && v.vote === 'commit'));
  }

  private notify(txId: string): void {
    for (const listener of this.listeners) {
      try {
        listener(txId);
      } catch {
        // A waiter's bug must never break apply().
      }
    }
  }

  // ---- StateMachine ------------------------------------------------------

  snapshot(): Uint8Array {
    return this.table.encode();
  }

  /** The same bytes as snapshot() now, encoded later in slices (tableSnapshotSteps) from a capture of the table. */
  captureSnapshot(): SnapshotEncoding {
    const capture = this.table.capture();
    return steppedEncoding((w) => tableSnapshotSteps(capture, w), 'utf8');
  }

  restore(data: Uint8Array): void {
    const prev = this.table;
    const next = this.takeChecked(data) ?? decodedTable(data); // throws DATA_CORRUPT, leaving the current table in place
    this.table = next;
    // Waiters on transactions that changed or vanished must hear about it: every id of
    // either table, once. Read from the two tables rather than gathered into an array
    // and a Set: at 100,000 transactions those were about 7 MiB of large objects at once,
    // on top of both tables, on a node that installs a snapshot after a restart.
    for (const id of prev.ids()) this.notify(id);
    for (const id of next.ids()) if (!prev.has(id)) this.notify(id);
  }

  checkSnapshot(data: Uint8Array): string | null {
    this.checked = null;
    try {
      this.checked = { data, table: decodedTable(data) };
      return null;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  }

  /** The table checkSnapshot() decoded from exactly these bytes, if it was the last one; it is handed out once. */
  private takeChecked(data: Uint8Array): TxTable | null {
    const c = this.checked;
    this.checked = null;
    if (c === null || c.data.byteLength !== data.byteLength) return null;
    // Compared by content, not by reference: a copy of the same bytes decodes to the same table.
    return Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength).equals(data) ? c.table : null;
  }

  // ---- reads -------------------------------------------------------------

  get(id: string): TxRecord | null {
    return this.table.detached(id) ?? null;
  }

  stateOf(id: string): TxState | null {
    return this.table.stateOf(id) ?? null;
  }

  decisionOf(id: string): TxDecisionView | null {
    return this.table.row(id) ?? null;
  }

  findByIdempotencyKey(key: string, principal: string | null): TxRecord | null {
    return this.table.detachedByKey(principal, key) ?? null;
  }

  inFlight(): TxRecord[] {
    const out: TxRecord[] = [];
    for (const id of this.table.unfinished) {
      const tx = this.table.detached(id);
      if (tx !== undefined) out.push(tx);
    }
    return out;
  }

  activeCount(): number {
    return this.table.unfinished.size;
  }

  undecidedCount(): number {
    return this.table.unfinished.size - this.table.finishing.size;
  }

  finishingCount(): number {
    return this.table.finishing.size;
  }

  failingParticipantCount(): number {
    // Linear in the unfinished transactions; read on a metrics scrape, not per entry.
    let count = 0;
    for (const id of this.table.unfinished) {
      for (const p of this.table.get(id)?.participants ?? []) if (p.failingSince !== null && !p.acknowledged) count++;
    }
    return count;
  }

  inFlightBrief(): Array<{ id: string; state: TxRecord['state']; deadlineAt: number }> {
    const out: Array<{ id: string; state: TxRecord['state']; deadlineAt: number }> = [];
    for (const id of this.table.unfinished) {
      const tx = this.table.get(id);
      if (tx !== undefined) out.push({ id, state: tx.state, deadlineAt: tx.deadlineAt });
    }
    return out;
  }

  retentionStats(): { finishedCount: number; oldestCompletedAt: number | null } {
    return { finishedCount: this.table.finishedCount, oldestCompletedAt: this.table.oldestCompletedAt() };
  }

  list(filter: TxListFilter): TxListPage {
    const limit = Math.min(Math.max(filter.limit ?? this.config.listLimitDefault, 1), this.config.listLimitMax);
    const after = filter.cursor === undefined ? 0 : decodeCursor(filter.cursor);
    if (filter.state !== undefined && !TX_STATES.includes(filter.state)) return { transactions: [], nextCursor: null };
    const transactions: TxRecord[] = [];
    // Linear in the table; bounded by retainFinishedMax + maxActiveTransactions.
    for (const row of this.table.scan()) {
      if (row.seq <= after || (filter.state !== undefined && row.state !== filter.state)) continue;
      if (filter.principal !== undefined && row.principal !== filter.principal) continue;
      if (transactions.length === limit) {
        return { transactions, nextCursor: encodeCursor(transactions[transactions.length - 1]?.seq ?? after) };
      }
      transactions.push(detach(row));
    }
    return { transactions, nextCursor: null };
  }

  onChange(listener: (txId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onTransition(listener: TransitionListener): () => void {
    this.transitionListeners.add(listener);
    return () => this.transitionListeners.delete(listener);
  }

  stats(): TableStats {
    return { byState: () => countByState(this.table), oldestUnfinishedCreatedAt: () => oldestUnfinishedCreatedAt(this.table) };
  }
}

/** Why an abort of a precommitted transaction is refused (apply() and the abort route say the same). */
export function precommittedRefusal(txId: string): string {
  return `transaction ${txId} is precommitted (3PC): its outcome can only be commit`;
}

/**
 * Same name, different url or payload. IDEMPOTENCY_KEY_REUSED (409) is the
 * closest documented code: within a transaction the participant name is the
 * enlist's idempotency key (the same body again is a harmless replay), so a
 * different body under it is exactly a key reused for a different request.
 * VALIDATION_FAILED (400) would say the request itself is malformed, which it is not.
 */
export function enlistConflict(name: string): string {
  return `participant ${name} is already enlisted with a different url or payload (the name identifies an enlist; use another name)`;
}

/**
 * Equal as JSON values: key order does not count (canonical JSON). Replaying an
 * older log gives the same table: an entry this refused before (reordered keys)
 * and now accepts as a replay changes nothing either way.
 */
export function samePayload(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

// Cursors are the Raft index of the last listed created entry: stable across
// nodes and across snapshots. Opaque to clients.
export function encodeCursor(seq: number): string {
  return Buffer.from(`s${seq}`).toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString();
  const match = /^s(\d{1,15})$/.exec(text);
  if (match?.[1] === undefined) throw new RatifyError('VALIDATION_FAILED', 'cursor is not one this API returned');
  return Number(match[1]);
}

/** A table decoded from snapshot bytes; throws DATA_CORRUPT if they are not one. */
function decodedTable(data: Uint8Array): TxTable {
  const table = new TxTable();
  table.decodeInto(data);
  return table;
}
