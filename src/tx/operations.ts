// What each API call does, free of HTTP. Writes run on the leader (routes
// forward them there); reads run anywhere behind a ReadIndex barrier.
//
// Checks made here before proposing save log entries; apply() repeats the ones
// a race can defeat (idempotency key, participant limit, state), so they hold
// even when two requests pass the check at once.
import { createHash, randomUUID } from 'node:crypto';
import { RatifyError } from '../errors.js';
import type { ReplicatedLog } from '../node/replicated-log.js';
import { canonicalJson } from '../util/canonical-json.js';
import type { TxCommand } from './commands.js';
import type { TxConfig } from './config.js';
import type { TxDriver } from './driver.js';
import { proposeTx, unwrap } from './proposer.js';
import { enlistConflict, precommittedRefusal, samePayload } from './state-machine.js';
import type { ParticipantUrlPolicy } from './participant-url-policy.js';
import { fixedOutcome } from './transitions.js';
import type { ParticipantSpec, Protocol, TxListFilter, TxListPage, TxRecord, TxStateMachine } from './types.js';
import type { TxMetrics } from './metrics.js';
import type { OneShotResult } from './one-shot-run.js';
import type { TxWaiters } from './waiters.js';

export interface ParticipantInput {
  readonly name: string;
  readonly url: string;
  readonly payload?: unknown;
}

export interface CreateInput {
  readonly participants?: readonly ParticipantInput[];
  readonly protocol?: Protocol;
  readonly timeoutMs?: number;
  readonly commit?: boolean;
}

/** Who asks, as the routes authenticated it (src/http/client-auth.ts). */
export interface Caller {
  /** The token's principal; null while the client API has no tokens. */
  readonly principal: string | null;
  /**
   * ownTransactionsOnly for a client-role principal: another principal's
   * transaction does not exist for it (TX_NOT_FOUND, not 403: its id and
   * existence are not this caller's business).
   */
  readonly ownOnly: boolean;
}

/** A caller of an API without tokens. */
export const ANONYMOUS: Caller = { principal: null, ownOnly: false };

export interface OperationsDeps {
  readonly log: ReplicatedLog;
  readonly sm: TxStateMachine;
  readonly config: TxConfig;
  readonly driver: TxDriver;
  readonly waiters: TxWaiters;
  readonly metrics: TxMetrics;
  readonly now: () => number;
  readonly newId?: () => string;
  /** Refuses participant URLs before they reach the log (participant-url-policy.ts). */
  readonly urlPolicy: ParticipantUrlPolicy;
}

const notFound = (id: string): RatifyError => new RatifyError('TX_NOT_FOUND', `transaction ${id} not found`);

export class TxOperations {
  constructor(private readonly deps: OperationsDeps) {}

  /** 201 with the active transaction, or 200 once the decision is durable when `commit` is set. */
  async create(input: CreateInput, idempotencyKey: string | null, caller: Caller): Promise<{ status: 200 | 201; tx: TxRecord }> {
    const { config, sm, now } = this.deps;
    const participants = (input.participants ?? []).map((p) => this.checkParticipant(p));
    this.checkCount(participants.length);
    for (const p of participants) await this.deps.urlPolicy.checkAtEnlist(p.url, p.name);
    if (new Set(participants.map((p) => p.name)).size !== participants.length) {
      throw new RatifyError('VALIDATION_FAILED', 'participant names must be unique within a transaction');
    }
    const commit = input.commit === true;
    const requestHash = idempotencyKey === null ? null : hashRequest(input, participants);
    const replay = idempotencyKey === null ? null : sm.findByIdempotencyKey(idempotencyKey, caller.principal);
    if (replay !== null) return this.afterCreate(checkReplay(replay, requestHash), commit, caller);
    // A retry while the first attempt is still in this leader's memory joins it.
    const joined = idempotencyKey === null ? null : this.deps.driver.oneShotByKey(idempotencyKey, caller.principal);
    if (joined !== null) return this.afterOneShot(await checkReplayOf(joined.tx, requestHash, joined.done), requestHash, caller);
    this.checkQuotas();
    const createdAt = now();
    const protocol = input.protocol ?? '2pc';
    const txId = this.deps.newId?.() ?? randomUUID();
    const deadlineAt = createdAt + (input.timeoutMs ?? config.defaultTimeoutMs);
    // One consensus round (one-shot.ts); 3PC keeps its created entry, and so does a node not (yet) leading.
    if (commit && protocol === '2pc') {
      const spec = { txId, participants, protocol, createdAt, deadlineAt, idempotencyKey, requestHash, principal: caller.principal };
      const flight = this.deps.driver.startOneShot(spec);
      if (flight !== null) return this.afterOneShot(await flight.done, requestHash, caller);
    }
    const result = unwrap(
      await this.propose({
        type: 'created',
        txId,
        participants,
        protocol,
        createdAt,
        deadlineAt,
        idempotencyKey,
        requestHash,
        commitRequested: commit,
        activeMax: config.maxActiveTransactions,
        stuckMax: config.maxStuckTransactions,
        principal: caller.principal,
      }),
    );
    if (result.tx === null) throw new RatifyError('INTERNAL', 'created entry applied without a transaction');
    return this.afterCreate(result.tx, commit, caller);
  }

  /** Refuses a create past the quotas; the one-shot transactions in this leader's memory are undecided too. apply() repeats the checks for created entries (quotaRefusal). */
  private checkQuotas(): void {
    const { config, sm, driver } = this.deps;
    const undecided = sm.undecidedCount() + driver.oneShotCount();
    if (undecided >= config.maxActiveTransactions) {
      throw new RatifyError(
        'TOO_MANY_PENDING',
        `active transactions (${undecided}, not yet decided) reached maxActiveTransactions (${config.maxActiveTransactions})`,
      );
    }
    // A one-shot transaction's decided entry is not refused at apply (its participants are prepared), so the ones in memory count here as well.
    const finishing = sm.finishingCount() + driver.oneShotCount();
    if (finishing >= config.maxStuckTransactions) {
      throw new RatifyError(
        'TOO_MANY_PENDING',
        `decided but unfinished transactions (${finishing}) reached maxStuckTransactions (${config.maxStuckTransactions}); see GET /v1/admin/stuck-transactions`,
      );
    }
  }

  /** A one-shot attempt's end: its decided record, or (the key was taken meanwhile) the holder's, as a replay. */
  private async afterOneShot(
    result: OneShotResult,
    requestHash: string | null,
    caller: Caller,
  ): Promise<{ status: 200 | 201; tx: TxRecord }> {
    if (result.kind === 'decided') return { status: 200, tx: this.deps.sm.get(result.tx.id) ?? result.tx };
    return this.afterCreate(checkReplay(result.holder, requestHash), true, caller);
  }

  private async afterCreate(tx: TxRecord, commit: boolean, caller: Caller): Promise<{ status: 200 | 201; tx: TxRecord }> {
    if (!commit) return { status: 201, tx: this.deps.sm.get(tx.id) ?? tx };
    return { status: 200, tx: await this.commit(tx.id, caller) };
  }

  async enlist(txId: string, input: ParticipantInput, caller: Caller): Promise<TxRecord> {
    const participant = this.checkParticipant(input);
    const tx = this.visible(txId, caller);
    await this.deps.urlPolicy.checkAtEnlist(participant.url, participant.name);
    // apply() repeats both checks: a commit request may land between here and the entry.
    if (tx.state !== 'active') throw new RatifyError('TX_NOT_ACTIVE', `transaction ${txId} is ${tx.state}, not active`);
    const same = tx.participants.find((p) => p.name === participant.name);
    if (same === undefined) this.checkCount(tx.participants.length + 1);
    else if (same.url !== participant.url || !samePayload(same.payload, participant.payload)) {
      throw new RatifyError('IDEMPOTENCY_KEY_REUSED', enlistConflict(participant.name));
    }
    const result = unwrap(await this.propose({ type: 'enlisted', txId, participant, participantsMax: this.deps.config.maxParticipants }));
    return result.tx ?? tx;
  }

  /**
   * Idempotent: answers once the outcome is fixed, whatever it is: the decision
   * is durable, or (3PC) precommitted is, which can only end in commit
   * (transitions.ts). The view then says `outcome: committed`.
   */
  async commit(txId: string, caller: Caller): Promise<TxRecord> {
    const tx = this.visible(txId, caller);
    if (tx.state === 'active') unwrap(await this.propose({ type: 'commitRequested', txId }));
    this.deps.driver.drive(txId);
    const waitMs = Math.max(0, tx.deadlineAt - this.deps.now()) + this.deps.config.decisionWaitSlackMs;
    const decided = await this.deps.waiters.waitFor(
      txId,
      (t) => t === null || fixedOutcome(t) !== null,
      waitMs,
      `no decision for transaction ${txId} yet; it may still be decided (GET it, or retry commit)`,
    );
    if (decided === null) throw notFound(txId);
    return decided;
  }

  /**
   * Decides abort unless the outcome is fixed: 409 TX_ALREADY_COMMITTED when
   * the decision is commit, 409 TX_PRECOMMITTED when a 3PC transaction is
   * precommitted (its outcome can only be commit). apply() refuses the abort
   * entry the same way when the check here raced with precommitted.
   */
  async abort(txId: string, caller: Caller): Promise<TxRecord> {
    const tx = this.visible(txId, caller);
    if (tx.decision === 'abort') return tx;
    refuseAbort(tx);
    const result = await this.propose({
      type: 'decided',
      txId,
      decision: 'abort',
      votes: [],
      decidedAt: this.deps.now(),
      reason: 'abort requested by a client',
    });
    const { tx: after, existed } = unwrap(result);
    if (after === null) throw notFound(txId);
    refuseAbort(after);
    if (existed !== true) this.deps.metrics.decision('abort');
    this.deps.driver.drive(txId);
    return this.deps.sm.get(txId) ?? after;
  }

  /**
   * A one-shot transaction this leader holds in memory reads as `preparing`
   * (outcome open: a participant asking asks again), never as TX_NOT_FOUND,
   * which a participant reads as "unknown" (src/sdk/participant/inquiry.ts).
   */
  async get(txId: string, caller: Caller): Promise<TxRecord> {
    await this.deps.log.readBarrier({ timeoutMs: this.deps.config.readBarrierTimeoutMs });
    const tx = this.deps.sm.get(txId) ?? this.deps.driver.oneShotRecordOf(txId);
    if (tx === null || (caller.ownOnly && tx.principal !== caller.principal)) throw notFound(txId);
    return tx;
  }

  async list(filter: TxListFilter, caller: Caller): Promise<TxListPage> {
    await this.deps.log.readBarrier({ timeoutMs: this.deps.config.readBarrierTimeoutMs });
    return this.deps.sm.list(caller.ownOnly ? { ...filter, principal: caller.principal } : filter);
  }

  /** The transaction, if it exists for `caller` (see Caller.ownOnly); else TX_NOT_FOUND. */
  private visible(txId: string, caller: Caller): TxRecord {
    const tx = this.deps.sm.get(txId);
    if (tx === null || (caller.ownOnly && tx.principal !== caller.principal)) throw notFound(txId);
    return tx;
  }

  private propose(cmd: TxCommand): ReturnType<typeof proposeTx> {
    return proposeTx(this.deps.log, cmd, this.deps.config.proposeTimeoutMs);
  }

  private checkCount(count: number): void {
    const max = this.deps.config.maxParticipants;
    if (count > max) throw new RatifyError('TOO_MANY_PARTICIPANTS', `participants (${count}) exceed maxParticipants (${max})`);
  }

  private checkParticipant(p: ParticipantInput): ParticipantSpec {
    const { maxPayloadBytes } = this.deps.config;
    // The URL policy (credentials, addresses, allowlist) is checkAtEnlist's, after these.
    checkBaseUrl(p.url, p.name);
    const payload = p.payload ?? null;
    const bytes = Buffer.byteLength(JSON.stringify(payload));
    if (bytes > maxPayloadBytes) {
      throw new RatifyError(
        'BODY_TOO_LARGE',
        `participant ${p.name}: payload (${bytes} bytes) exceeds maxPayloadBytes (${maxPayloadBytes})`,
      );
    }
    return { name: p.name, url: p.url, payload };
  }
}

/**
 * URL strings that passed checkBaseUrl. The check is a pure function of the
 * string, and a create names the same few participant URLs again and again:
 * new URL() per participant was about 0.8% of the tx leader's CPU at c=64.
 * Bounded; cleared wholesale when full.
 */
const checkedBaseUrls = new Set<string>();
const CHECKED_BASE_URLS_MAX = 1024;

/** Throws VALIDATION_FAILED unless `raw` is an http(s) base URL without query or fragment. */
function checkBaseUrl(raw: string, name: string): void {
  if (checkedBaseUrls.has(raw)) return;
  parseBaseUrl(raw, name);
  if (checkedBaseUrls.size >= CHECKED_BASE_URLS_MAX) checkedBaseUrls.clear();
  checkedBaseUrls.add(raw);
}

function parseBaseUrl(raw: string, name: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new RatifyError('VALIDATION_FAILED', `participant ${name}: url is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RatifyError('VALIDATION_FAILED', `participant ${name}: url must use http or https`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw new RatifyError('VALIDATION_FAILED', `participant ${name}: url must be a base URL without query or fragment`);
  }
  return url;
}

/** Throws when the outcome of `tx` is fixed as commit, so a client abort cannot have it. */
function refuseAbort(tx: TxRecord): void {
  if (tx.decision === 'commit')
    throw new RatifyError('TX_ALREADY_COMMITTED', `transaction ${tx.id} cannot be aborted: the decision was commit`);
  if (tx.state === 'precommitted') throw new RatifyError('TX_PRECOMMITTED', precommittedRefusal(tx.id));
}

/** A retry joining a one-shot attempt in flight: the same request, or IDEMPOTENCY_KEY_REUSED before waiting. */
function checkReplayOf(tx: TxRecord, requestHash: string | null, done: Promise<OneShotResult>): Promise<OneShotResult> {
  checkReplay(tx, requestHash);
  return done;
}

function checkReplay(tx: TxRecord, requestHash: string | null): TxRecord {
  if (tx.requestHash !== requestHash) {
    throw new RatifyError('IDEMPOTENCY_KEY_REUSED', 'the Idempotency-Key was already used for a request with a different body');
  }
  return tx;
}

/**
 * Hash of the request as the client sent it. Defaults this node would fill in
 * (timeoutMs) stay out, so the same retry hashes the same on every node even
 * if their configs differ.
 */
export function hashRequest(input: CreateInput, participants: readonly ParticipantSpec[]): string {
  const canonical = canonicalJson({
    participants: participants.map((p) => ({ name: p.name, url: p.url, payload: p.payload })),
    protocol: input.protocol ?? '2pc',
    timeoutMs: input.timeoutMs ?? null,
    commit: input.commit === true,
  });
  return createHash('sha256').update(canonical).digest('base64url');
}
