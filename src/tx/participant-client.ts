// Coordinator -> participant calls (README, "Participant protocol").
//
// Every call is a JSON POST carrying the leader's term in the X-Ratify-Term
// header and in the body, so a participant can fence a deposed leader. Any
// non-2xx answer, timeout, refused connection or malformed answer is a
// failure; the driver decides what a failure means (abort vote in prepare,
// retry in phase 2). Two answers carry meaning beyond ack/failure: a refusal
// whose code names the other outcome (TX_ALREADY_ABORTED to precommit or
// commit, TX_ALREADY_COMMITTED to abort: a protocol violation), and a
// precommit acknowledged with `state: "committed"` (the participant already
// committed); see answerOf in protocol-rules.ts.
// Calls issued together may travel in one batch request (participant-batch.ts).
//
// Every call passes the participant URL policy first (participant-url-policy.ts):
// its URL before the request, and each address a new connection goes to
// (participant-connector.ts). A refused call is never sent. What a failure says
// to readers of the view, and what goes to the log, is participant-error.ts's.
import type pino from 'pino';
import type { CancelSignal } from '../util/abort-registry.js';
import { Agent } from '../util/undici-parts.js';
import {
  ParticipantCaller,
  parseJson,
  type CallAnswer,
  type CallIdentity,
  type CallName,
  type CallSink,
  type OneCall,
} from './participant-batch.js';
import type { CallObserver } from './instrumented-client.js';
import type { ParticipantKeys } from './participant-keys.js';
import type { Protocol } from './types.js';
import { policyConnector } from './participant-connector.js';
import { answerError, CallErrorLog, publicCallError } from './participant-error.js';
import type { ParticipantUrlPolicy } from './participant-url-policy.js';

export interface PrepareRequest {
  readonly url: string;
  readonly txId: string;
  readonly participant: string;
  readonly payload: unknown;
  readonly protocol: Protocol;
  readonly term: number;
}

export interface Phase2Request {
  readonly url: string;
  readonly txId: string;
  readonly participant: string;
  readonly term: number;
}

export type Phase2Kind = 'precommit' | 'commit' | 'abort';

export type PrepareResult =
  | { readonly kind: 'vote'; readonly vote: 'commit' }
  | { readonly kind: 'vote'; readonly vote: 'abort'; readonly reason: string | null }
  | { readonly kind: 'failure'; readonly error: string };

export type DeliverResult =
  /** `state`: the participant's own state after the call, when its answer names one (the SDK's does). */
  | { readonly kind: 'ack'; readonly state: string | null }
  /** `code`: the error code of an answer in the `{error: {code}}` shape, e.g. TX_ALREADY_ABORTED. */
  | { readonly kind: 'failure'; readonly error: string; readonly code: string | null };

export interface CallOptions {
  readonly timeoutMs: number;
  /** Aborted when this node stops leading (the term's signal), or when the phase ends early (its Cancel): in-flight calls end at once. */
  readonly signal: CancelSignal;
}

export interface ParticipantClient {
  prepare(req: PrepareRequest, opts: CallOptions): Promise<PrepareResult>;
  deliver(kind: Phase2Kind, req: Phase2Request, opts: CallOptions): Promise<DeliverResult>;
  close(): Promise<void>;
}

export interface ParticipantClientOptions {
  /** Sockets per participant origin. */
  readonly connectionsPerOrigin: number;
  /** Calls per batch request (participant-batch.ts); 1 sends every call singly. */
  readonly batchCallsMax: number;
  /** Told of every request: one single call, or a batch of `calls`. */
  readonly onRequest?: (shape: 'single' | 'batch', calls: number) => void;
  /** Which URLs and addresses may be called. */
  readonly urlPolicy: ParticipantUrlPolicy;
  /** Where the causes of failed calls go (the view shows only a plain phrase). */
  readonly logger?: pino.Logger;
  /**
   * The cluster every call names (participants fence per cluster id and
   * incarnation); absent: calls carry neither, and are never signed.
   */
  readonly caller?: ClusterCaller;
  /** Keys that sign calls, per participant name (participant-keys.ts). */
  readonly keys?: ParticipantKeys;
  /** Told of every call as it goes out and as it ends (instrumented-client.ts: timing and attempts). */
  readonly observer?: CallObserver;
}

/** The cluster a coordinator speaks for (src/node/cluster-incarnation.ts makes the real one). */
export interface ClusterCaller {
  readonly clusterId: string;
  /** The incarnation once this node has applied it, else null: read first, so a call waits on no promise once it is known. */
  known(): string | null;
  /**
   * The cluster's incarnation once this node has applied it; a call waits for
   * it (a new cluster's first leader replicates it right after its election),
   * rejecting when `signal` aborts or `timeoutMs` passes. No call leaves
   * without it: a call with no incarnation could not be fenced per cluster.
   */
  incarnation(signal: CancelSignal, timeoutMs: number): Promise<string>;
}

/** Bytes of one batch request body: well under the participant SDK's default body limit (1 MiB). */
const BATCH_BYTES_MAX = 256 * 1024;
/** A participant that answered /batch with 404, 405 or 501 gets single calls for this long, then one more try. */
const BATCH_UNSUPPORTED_FOR_MS = 10 * 60 * 1000;

export function createHttpParticipantClient(opts: ParticipantClientOptions): ParticipantClient {
  // One pool per origin (undici Agent): a slow participant fills only its own sockets.
  const agent = new Agent({
    connections: opts.connectionsPerOrigin,
    keepAliveTimeout: 30_000,
    pipelining: 1,
    connect: policyConnector(opts.urlPolicy),
  });
  const errorLog = new CallErrorLog(opts.logger);
  const caller = new ParticipantCaller(agent, {
    callsMax: opts.batchCallsMax,
    bytesMax: BATCH_BYTES_MAX,
    unsupportedForMs: BATCH_UNSUPPORTED_FOR_MS,
    now: Date.now,
    ...(opts.onRequest === undefined ? {} : { onRequest: opts.onRequest }),
  });

  const shared: CallShared = {
    caller,
    urlPolicy: opts.urlPolicy,
    cluster: opts.caller ?? null,
    keys: opts.keys ?? null,
    errorLog,
    observer: opts.observer ?? null,
  };
  return {
    prepare(req, call) {
      const body = { txId: req.txId, participant: req.participant, payload: req.payload ?? null, protocol: req.protocol, term: req.term };
      return new Promise<PrepareResult>((resolve) => new ClientCall('prepare', req, call, PREPARE_READING, shared, resolve).start(body));
    },
    deliver(kind, req, call) {
      const body = { txId: req.txId, participant: req.participant, term: req.term };
      return new Promise<DeliverResult>((resolve) => new ClientCall(kind, req, call, DELIVER_READING, shared, resolve).start(body));
    },
    async close() {
      await agent.close();
    },
  };
}

/** What every call of one client shares. */
interface CallShared {
  readonly caller: ParticipantCaller;
  readonly urlPolicy: ParticipantUrlPolicy;
  readonly cluster: ClusterCaller | null;
  readonly keys: ParticipantKeys | null;
  readonly errorLog: CallErrorLog;
  readonly observer: CallObserver | null;
}

/** How a kind of call reads its answer, and what its failure looks like: module constants, so a call makes no closures. */
interface Reading<R> {
  answer(kind: CallName, answer: CallAnswer): R;
  failure(error: string): R;
}

const PREPARE_READING: Reading<PrepareResult> = {
  answer: (_kind, a) => prepareResultOf(a.status, a.body),
  failure: (error) => ({ kind: 'failure', error }),
};

const DELIVER_READING: Reading<DeliverResult> = {
  answer: (kind, a) => deliverResultOf(kind as Phase2Kind, a.status, a.body),
  failure: (error) => ({ kind: 'failure', error, code: null }),
};

/**
 * One participant call in flight: the call the batch caller sends (OneCall) and
 * the sink it reports to (CallSink), in one object.
 *
 * WHY one object: a call used to pass through the instrumented client, this
 * client's settle and post, and the batch caller's own promise: four promises,
 * their reactions and about ten closures, all alive for the whole call (about
 * 10-20 ms under load, long enough to be promoted to the old generation). Now it
 * is this object and the promise the caller awaits. Whatever goes wrong,
 * sending or reading the answer, the result is a failure, never a rejection.
 */
class ClientCall<R> implements OneCall, CallSink {
  readonly baseUrl: string;
  readonly term: number;
  json = '';
  readonly timeoutMs: number;
  readonly signal: CancelSignal;
  identity: CallIdentity | null = null;
  private readonly t0 = performance.now();

  constructor(
    readonly name: CallName,
    private readonly req: Phase2Request,
    call: CallOptions,
    private readonly reading: Reading<R>,
    private readonly shared: CallShared,
    private readonly resolve: (result: R) => void,
  ) {
    this.baseUrl = req.url;
    this.term = req.term;
    this.timeoutMs = call.timeoutMs;
    this.signal = call.signal;
  }

  /** Sends `body` once the URL passes the policy and the cluster's incarnation is known. */
  start(body: object): void {
    const { urlPolicy, cluster, observer } = this.shared;
    observer?.started(this.name, this.req);
    try {
      this.json = JSON.stringify(body);
    } catch (e) {
      return this.failed(e); // a payload JSON cannot carry (a BigInt): a failure like any other
    }
    const refused = urlPolicy.checkUrl(this.baseUrl);
    if (refused !== null) return this.failed(refused);
    if (cluster === null) return this.send(null);
    // No promise awaited once the incarnation is known: read first.
    const known = cluster.known();
    if (known !== null) return this.send(known);
    cluster.incarnation(this.signal, this.timeoutMs).then(
      (incarnation) => this.send(incarnation),
      (e: unknown) => this.failed(e),
    );
  }

  answered(answer: CallAnswer): void {
    let result: R;
    try {
      result = this.reading.answer(this.name, answer);
    } catch (e) {
      result = this.failure(e);
    }
    this.end(result);
  }

  failed(err: unknown): void {
    this.end(this.failure(err));
  }

  private send(incarnation: string | null): void {
    const { caller, cluster, keys } = this.shared;
    try {
      if (cluster !== null && incarnation !== null) {
        this.identity = { clusterId: cluster.clusterId, incarnation, signing: keys?.keyFor(this.req.participant) ?? null };
      }
      caller.dispatch(this, this);
    } catch (e) {
      this.failed(e);
    }
  }

  private failure(e: unknown): R {
    const { req, name } = this;
    this.shared.errorLog.failed({ call: name, url: req.url, txId: req.txId, participant: req.participant }, e);
    return this.reading.failure(`${name} failed: ${publicCallError(e)}`);
  }

  private end(result: R): void {
    this.shared.observer?.ended(this.name, this.req, (performance.now() - this.t0) / 1000, this.signal.aborted);
    this.resolve(result);
  }
}

/** A prepare answer (status and parsed body, undefined when it was not JSON) as a result. */
export function prepareResultOf(status: number, body: unknown): PrepareResult {
  if (status < 200 || status > 299) return { kind: 'failure', error: answerError('prepare', status, body).error };
  return voteOf(body);
}

/** A precommit, commit or abort answer (status and parsed body) as a result. */
export function deliverResultOf(kind: Phase2Kind, status: number, body: unknown): DeliverResult {
  if (status >= 200 && status <= 299) return { kind: 'ack', state: stringField(body, (o) => o.state) };
  // The participant's own code and message (bounded, one line) go to the view's lastError.
  return { kind: 'failure', ...answerError(kind, status, body) };
}

export function parseVote(text: string): PrepareResult {
  return voteOf(parseJson(text));
}

/** A prepare answer's vote; `value` is the parsed body, undefined when it was not JSON. */
function voteOf(value: unknown): PrepareResult {
  if (value === undefined) return { kind: 'failure', error: 'prepare answer is not JSON' };
  if (typeof value !== 'object' || value === null) return { kind: 'failure', error: 'prepare answer is not an object' };
  const { vote, reason } = value as { vote?: unknown; reason?: unknown };
  if (vote === 'commit') return { kind: 'vote', vote: 'commit' };
  if (vote === 'abort') return { kind: 'vote', vote: 'abort', reason: typeof reason === 'string' ? reason.slice(0, 1024) : null };
  return { kind: 'failure', error: 'prepare answer has no vote "commit" or "abort"' };
}

/** One short string field of a JSON object answer, or null (answers need not be JSON at all). */
function stringField(value: unknown, pick: (o: Record<string, unknown>) => unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const field = pick(value as Record<string, unknown>);
  return typeof field === 'string' && field.length <= 64 ? field : null;
}
