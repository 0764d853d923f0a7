// Sends the coordinator's participant calls, several at once where it can.
//
// WHY: at 64 concurrent transactions the leader spent about a fifth of its CPU
// in writev() and a tenth in undici, mostly on 4 participant HTTP exchanges
// per transaction. Raft applies entries in batches, so 10-20 transactions enter
// prepare (or commit) in the same event-loop turn and call the same
// participants. Calls of one kind and term to one participant base URL issued
// in one turn go out as ONE `POST {url}/batch` (the participant protocol's
// optional batch extension, README "Participant protocol"), whose answer holds
// each call's own status and body.
//
// Nothing about a call's meaning changes: every item is answered exactly as
// the single call would be, and a participant that does not speak /batch gets
// single calls. Any answer other than a well-formed 200 batch answer sends the
// calls again singly at once (participant calls are idempotent by protocol);
// 404, 405 and 501 also mark the URL as unable to batch for a while. A network
// error or timeout fails every call of the batch, as it would have failed each
// one, and the driver's usual retry rules apply.
import type { Dispatcher } from 'undici';
import { httpCall } from '../http-call.js';
import { abortReason, Cancel, onAbort, type CancelSignal } from '../util/abort-registry.js';
import { oncePerTurn } from '../util/once-per-turn.js';
import { CLUSTER_HEADER, INCARNATION_HEADER, signatureHeaders } from '../sdk/participant/signature.js';
import type { SigningKey } from './participant-keys.js';

export type CallName = 'prepare' | 'precommit' | 'commit' | 'abort';

/** One participant call: where, what, and its bounds. */
export interface OneCall {
  readonly name: CallName;
  readonly baseUrl: string;
  readonly term: number;
  /** The single call's JSON body, serialized. */
  readonly json: string;
  readonly timeoutMs: number;
  /** Cancels the call (the transaction's phase or the leader's term). */
  readonly signal: CancelSignal;
  /** The cluster's fence and the key that signs the call; null sends neither (tests, a cluster without identity). */
  readonly identity: CallIdentity | null;
}

/** Who calls (the fence a participant keeps per cluster incarnation) and the key the call is signed with. */
export interface CallIdentity {
  readonly clusterId: string;
  readonly incarnation: string;
  /** null: no key for this participant, the call goes unsigned (with the fence headers). */
  readonly signing: SigningKey | null;
}

/** The participant's answer to one call: HTTP status and the body parsed as JSON (undefined when it is not JSON). */
export interface CallAnswer {
  readonly status: number;
  readonly body: unknown;
}

export interface BatchOptions {
  /** Calls per batch request; 1 never batches. */
  readonly callsMax: number;
  /** Bytes of one batch request body; a call bigger than this alone goes singly. */
  readonly bytesMax: number;
  /** How long a URL that answered /batch with 404, 405 or 501 gets single calls only. */
  readonly unsupportedForMs: number;
  readonly now: () => number;
  /** Told of every request sent: one single call, or a batch of `calls`. */
  readonly onRequest?: (shape: 'single' | 'batch', calls: number, name: CallName) => void;
}

/** A single participant answer body is small; anything bigger is a failure, not a memory problem. */
export const ANSWER_BYTES_MAX = 64 * 1024;
/** Bound on a batch answer, whatever the number of calls. */
const BATCH_ANSWER_BYTES_MAX = 4 * 1024 * 1024;
/** Parsed base URLs and URLs that cannot batch; participants are few, but clients choose them, so both are capped. */
const URL_CACHE_MAX = 1024;

interface Target {
  readonly origin: string;
  readonly pathPrefix: string;
}

/**
 * Told how one call ended: exactly one of the two, once. The participant client
 * passes an object of its own (participant-client.ts), so a call in flight is one
 * object and one promise rather than a promise and its reactions per layer.
 */
export interface CallSink {
  /** Neither method may throw: they run inside the caller's own answer handling. */
  answered(answer: CallAnswer): void;
  failed(err: Error): void;
}

interface Pending {
  readonly call: OneCall;
  readonly sink: CallSink;
  settled: boolean;
}

interface Queue {
  readonly items: Pending[];
  bytes: number;
}

export class ParticipantCaller {
  private readonly targets = new Map<string, Target>();
  private readonly unsupportedUntil = new Map<string, number>();
  private readonly queues = new Map<string, Queue>();
  /** After the current turn's microtasks: every call the applied entries started has queued by then. */
  private readonly scheduleFlush = oncePerTurn(() => this.flush(), setImmediate);

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly opts: BatchOptions,
  ) {}

  /**
   * Sends `call` (now, or with its turn's batch) and tells `sink` how it ended: the
   * participant's answer, or why there is none (timeout, cancelled, refused, ... as httpCall fails).
   */
  dispatch(call: OneCall, sink: CallSink): void {
    const item: Pending = { call, sink, settled: false };
    if (!this.canBatch(call.baseUrl)) return this.sendSingle(item);
    // One batch is one signature, so one key: calls signed for different participants never share one.
    const key = `${call.baseUrl}\u0000${call.name}\u0000${call.term}\u0000${call.identity?.signing?.owner ?? ''}`;
    let queue = this.queues.get(key);
    if (queue !== undefined && queue.bytes + call.json.length > this.opts.bytesMax) {
      this.queues.delete(key);
      this.send(queue.items);
      queue = undefined;
    }
    if (queue === undefined) {
      queue = { items: [], bytes: 0 };
      this.queues.set(key, queue);
    }
    queue.items.push(item);
    queue.bytes += call.json.length;
    if (queue.items.length >= this.opts.callsMax) {
      this.queues.delete(key);
      this.send(queue.items);
      return;
    }
    this.scheduleFlush();
  }

  private canBatch(baseUrl: string): boolean {
    if (this.opts.callsMax <= 1) return false;
    const until = this.unsupportedUntil.get(baseUrl);
    if (until === undefined) return true;
    if (this.opts.now() < until) return false;
    this.unsupportedUntil.delete(baseUrl);
    return true;
  }

  /**
   * Calls that a decision waits for (prepare, precommit) go out before phase 2
   * calls (commit, abort), whatever order they were queued in.
   * WHY: a participant answers in the order requests arrive. At low load the
   * previous transaction's commits are queued in the same turn as the next
   * one's prepares (the client is answered first, then phase 2 starts), and a
   * prepare behind them waited for their answers: on the client's path, where
   * phase 2 is not.
   */
  private flush(): void {
    const queues = [...this.queues.values()];
    this.queues.clear();
    for (const q of queues) if (decisionWaitsFor(q)) this.send(q.items);
    for (const q of queues) if (!decisionWaitsFor(q)) this.send(q.items);
  }

  private send(items: Pending[]): void {
    const [first] = items;
    if (first === undefined) return;
    if (items.length === 1) this.sendSingle(first);
    else this.sendBatch(first.call, items);
  }

  private sendSingle(item: Pending): void {
    const { call } = item;
    this.opts.onRequest?.('single', 1, call.name);
    this.post({
      baseUrl: call.baseUrl,
      route: call.name,
      term: call.term,
      identity: call.identity,
      body: call.json,
      timeoutMs: call.timeoutMs,
      signal: call.signal,
      answerBytesMax: ANSWER_BYTES_MAX,
    }).then(
      ({ status, text }) => settle(item, { status, body: parseJson(text) }),
      (err: unknown) => fail(item, toError(err)),
    );
  }

  /** One POST of the participant protocol: `{base path}/{route}` with the term, fence and signature in headers. */
  private post(p: {
    baseUrl: string;
    route: CallName | 'batch';
    term: number;
    identity: CallIdentity | null;
    body: string;
    timeoutMs: number;
    signal: CancelSignal;
    answerBytesMax: number;
  }): ReturnType<typeof httpCall> {
    const target = this.targetOf(p.baseUrl);
    const path = `${target.pathPrefix}/${p.route}`;
    return httpCall(this.dispatcher, {
      origin: target.origin,
      method: 'POST',
      path,
      headers: {
        'content-type': 'application/json',
        'x-ratify-term': String(p.term),
        ...this.identityHeaders(p.identity, path, p.term, p.body),
      },
      body: p.body,
      timeoutMs: p.timeoutMs,
      signal: p.signal,
      answerBytesMax: p.answerBytesMax,
    });
  }

  private identityHeaders(identity: CallIdentity | null, path: string, term: number, body: string): Record<string, string> {
    if (identity === null) return {};
    const { clusterId, incarnation, signing } = identity;
    if (signing === null) return { [CLUSTER_HEADER]: clusterId, [INCARNATION_HEADER]: incarnation };
    return signatureHeaders(signing.key, { method: 'POST', path, clusterId, incarnation, term, timestampMs: this.opts.now(), body });
  }

  private sendBatch(first: OneCall, items: Pending[]): void {
    // The batch request ends early only when every call in it was cancelled.
    const batchAbort = new Cancel();
    let live = items.length;
    const unregisters: Array<() => void> = [];
    for (const item of items) {
      const cancel = (reason: Error): void => {
        if (item.settled) return;
        fail(item, reason);
        if (--live === 0) batchAbort.abort(reason);
      };
      if (item.call.signal.aborted) cancel(abortReason(item.call.signal));
      else unregisters.push(onAbort(item.call.signal, cancel));
    }
    if (live === 0) return;
    const done = (): void => {
      for (const u of unregisters) u();
    };
    this.opts.onRequest?.('batch', items.length, first.name);
    const calls = items.map((i) => `{"call":"${i.call.name}","body":${i.call.json}}`).join(',');
    const body = `{"term":${first.term},"calls":[${calls}]}`;
    const timeoutMs = Math.min(...items.map((i) => i.call.timeoutMs));
    const answerBytesMax = Math.min(BATCH_ANSWER_BYTES_MAX, ANSWER_BYTES_MAX * items.length);
    this.post({
      baseUrl: first.baseUrl,
      route: 'batch',
      term: first.term,
      identity: first.identity,
      body,
      timeoutMs,
      signal: batchAbort,
      answerBytesMax,
    }).then(
      ({ status, text }) => {
        done();
        const results = status === 200 ? batchResults(text, items.length) : null;
        if (results !== null) {
          items.forEach((item, i) => settle(item, results[i]!));
          return;
        }
        if (status === 404 || status === 405 || status === 501) this.markUnsupported(first.baseUrl);
        for (const item of items) if (!item.settled) this.sendSingle(item);
      },
      (err: unknown) => {
        done();
        const error = toError(err);
        for (const item of items) fail(item, error);
      },
    );
  }

  private markUnsupported(baseUrl: string): void {
    if (this.unsupportedUntil.size >= URL_CACHE_MAX) this.unsupportedUntil.clear();
    this.unsupportedUntil.set(baseUrl, this.opts.now() + this.opts.unsupportedForMs);
  }

  /** Origin and path of a participant's base URL (validated by the API before it gets here). */
  private targetOf(baseUrl: string): Target {
    let t = this.targets.get(baseUrl);
    if (t === undefined) {
      const u = new URL(baseUrl);
      t = { origin: u.origin, pathPrefix: u.pathname.replace(/\/+$/, '') };
      if (this.targets.size >= URL_CACHE_MAX) this.targets.clear();
      this.targets.set(baseUrl, t);
    }
    return t;
  }
}

/** A queue of calls whose answers a decision is waiting on: sent first (ParticipantCaller.flush). */
function decisionWaitsFor(q: Queue): boolean {
  const name = q.items[0]?.call.name;
  return name === 'prepare' || name === 'precommit';
}

function settle(item: Pending, answer: CallAnswer): void {
  if (item.settled) return;
  item.settled = true;
  item.sink.answered(answer);
}

function fail(item: Pending, err: Error): void {
  if (item.settled) return;
  item.settled = true;
  item.sink.failed(err);
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The per-call answers of a 200 batch answer, or null when it is not `{results: [{status, body}]}` with one per call. */
export function batchResults(text: string, calls: number): CallAnswer[] | null {
  const value = parseJson(text);
  if (typeof value !== 'object' || value === null) return null;
  const results = (value as { results?: unknown }).results;
  if (!Array.isArray(results) || results.length !== calls) return null;
  const answers: CallAnswer[] = [];
  for (const r of results as unknown[]) {
    if (typeof r !== 'object' || r === null) return null;
    const { status, body } = r as { status?: unknown; body?: unknown };
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) return null;
    answers.push({ status, body });
  }
  return answers;
}
