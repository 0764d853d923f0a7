// The framework-free participant: decodes a coordinator call, fences it by term,
// serializes it per (txId, participant), plans it from the durable record
// (transitions.ts), runs the user's handler, and makes the new record durable
// BEFORE the reply leaves. Transports (fastify.ts, node-handler.ts) only move
// bytes; the background resolver (resolver.ts) drives in-doubt records through
// the same methods.
import { RatifyError, isRatifyError } from '../../errors.js';
import { assertNever } from '../../util/assert-never.js';
import { decodeBatch, type BatchItem } from './batch.js';
import { decodeCall, type HeaderBag } from './decode.js';
import { clusterOfScope, fenceWrite, FenceTable, LEGACY_SCOPE, scopeOf, type FenceScope } from './fence.js';
import { HttpTxInquiry } from './inquiry.js';
import { KeyedLock } from './keyed-lock.js';
import { LevelParticipantStore } from './level-store.js';
import { resolveOptions, type ParticipantOptions, type ResolvedOptions } from './options.js';
import { recordKey } from './record.js';
import { Resolver, type ResolvePassReport } from './resolver.js';
import { verifyCall } from './signature.js';
import type { ParticipantStore } from './store.js';
import { assertTransition, planCall, type Plan } from './transitions.js';
import {
  isInDoubt,
  type CallPath,
  type CallSource,
  type HandleResult,
  type ParticipantCall,
  type ParticipantTx,
  type ParticipantTxRecord,
  type ParticipantTxState,
  type ParticipantVote,
} from './types.js';

/**
 * The request as it arrived, for signature checks (signature.ts): the transports
 * pass it; a direct caller of handle() with coordinatorKey set must too.
 */
export interface ReceivedRequest {
  readonly method: string;
  /** The request path without the query string, e.g. "/ratify/commit". */
  readonly path: string;
  /** The exact body bytes (the signature covers them, not the parsed JSON). */
  readonly body: string | Uint8Array;
}

export interface Participant {
  readonly name: string;
  /** Answers one coordinator call; never throws (errors become `{error:{code,message}}` replies). */
  handle(path: CallPath, body: unknown, headers?: HeaderBag, request?: ReceivedRequest): Promise<HandleResult>;
  /**
   * Answers a batch envelope `{term, calls: [{call, body}]}` (POST {prefix}/batch) with
   * 200 `{results: [{status, body}]}`, one per call in call order, each exactly what
   * handle() answers for it; envelope errors are 400. Never throws.
   */
  handleBatch(body: unknown, headers?: HeaderBag, request?: ReceivedRequest): Promise<HandleResult>;
  /** Opens the store and starts the background resolver (timers are unref'd). Idempotent. */
  start(): Promise<void>;
  /** Runs one resolver pass now; the timers call the same thing. */
  resolvePending(): Promise<ResolvePassReport>;
  /** Stops the timers, waits for calls in progress, and closes the store. */
  close(): Promise<void>;
  /** The highest term seen from any cluster, or from one (cluster id, incarnation) scope "<id>/<incarnation>" (fence.ts). */
  highestTerm(scope?: string): number;
  inDoubtCount(): number;
  /**
   * This participant's records updated at or after `sinceMs`: every one in doubt, and
   * the finished ones among the `scanMax` oldest (the finished index is ordered by age,
   * so older records are scanned first). `complete` is false when finished records
   * beyond the scan exist. Read-only, for checkers and operators, and meant for a
   * participant at rest: a record that changes while the listing runs may show either
   * state, and one created meanwhile may be missing.
   */
  listRecords(sinceMs: number, scanMax: number): Promise<RecordListing>;
}

export interface RecordListing {
  readonly records: readonly ParticipantTxRecord[];
  /** False when the scan stopped at scanMax finished records: there may be more. */
  readonly complete: boolean;
}

export function createParticipant(opts: ParticipantOptions): Participant {
  return new ParticipantCore(resolveOptions(opts));
}

/** Per in-doubt record: when the resolver should next look at it. */
interface Tracked {
  record: ParticipantTxRecord;
  nextAttemptAtMs: number;
  /**
   * Start of the current unbroken run of inquiries that reached no coordinator
   * node; null once one reaches a node or a coordinator call arrives. Kept in
   * memory only: after a restart the run starts again, which only delays the
   * 3PC timeout rule (the safe direction).
   */
  unreachableSinceMs: number | null;
}

/** Queued calls per transaction before TOO_MANY_PENDING (coordinator retries are few). */
const WAITERS_PER_TX_MAX = 64;
const REASON_CHARS_MAX = 1024;

export class ParticipantCore implements Participant {
  readonly name: string;
  private readonly store: ParticipantStore;
  private readonly lock: KeyedLock;
  private readonly tracked = new Map<string, Tracked>();
  private readonly resolver: Resolver;
  private opened: Promise<void> | null = null;
  private warnedUnsigned = false;
  private closed = false;
  private inflight = 0;
  private readonly fences = new FenceTable();

  constructor(private readonly o: ResolvedOptions) {
    this.name = o.name;
    this.store = o.store ?? new LevelParticipantStore(o.dataDir!);
    this.lock = new KeyedLock(WAITERS_PER_TX_MAX);
    const inquiry =
      o.coordinatorUrls.length > 0 ? new HttpTxInquiry(o.coordinatorUrls, o.inquiryTimeoutMs, o.coordinatorToken, o.logger) : null;
    this.resolver = new Resolver(this, inquiry, o);
  }

  highestTerm(scope: string = LEGACY_SCOPE): number {
    return this.fences.highest(scope);
  }

  inDoubtCount(): number {
    return this.tracked.size;
  }

  async listRecords(sinceMs: number, scanMax: number): Promise<RecordListing> {
    if (this.closed) throw new RatifyError('SHUTTING_DOWN', `participant ${this.name} is closing`);
    // Counted as a call in progress, so close() waits before it closes the store.
    this.inflight++;
    try {
      await this.ready();
      const byKey = new Map<string, ParticipantTxRecord>();
      const keep = (key: string, r: ParticipantTxRecord | undefined): void => {
        if (r !== undefined && r.updatedAtMs >= sinceMs) byKey.set(key, r);
      };
      // Every in-doubt record is tracked (loaded at open, kept by persist). A finished
      // read below replaces an in-doubt one read here.
      for (const key of [...this.tracked.keys()]) keep(key, await this.store.get(key));
      const refs = await this.store.finishedBefore(Number.MAX_SAFE_INTEGER, scanMax + 1);
      for (const ref of refs.slice(0, scanMax)) {
        if (ref.finishedAtMs >= sinceMs) keep(ref.key, await this.store.get(ref.key));
      }
      return { records: [...byKey.values()], complete: refs.length <= scanMax };
    } finally {
      this.inflight--;
    }
  }

  async start(): Promise<void> {
    await this.ready();
    if (this.o.coordinatorKeys.length === 0 && !this.warnedUnsigned) {
      this.warnedUnsigned = true;
      this.o.logger.warn(
        { participant: this.name },
        'coordinator calls are not verified: no coordinatorKey, so anyone who reaches this participant can prepare, commit and abort, and raise its term fence',
      );
    }
    this.resolver.start();
  }

  resolvePending(): Promise<ResolvePassReport> {
    return this.ready().then(() => this.resolver.pass());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.resolver.stop();
    // Calls that got past the closed check finish (and answer) before the store closes.
    while (this.inflight > 0) await new Promise((r) => setTimeout(r, 5));
    await this.lock.idle();
    if (this.opened !== null) await this.opened.catch(() => undefined);
    await this.store.close();
  }

  async handle(path: CallPath, body: unknown, headers: HeaderBag = {}, request?: ReceivedRequest): Promise<HandleResult> {
    try {
      this.authenticate(path, headers, request);
    } catch (e) {
      return this.failure(e, path);
    }
    return this.handleAuthenticated(path, body, headers);
  }

  /** A call whose signature (if we require one) was checked, alone or as its batch. */
  private async handleAuthenticated(path: CallPath, body: unknown, headers: HeaderBag): Promise<HandleResult> {
    if (this.closed) return errorResult(new RatifyError('SHUTTING_DOWN', `participant ${this.name} is closing`));
    if (this.inflight >= this.o.inflightMax) {
      return errorResult(new RatifyError('TOO_MANY_PENDING', `more than ${this.o.inflightMax} calls in progress`));
    }
    this.inflight++;
    try {
      await this.ready();
      const call = decodeCall(path, body, headers);
      const scope = scopeOf(headers);
      return await this.lock.run(recordKey(call.txId, call.participant), () => this.dispatch(call, scope));
    } catch (e) {
      return this.failure(e, path);
    } finally {
      this.inflight--;
    }
  }

  async handleBatch(body: unknown, headers: HeaderBag = {}, request?: ReceivedRequest): Promise<HandleResult> {
    let items: BatchItem[];
    try {
      // One signature covers the whole envelope.
      this.authenticate('batch', headers, request);
      items = decodeBatch(body, headers);
    } catch (e) {
      return this.failure(e, 'batch');
    }
    // Every item passes handle()'s admission, decode, term fence and lock, so it
    // answers as the single call would. All start in this turn and resume from
    // the same ready() in call order, so items about one record take its lock,
    // and run, in call order.
    const results = await Promise.all(
      items.map((item) => (item.kind === 'call' ? this.handleAuthenticated(item.path, item.body, headers) : errorResult(item.error))),
    );
    return ok({ results });
  }

  // ---- used by the resolver -------------------------------------------------

  /** Keys the resolver should look at now, oldest deadline first, at most `max`. */
  dueKeys(nowMs: number, max: number): string[] {
    return [...this.tracked.entries()]
      .filter(([key, t]) => t.nextAttemptAtMs <= nowMs && !this.lock.isHeld(key))
      .sort((a, b) => a[1].nextAttemptAtMs - b[1].nextAttemptAtMs)
      .slice(0, max)
      .map(([key]) => key);
  }

  /** Runs `fn` under the record's lock with a fresh copy, if it is still in doubt and due. */
  withDueRecord(key: string, fn: (record: ParticipantTxRecord) => Promise<void>): Promise<void> {
    return this.lock.run(key, async () => {
      const t = this.tracked.get(key);
      if (t === undefined || t.nextAttemptAtMs > this.o.now()) return;
      const record = await this.store.get(key);
      if (record === undefined || !isInDoubt(record.state)) {
        this.tracked.delete(key);
        return;
      }
      await fn(record);
    });
  }

  /** Tries again after `ms` (the resolver asked and learned nothing final). */
  postpone(key: string, ms: number): void {
    const t = this.tracked.get(key);
    if (t !== undefined) t.nextAttemptAtMs = this.o.now() + ms;
  }

  noteInquiry(key: string, reachedNode: boolean, nowMs: number): number | null {
    const t = this.tracked.get(key);
    if (t === undefined || reachedNode) {
      if (t !== undefined) t.unreachableSinceMs = null;
      return null;
    }
    t.unreachableSinceMs ??= nowMs;
    return nowMs - t.unreachableSinceMs;
  }

  async pruneFinished(nowMs: number, max: number): Promise<number> {
    const refs = await this.store.finishedBefore(nowMs - this.o.finishedRetentionMs, max);
    if (refs.length > 0) await this.store.write({ prune: refs });
    return refs.length;
  }

  /** Moves a record to `to`, calling the matching handler first; returns the new record. Throws if the handler throws. */
  async advance(
    record: ParticipantTxRecord,
    to: 'precommitted' | 'committed' | 'aborted',
    source: CallSource,
    term: number | null,
    reason?: string,
  ): Promise<ParticipantTxRecord> {
    assertTransition(record.state, to, record.txId);
    const tx = txOf(record, source, term);
    if (to === 'precommitted') await this.o.handlers.precommit?.(tx);
    else if (to === 'committed') await this.o.handlers.commit(tx);
    // A record that never voted commit (abort before prepare) has nothing to release.
    else if (record.state === 'preparing' || record.vote === 'commit') await this.o.handlers.abort(tx);
    const next: ParticipantTxRecord = { ...record, state: to, reason: reason ?? record.reason, updatedAtMs: this.o.now() };
    await this.persist(next);
    this.o.logger.info({ txId: record.txId, participant: record.participant, from: record.state, to, source }, `participant ${to}`);
    return next;
  }

  // ---- coordinator calls ----------------------------------------------------

  private async dispatch(call: ParticipantCall, scope: FenceScope): Promise<HandleResult> {
    this.fence(call, scope);
    const key = recordKey(call.txId, call.participant);
    this.touch(key);
    const record = await this.store.get(key);
    const plan = planCall(record, call.path);
    const result = await this.execute(plan, call, record, scope);
    // Acks and replayed votes write nothing else; the raised term still must be durable.
    if (this.fences.pending().length > 0) await this.persistTerm();
    return result;
  }

  private async execute(
    plan: Plan,
    call: ParticipantCall,
    record: ParticipantTxRecord | undefined,
    scope: FenceScope,
  ): Promise<HandleResult> {
    switch (plan.kind) {
      case 'run-prepare':
        return ok(await this.prepare(call, scope));
      case 'abort-interrupted':
        await this.advance(record!, 'aborted', 'recovery', call.term, 'participant restarted during prepare');
        return ok({ vote: 'abort', reason: 'participant restarted during prepare' });
      case 'reply-vote':
        return ok(plan.vote);
      case 'run-precommit':
        return ack(await this.advance(record!, 'precommitted', 'coordinator', call.term));
      case 'run-commit':
        return ack(await this.advance(record!, 'committed', 'coordinator', call.term));
      case 'run-abort':
        return ack(await this.advance(record!, 'aborted', 'coordinator', call.term));
      case 'record-abort': {
        const aborted = abortedBeforePrepare(call, this.o.now());
        await this.persist(aborted);
        return ack(aborted);
      }
      case 'ack':
        return ack(record!);
      case 'refuse': {
        const fields = {
          txId: call.txId,
          participant: call.participant,
          path: call.path,
          state: record?.state ?? 'none',
          code: plan.code,
          term: call.term,
        };
        if (plan.violation) this.o.logger.error(fields, `PROTOCOL VIOLATION: ${plan.message}`);
        else this.o.logger.warn(fields, `refused: ${plan.message}`);
        throw new RatifyError(plan.code, `${plan.message} (${call.participant}/${call.txId})`);
      }
      default:
        return assertNever(plan);
    }
  }

  private async prepare(call: ParticipantCall, scope: FenceScope): Promise<ParticipantVote> {
    if (call.path !== 'prepare') throw new RatifyError('INTERNAL', `prepare planned for a ${call.path} call`);
    const now = this.o.now();
    // Which cluster prepared us: cooperative termination only believes its answers (answer-scope.ts).
    const preparedBy = clusterOfScope(scope);
    const base = {
      txId: call.txId,
      participant: call.participant,
      protocol: call.protocol,
      payload: call.payload,
      preparedTerm: call.term,
      ...(preparedBy === null ? {} : { preparedBy }),
    };
    if (this.tracked.size >= this.o.inDoubtMax) {
      const reason = `participant has ${this.tracked.size} transactions in doubt (inDoubtMax ${this.o.inDoubtMax})`;
      await this.persist({ ...base, state: 'aborted', vote: 'abort', reason, updatedAtMs: now });
      return { vote: 'abort', reason };
    }
    // The intent record: if we die inside the handler, restart finds it and aborts.
    const preparing: ParticipantTxRecord = { ...base, state: 'preparing', vote: null, reason: null, updatedAtMs: now };
    await this.persist(preparing);
    const vote = await this.runPrepareHandler(preparing, call.term);
    const state: ParticipantTxState = vote.vote === 'commit' ? 'prepared' : 'aborted';
    assertTransition('preparing', state, call.txId);
    const reason = vote.vote === 'abort' ? (vote.reason ?? null) : null;
    await this.persist({ ...preparing, state, vote: vote.vote, reason, updatedAtMs: this.o.now() });
    return vote;
  }

  /** A throw or a malformed answer is an abort vote; the handler promised to leave nothing behind. */
  private async runPrepareHandler(record: ParticipantTxRecord, term: number): Promise<ParticipantVote> {
    let answer: unknown;
    try {
      answer = await this.o.handlers.prepare(txOf(record, 'coordinator', term));
    } catch (e) {
      this.o.logger.error({ txId: record.txId, participant: record.participant, err: e }, 'prepare handler threw; voting abort');
      return { vote: 'abort', reason: clip(`prepare failed: ${e instanceof Error ? e.message : String(e)}`) };
    }
    const a = answer as { vote?: unknown; reason?: unknown } | null;
    if (a?.vote === 'commit') return { vote: 'commit' };
    if (a?.vote === 'abort') return typeof a.reason === 'string' ? { vote: 'abort', reason: clip(a.reason) } : { vote: 'abort' };
    this.o.logger.error({ txId: record.txId, answer }, 'prepare handler returned no valid vote; voting abort');
    return { vote: 'abort', reason: 'prepare handler returned no valid vote' };
  }

  // ---- terms, persistence, tracking -----------------------------------------

  /**
   * Signature check (signature.ts) when we hold a coordinator key: before
   * anything else, so a forged call touches no record and no fence.
   */
  private authenticate(kind: CallPath | 'batch', headers: HeaderBag, request: ReceivedRequest | undefined): void {
    if (this.o.coordinatorKeys.length === 0) return;
    const refuse = (reason: string, message: string): never => {
      this.o.logger.warn({ path: request?.path ?? kind, reason }, `refused a coordinator call: ${message}`);
      throw new RatifyError('SIGNATURE_INVALID', `refused: ${message}`, { details: { reason } });
    };
    if (request === undefined) return refuse('unverifiable', 'coordinatorKey is set but the transport passed no request to verify');
    // The signed path must be the route that runs: a signed prepare is not a commit.
    if (request.path !== kind && !request.path.endsWith(`/${kind}`))
      return refuse('malformed', `the request path does not name the ${kind} call`);
    const verdict = verifyCall(
      { method: request.method, path: request.path, headers, body: request.body },
      { keys: this.o.coordinatorKeys, nowMs: this.o.now(), skewMsMax: this.o.signatureSkewMsMax },
    );
    if (!verdict.ok) refuse(verdict.reason, verdict.message);
  }

  /** Term fencing per cluster incarnation (fence.ts): a call from a deposed leader is refused; a newer term is remembered. */
  private fence(call: ParticipantCall, scope: FenceScope): void {
    try {
      this.fences.admit(scope, call.term);
    } catch (e) {
      this.o.logger.warn(
        { txId: call.txId, path: call.path, term: call.term, scope, highestTerm: this.fences.highest(scope) },
        'refused a call from a stale term',
      );
      throw e;
    }
  }

  private async persist(record: ParticipantTxRecord): Promise<void> {
    const terms = this.fences.pending();
    await this.store.write({ records: [record], ...fenceWrite(terms) });
    this.fences.markDurable(terms);
    this.track(record);
  }

  private async persistTerm(): Promise<void> {
    const terms = this.fences.pending();
    await this.store.write(fenceWrite(terms));
    this.fences.markDurable(terms);
  }

  private track(record: ParticipantTxRecord): void {
    const key = recordKey(record.txId, record.participant);
    if (!isInDoubt(record.state)) {
      this.tracked.delete(key);
      return;
    }
    this.tracked.set(key, { record, nextAttemptAtMs: record.updatedAtMs + this.windowMs(record), unreachableSinceMs: null });
  }

  /** Any coordinator call about a record restarts its quiet-period clock: the coordinator is there. */
  private touch(key: string): void {
    const t = this.tracked.get(key);
    if (t === undefined) return;
    t.nextAttemptAtMs = this.o.now() + this.windowMs(t.record);
    t.unreachableSinceMs = null;
  }

  /**
   * The quiet period before the resolver first looks at a record. With
   * coordinator urls it asks the cluster after resolveAfterMs, in 3PC too (the
   * timeout rule is only its fallback); without them a precommitted record
   * waits out threePcTimeoutMs and commits (termination.ts).
   */
  private windowMs(record: ParticipantTxRecord): number {
    if (record.state === 'preparing') return 0;
    return record.state === 'precommitted' && this.o.coordinatorUrls.length === 0 ? this.o.threePcTimeoutMs : this.o.resolveAfterMs;
  }

  private ready(): Promise<void> {
    this.opened ??= this.store.open().then((loaded) => {
      this.fences.load([{ scope: LEGACY_SCOPE, term: loaded.highestTerm }, ...(loaded.fences ?? [])]);
      for (const r of loaded.inDoubt) this.track(r);
      if (loaded.inDoubt.length > 0)
        this.o.logger.info({ inDoubt: loaded.inDoubt.length }, 'participant reopened with transactions in doubt');
    });
    return this.opened;
  }

  private failure(e: unknown, path: CallPath | 'batch'): HandleResult {
    if (isRatifyError(e)) return errorResult(e);
    this.o.logger.error({ err: e, path }, 'participant call failed');
    const message = e instanceof Error ? e.message : String(e);
    return errorResult(new RatifyError('INTERNAL', clip(`${path} failed: ${message}`), { cause: e }));
  }
}

function txOf(record: ParticipantTxRecord, source: CallSource, term: number | null): ParticipantTx {
  return { txId: record.txId, participant: record.participant, protocol: record.protocol, payload: record.payload, term, source };
}

function abortedBeforePrepare(call: ParticipantCall, nowMs: number): ParticipantTxRecord {
  return {
    txId: call.txId,
    participant: call.participant,
    state: 'aborted',
    protocol: null,
    payload: undefined,
    vote: null,
    reason: 'aborted before prepare',
    preparedTerm: null,
    updatedAtMs: nowMs,
  };
}

function ok(body: unknown): HandleResult {
  return { status: 200, body };
}

/**
 * An acknowledgement names the record's state after the call. The coordinator
 * reads one case: a precommit answered `committed` means we already committed
 * (on our own 3PC timeout, or because the cluster said so), and it decides
 * commit at once.
 */
function ack(record: ParticipantTxRecord): HandleResult {
  return ok({ ok: true, state: record.state });
}

function errorResult(e: RatifyError): HandleResult {
  return { status: e.status, body: e.toJSON() };
}

function clip(s: string): string {
  return s.length <= REASON_CHARS_MAX ? s : `${s.slice(0, REASON_CHARS_MAX - 1)}…`;
}
