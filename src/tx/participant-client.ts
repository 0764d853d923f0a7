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
import { promiseOf } from '../util/promise-of.js';
import { Agent } from '../util/undici-parts.js';
import { ParticipantCaller, parseJson, type CallAnswer, type CallIdentity, type CallName } from './participant-batch.js';
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

  const identityOf = (cluster: ClusterCaller, participant: string, incarnation: string): CallIdentity => ({
    clusterId: cluster.clusterId,
    incarnation,
    signing: opts.keys?.keyFor(participant) ?? null,
  });
  // Not async, and no promise awaited once the incarnation is known: every call (four
  // per transaction) went through two async frames here, a promise and a suspended
  // frame each, on the leader's busiest path.
  const post = (name: CallName, req: Phase2Request, body: object, call: CallOptions): Promise<CallAnswer> => {
    const refused = opts.urlPolicy.checkUrl(req.url);
    if (refused !== null) return Promise.reject(refused);
    const send = (identity: CallIdentity | null): Promise<CallAnswer> =>
      caller.call({
        name,
        baseUrl: req.url,
        term: req.term,
        identity,
        json: JSON.stringify(body),
        timeoutMs: call.timeoutMs,
        signal: call.signal,
      });
    const cluster = opts.caller;
    if (cluster === undefined) return send(null);
    const known = cluster.known();
    if (known !== null) return send(identityOf(cluster, req.participant, known));
    return cluster.incarnation(call.signal, call.timeoutMs).then((incarnation) => send(identityOf(cluster, req.participant, incarnation)));
  };
  const failed = (call: CallName, req: Phase2Request, e: unknown): string => {
    errorLog.failed({ call, url: req.url, txId: req.txId, participant: req.participant }, e);
    return `${call} failed: ${publicCallError(e)}`;
  };

  // Not async either: a suspended async frame per call lived as long as the call and was the
  // largest thing the leader promoted per transaction (scripts/bench/results/README.md, "Fewer
  // cuts per transaction"). One reaction does what the try/await/catch did: whatever throws,
  // sending or reading the answer, is a failure, never a rejection.
  const settle = <R>(start: () => Promise<CallAnswer>, read: (a: CallAnswer) => R, failure: (e: unknown) => R): Promise<R> =>
    promiseOf(start).then((answer) => {
      try {
        return read(answer);
      } catch (e) {
        return failure(e);
      }
    }, failure);

  return {
    prepare(req, call) {
      const body = { txId: req.txId, participant: req.participant, payload: req.payload ?? null, protocol: req.protocol, term: req.term };
      return settle(
        () => post('prepare', req, body, call),
        (answer): PrepareResult => prepareResultOf(answer.status, answer.body),
        (e): PrepareResult => ({ kind: 'failure', error: failed('prepare', req, e) }),
      );
    },
    deliver(kind, req, call) {
      const body = { txId: req.txId, participant: req.participant, term: req.term };
      return settle(
        () => post(kind, req, body, call),
        (answer): DeliverResult => deliverResultOf(kind, answer.status, answer.body),
        (e): DeliverResult => ({ kind: 'failure', error: failed(kind, req, e), code: null }),
      );
    },
    async close() {
      await agent.close();
    },
  };
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
