// RatifyClient: a typed client of the transaction API.
//
// - Finds the leader (leader-finder.ts) and sends writes there over keep-alive
//   connections (undici).
// - On a refused or dropped connection, a timeout, 503, 502, 504, 429 or 410 (a
//   node removed from the cluster, which refuses before doing anything) it retries,
//   on another node when the failure was the node's, with capped exponential
//   backoff and full jitter, a bounded number of times.
// - Every write carries an Idempotency-Key, the caller's or a random one made once
//   per logical call, so a retry after a failover never runs a second transaction.
//   (commit and abort are idempotent by id; enlist is idempotent by name.)
import { randomUUID } from 'node:crypto';
import { Agent, request, type Dispatcher } from 'undici';
import { RatifyClientError } from './client-error.js';
import { describeError } from '../util/describe-error.js';
import {
  FINISHED_STATES,
  type ClusterView,
  type CreateTransactionInput,
  type ListInput,
  type ParticipantSpec,
  type RunTransactionInput,
  type TransactionPage,
  type TransactionView,
} from './client-types.js';
import type { ClusterNodesView, ConsistencyView, MembersView } from './admin-types.js';
import { LeaderFinder } from './leader-finder.js';

export interface RatifyClientOptions {
  /** Base URLs of cluster nodes, for example http://127.0.0.1:7001. */
  readonly nodes: readonly string[];
  /** Per HTTP request; run() and commit() wait longer, for the transaction's own timeout. */
  readonly timeoutMs?: number;
  /** Attempts after the first one. */
  readonly retries?: number;
  /**
   * The client API token (README, Security), sent as `Authorization: Bearer <token>`
   * on every request, leader discovery included. A cluster with tokens answers a
   * request without one 401 UNAUTHORIZED, and one whose role is too low 403
   * FORBIDDEN; neither is retried. Read it from a file or the environment, not argv.
   */
  readonly token?: string;
  /** Sent as x-ratify-secret (admin endpoints of a cluster with a secret, where no admin token is used). */
  readonly secret?: string;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  readonly connectionsPerNode?: number;
  /**
   * For https:// nodes: the PEM CA the nodes' certificates chain to (default: the
   * system's CAs), and a client certificate and key where the cluster asks for one
   * (the transaction API does not; admin calls of a cluster with mutual TLS and no
   * secret do).
   */
  readonly tls?: { readonly ca?: string | Buffer; readonly cert?: string | Buffer; readonly key?: string | Buffer };
}

interface Call {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly body?: unknown;
  readonly idempotencyKey?: string;
  readonly timeoutMs?: number;
}

const NODES_MAX = 64;
const REPLY_BYTES_MAX = 16 * 1024 * 1024;
/** The server's own default transaction timeout, for run()/commit() request timeouts. */
const SERVER_TX_TIMEOUT_DEFAULT_MS = 30_000;
const DECISION_SLACK_MS = 15_000;
const RETRY_STATUSES = new Set([410, 429, 502, 503, 504]);

export class RatifyClient {
  private readonly nodes: readonly string[];
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly secret: string | undefined;
  private readonly authorization: string | undefined;
  private readonly agent: Agent;
  private readonly finder: LeaderFinder;

  constructor(o: RatifyClientOptions) {
    this.nodes = checkNodes(o.nodes);
    this.timeoutMs = inRange('timeoutMs', o.timeoutMs ?? 30_000, 1, 3_600_000);
    this.retries = inRange('retries', o.retries ?? 8, 0, 100);
    this.backoffBaseMs = inRange('backoffBaseMs', o.backoffBaseMs ?? 50, 0, 60_000);
    this.backoffMaxMs = inRange('backoffMaxMs', o.backoffMaxMs ?? 2_000, this.backoffBaseMs, 600_000);
    const connections = inRange('connectionsPerNode', o.connectionsPerNode ?? 32, 1, 4096);
    this.secret = o.secret;
    this.authorization = o.token === undefined ? undefined : `Bearer ${checkToken(o.token)}`;
    const tls = o.tls ?? {};
    const connect = {
      timeout: this.timeoutMs,
      ...(tls.ca === undefined ? {} : { ca: tls.ca }),
      ...(tls.cert === undefined ? {} : { cert: tls.cert }),
      ...(tls.key === undefined ? {} : { key: tls.key }),
    };
    this.agent = new Agent({ connections, keepAliveTimeout: 30_000, connect });
    this.finder = new LeaderFinder(this.nodes, (node) =>
      this.fetchJson<ClusterView>(node, { method: 'GET', path: '/v1/cluster', timeoutMs: Math.min(this.timeoutMs, 5_000) }),
    );
  }

  /** Interactive flow, step 1: a transaction in state "active" (201). */
  createTransaction(input: CreateTransactionInput = {}): Promise<TransactionView> {
    const body = createBody(input, false);
    return this.send({ method: 'POST', path: '/v1/transactions', body, idempotencyKey: input.idempotencyKey ?? randomUUID() });
  }

  /** One-shot flow: create and run the protocol; resolves once the outcome is fixed (the decision, or 3PC's precommitted, is durable). */
  run(input: RunTransactionInput): Promise<TransactionView> {
    const body = createBody(input, true);
    const timeoutMs = Math.max(this.timeoutMs, (input.timeoutMs ?? SERVER_TX_TIMEOUT_DEFAULT_MS) + DECISION_SLACK_MS);
    return this.send({ method: 'POST', path: '/v1/transactions', body, idempotencyKey: input.idempotencyKey ?? randomUUID(), timeoutMs });
  }

  enlist(id: string, participant: ParticipantSpec): Promise<TransactionView> {
    return this.send({
      method: 'POST',
      path: `${txPath(id)}/participants`,
      body: participantBody(participant),
      idempotencyKey: randomUUID(),
    });
  }

  /** Runs the protocol; resolves once the outcome is fixed (idempotent). */
  commit(id: string): Promise<TransactionView> {
    const timeoutMs = Math.max(this.timeoutMs, SERVER_TX_TIMEOUT_DEFAULT_MS + DECISION_SLACK_MS);
    return this.send({ method: 'POST', path: `${txPath(id)}/commit`, idempotencyKey: randomUUID(), timeoutMs });
  }

  /** Rejects with code TX_ALREADY_COMMITTED (409) if the decision was commit, TX_PRECOMMITTED (409) if a 3PC transaction is precommitted. */
  abort(id: string): Promise<TransactionView> {
    return this.send({ method: 'POST', path: `${txPath(id)}/abort`, idempotencyKey: randomUUID() });
  }

  get(id: string): Promise<TransactionView> {
    return this.send({ method: 'GET', path: txPath(id) });
  }

  list(input: ListInput = {}): Promise<TransactionPage> {
    const q = new URLSearchParams();
    if (input.state !== undefined) q.set('state', input.state);
    if (input.limit !== undefined) q.set('limit', String(input.limit));
    if (input.cursor !== undefined) q.set('cursor', input.cursor);
    const qs = q.toString();
    return this.send({ method: 'GET', path: `/v1/transactions${qs === '' ? '' : `?${qs}`}` });
  }

  cluster(): Promise<ClusterView> {
    return this.send({ method: 'GET', path: '/v1/cluster' });
  }

  /** Every member's own status, gathered by the node asked (GET /v1/cluster/nodes). */
  clusterNodes(): Promise<ClusterNodesView> {
    return this.send({ method: 'GET', path: '/v1/cluster/nodes' });
  }

  // ---- administration (an admin token, or the cluster secret as `secret`) ----

  /** Adds a learner; promote it once it has caught up. */
  addMember(id: string, url: string): Promise<MembersView> {
    return this.send({ method: 'POST', path: '/v1/cluster/members', body: { id, url } });
  }

  /** Rejects with LEARNER_NOT_CAUGHT_UP (409) while the learner trails the leader. */
  promoteMember(id: string): Promise<MembersView> {
    return this.send({ method: 'POST', path: `/v1/cluster/members/${encodeURIComponent(id)}/promote` });
  }

  removeMember(id: string): Promise<MembersView> {
    return this.send({ method: 'DELETE', path: `/v1/cluster/members/${encodeURIComponent(id)}` });
  }

  /** Resolves once `to` leads. */
  transferLeadership(to: string): Promise<{ readonly leaderId: string | null; readonly term: number }> {
    return this.send({ method: 'POST', path: '/v1/cluster/leadership-transfer', body: { to } });
  }

  /** The replicas' state digests compared at common applied indexes (GET /v1/cluster/consistency). */
  consistency(): Promise<ConsistencyView> {
    return this.send({ method: 'GET', path: '/v1/cluster/consistency' });
  }

  /**
   * The leader's replicated state as a backup file (GET /v1/cluster/snapshot, see
   * backup-format.ts), refused with BAD_RESPONSE past `bytesMax` before more is read.
   */
  downloadSnapshot(o: { bytesMax: number; onProgress?: (bytes: number, totalBytes: number | null) => void }): Promise<Uint8Array> {
    const call: Call = { method: 'GET', path: '/v1/cluster/snapshot', timeoutMs: Math.max(this.timeoutMs, 120_000) };
    return this.sendWith((node) => this.fetchBytes(node, call, o.bytesMax, o.onProgress));
  }

  /** Polls get() until every participant acknowledged (state committed or aborted). */
  async waitUntilFinished(id: string, o: { timeoutMs?: number; pollMs?: number } = {}): Promise<TransactionView> {
    const deadline = Date.now() + (o.timeoutMs ?? 60_000);
    for (;;) {
      const view = await this.get(id);
      if (FINISHED_STATES.includes(view.state)) return view;
      if (Date.now() >= deadline) {
        throw new RatifyClientError('TIMEOUT', `transaction ${id} is still ${view.state}`, {
          status: 504,
          node: null,
          details: { state: view.state },
        });
      }
      await sleep(o.pollMs ?? 100);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** The retry loop. Only retryable failures loop; anything else rejects at once. */
  private send<T>(call: Call): Promise<T> {
    return this.sendWith((node) => this.fetchJson<T>(node, call));
  }

  private async sendWith<T>(fetch: (node: string) => Promise<T>): Promise<T> {
    let last: RatifyClientError | null = null;
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      if (attempt > 0) await sleep(this.backoffMs(attempt, last));
      const node = await this.finder.pick();
      try {
        return await fetch(node);
      } catch (e) {
        if (!(e instanceof RatifyClientError)) throw e;
        last = e.withAttempts(attempt + 1);
        if (!isRetryable(e)) throw last;
        // 429 is back-pressure from a healthy leader: stay; anything else: move on.
        if (e.status !== 429) this.finder.failed(node);
      }
    }
    throw last!;
  }

  /** A binary answer, read as it streams in and cut off past bytesMax; an error answer is the API's JSON. */
  private async fetchBytes(
    node: string,
    call: Call,
    bytesMax: number,
    onProgress?: (bytes: number, totalBytes: number | null) => void,
  ): Promise<Uint8Array> {
    const timeoutMs = call.timeoutMs ?? this.timeoutMs;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(`${node}${call.path}`, {
        method: call.method,
        headers: this.headers(call, 'application/octet-stream'),
        dispatcher: this.agent as Dispatcher,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (cause) {
      throw new RatifyClientError('UNREACHABLE', `${call.method} ${node}${call.path} failed: ${describeError(cause)}`, {
        status: 0,
        node,
        cause,
      });
    }
    if (res.statusCode !== 200) return parseReply<never>(res.statusCode, await res.body.text(), node, res.headers['retry-after']);
    const declared = Number(res.headers['content-length']);
    const totalBytes = Number.isSafeInteger(declared) && declared >= 0 ? declared : null;
    const tooLarge = (bytes: number): RatifyClientError =>
      new RatifyClientError('BAD_RESPONSE', `the answer from ${node} holds ${bytes} bytes or more, past the limit of ${bytesMax}`, {
        status: res.statusCode,
        node,
      });
    if (totalBytes !== null && totalBytes > bytesMax) {
      res.body.destroy();
      throw tooLarge(totalBytes);
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        bytes += chunk.byteLength;
        if (bytes > bytesMax) {
          res.body.destroy();
          throw tooLarge(bytes);
        }
        chunks.push(chunk);
        onProgress?.(bytes, totalBytes);
      }
    } catch (cause) {
      if (cause instanceof RatifyClientError) throw cause;
      throw new RatifyClientError(
        'UNREACHABLE',
        `${call.method} ${node}${call.path} broke off after ${bytes} bytes: ${describeError(cause)}`,
        { status: 0, node, cause },
      );
    }
    return new Uint8Array(Buffer.concat(chunks, bytes));
  }

  private headers(call: Call, accept: string): Record<string, string> {
    const headers: Record<string, string> = { accept };
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    if (call.idempotencyKey !== undefined) headers['idempotency-key'] = call.idempotencyKey;
    if (this.secret !== undefined) headers['x-ratify-secret'] = this.secret;
    if (this.authorization !== undefined) headers['authorization'] = this.authorization;
    return headers;
  }

  private async fetchJson<T>(node: string, call: Call): Promise<T> {
    const headers = this.headers(call, 'application/json');
    const timeoutMs = call.timeoutMs ?? this.timeoutMs;
    let status: number;
    let text: string;
    let retryAfter: string | string[] | undefined;
    try {
      const res = await request(`${node}${call.path}`, {
        method: call.method,
        headers,
        body: call.body === undefined ? null : JSON.stringify(call.body),
        dispatcher: this.agent as Dispatcher,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = res.statusCode;
      retryAfter = res.headers['retry-after'];
      text = await res.body.text();
    } catch (cause) {
      throw new RatifyClientError('UNREACHABLE', `${call.method} ${node}${call.path} failed: ${describeError(cause)}`, {
        status: 0,
        node,
        cause,
      });
    }
    return parseReply<T>(status, text, node, retryAfter);
  }

  private backoffMs(attempt: number, last: RatifyClientError | null): number {
    const ceiling = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** (attempt - 1));
    const jittered = Math.random() * ceiling;
    const hinted = last?.retryAfterMs ?? 0;
    return Math.min(this.backoffMaxMs, Math.max(jittered, hinted));
  }
}

function parseReply<T>(status: number, text: string, node: string, retryAfter: string | string[] | undefined): T {
  if (text.length > REPLY_BYTES_MAX)
    throw new RatifyClientError('BAD_RESPONSE', `reply of ${text.length} bytes from ${node}`, { status, node });
  let body: unknown;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    if (RETRY_STATUSES.has(status)) throw new RatifyClientError('UNREACHABLE', `HTTP ${status} from ${node} (not JSON)`, { status, node });
    throw new RatifyClientError('BAD_RESPONSE', `HTTP ${status} from ${node} is not JSON`, { status, node });
  }
  if (status >= 200 && status < 300) return body as T;
  throw RatifyClientError.fromResponse(status, body, node, retryAfterMs(retryAfter));
}

/** Retry-After in seconds (the only form the server sends), as ms; undefined if absent or odd. */
function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const seconds = Number(Array.isArray(header) ? header[0] : header);
  return header !== undefined && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

function isRetryable(e: RatifyClientError): boolean {
  return e.code === 'UNREACHABLE' || RETRY_STATUSES.has(e.status);
}

function createBody(input: CreateTransactionInput, commit: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (input.participants !== undefined) body['participants'] = input.participants.map(participantBody);
  if (input.protocol !== undefined) body['protocol'] = input.protocol;
  if (input.timeoutMs !== undefined) body['timeoutMs'] = input.timeoutMs;
  if (commit) body['commit'] = true;
  return body;
}

function participantBody(p: ParticipantSpec): Record<string, unknown> {
  return p.payload === undefined ? { name: p.name, url: p.url } : { name: p.name, url: p.url, payload: p.payload };
}

function txPath(id: string): string {
  return `/v1/transactions/${encodeURIComponent(id)}`;
}

function checkNodes(nodes: readonly string[]): readonly string[] {
  if (!Array.isArray(nodes) || nodes.length === 0) throw new TypeError('RatifyClient: nodes must list at least one node URL');
  if (nodes.length > NODES_MAX) throw new TypeError(`RatifyClient: nodes (${nodes.length}) must list at most ${NODES_MAX}`);
  return nodes.map((n) => {
    const url = new URL(n);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`RatifyClient: node ${n} must be http(s)`);
    return n.replace(/\/+$/, '');
  });
}

/** A token must fit an Authorization header as is (RFC 6750 b64token): no spaces, no line breaks. */
function checkToken(token: string): string {
  if (typeof token !== 'string' || !/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) {
    throw new TypeError('RatifyClient: token must be a bearer token (letters, digits and - . _ ~ + /, then = padding)');
  }
  return token;
}

function inRange(name: string, value: number, min: number, max: number): number {
  if (!Number.isFinite(value) || value < min || value > max)
    throw new RangeError(`RatifyClient: ${name} (${value}) must be between ${min} and ${max}`);
  return value;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
