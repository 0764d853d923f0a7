// Cooperative termination: asking the cluster what became of a transaction.
//
// GET {url}/v1/transactions/{id} is a linearizable read, so one answer from any
// node is authoritative at that moment. An outcome is final. The subtle answer
// is 404 (TX_NOT_FOUND) for a transaction we prepared:
//
// - Retention cannot explain it: the coordinator only forgets a finished
//   transaction, and finishing needs our acknowledgement, which we have not given
//   (we are still in doubt, and records are durable before we answer).
// - So the transaction is not in the committed log. Under presumed abort that
//   means abort, but only once it can never appear there later: a leader may have
//   sent our prepare while its `created` entry was still uncommitted, and that
//   entry may yet commit.
// - Raft settles it. If some node reports a known leader with a term greater than
//   the term of our prepare, a majority has moved past that term; every later
//   leader has committed an entry of its own term before serving a read (ReadIndex),
//   so an entry of the older term that is not in its log never will be. A 404 from
//   a read started AFTER that observation is therefore final: `forgotten`, abort.
// - Without that observation (same leader, same term) a 404 stays `unknown` and
//   we keep waiting; the leader that prepared us is alive and will decide.
// - All of this holds only for the cluster incarnation that prepared us, and a
//   404 only counts when the asker may see every transaction (answer-scope.ts).
//   Every reply is checked; one that fails counts as a node we could not reach.
import { Agent, request, type Dispatcher } from 'undici';
import { notFoundIsAuthoritative, scopeMismatch, type ClusterScope, type ReplyHeaders } from './answer-scope.js';
import type { ParticipantLogger } from './types.js';

export type InquiryResult =
  | { readonly kind: 'decided'; readonly outcome: 'committed' | 'aborted' }
  | { readonly kind: 'undecided'; readonly state: string }
  | { readonly kind: 'forgotten' }
  | { readonly kind: 'unknown' }
  /** Some node answered in the API's error shape (e.g. 503 NO_LEADER) but none could tell: the cluster is there, not deciding yet. */
  | { readonly kind: 'unavailable'; readonly errors: readonly string[] }
  /** No node answered at all (refused, timed out, reset, or a reply that is not the API's): the only case the 3PC timeout rule counts. */
  | { readonly kind: 'unreachable'; readonly errors: readonly string[] };

/** A node answered in the API's `{error: {code}}` shape without settling the question. */
class NodeCouldNotTell extends Error {}

/** A node answered, but its answer is no evidence about our record (answer-scope.ts): as if unreachable. */
class NotEvidence extends Error {}

/** What is asked about one record. */
export interface TxQuestion {
  readonly txId: string;
  readonly preparedTerm: number;
  /** The cluster incarnation that prepared the record; null for records from before scopes. */
  readonly preparedBy: ClusterScope | null;
}

export interface TxInquiry {
  ask(q: TxQuestion): Promise<InquiryResult>;
  close(): Promise<void>;
}

export interface JsonReply {
  readonly status: number;
  readonly body: unknown;
  /** Absent in the model checker's replies: those are always from the right cluster and authoritative. */
  readonly headers?: ReplyHeaders;
}

/** Distinct "not evidence" warnings kept, so a misconfiguration is logged once per node and reason. */
const WARNED_MAX = 64;

/** Largest reply body read from the cluster (a view of a tx with many participants). */
const REPLY_BYTES_MAX = 4 * 1024 * 1024;

export class HttpTxInquiry implements TxInquiry {
  private readonly agent: Agent;
  private next = 0;
  private readonly warned = new Set<string>();

  /**
   * `token`: a client API token for clusters with tokens configured; both
   * routes asked are GETs, which a `reader` token may call.
   */
  constructor(
    private readonly urls: readonly string[],
    private readonly timeoutMs: number,
    private readonly token: string | null = null,
    private readonly logger: ParticipantLogger | null = null,
  ) {
    this.agent = new Agent({ keepAliveTimeout: 10_000, connections: 4, connect: { timeout: timeoutMs } });
  }

  async ask(q: TxQuestion): Promise<InquiryResult> {
    const errors: string[] = [];
    let someNodeAnswered = false;
    // Start at a different node each time so one dead node does not slow every inquiry.
    const start = this.next++ % Math.max(1, this.urls.length);
    for (let i = 0; i < this.urls.length; i++) {
      const url = this.urls[(start + i) % this.urls.length]!;
      try {
        return await this.askOne(url, q);
      } catch (e) {
        someNodeAnswered ||= e instanceof NodeCouldNotTell;
        if (e instanceof NotEvidence) this.warnOnce(url, e.message, q.txId);
        errors.push(`${url}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return { kind: someNodeAnswered ? 'unavailable' : 'unreachable', errors };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async askOne(url: string, q: TxQuestion): Promise<InquiryResult> {
    const txUrl = `${url}/v1/transactions/${encodeURIComponent(q.txId)}`;
    const first = interpretTx(await this.getJson(txUrl), q.preparedBy);
    if (first.kind !== 'unknown') return first;
    try {
      // Order matters: observe the newer leader first, then read again (see top).
      // Both from our cluster incarnation: another log's terms prove nothing.
      const cluster = await this.getJson(`${url}/v1/cluster`);
      if (scopeMismatch(q.preparedBy, cluster.headers) !== null || !hasLeaderAfter(cluster, q.preparedTerm)) return first;
      const second = interpretTx(await this.getJson(txUrl), q.preparedBy);
      return second.kind === 'unknown' ? { kind: 'forgotten' } : second;
    } catch {
      // The first read stands: the node answered "unknown"; only the confirmation failed.
      return first;
    }
  }

  private async getJson(url: string): Promise<JsonReply> {
    const res = await request(url, {
      method: 'GET',
      dispatcher: this.agent as Dispatcher,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      headers: this.token === null ? { accept: 'application/json' } : { accept: 'application/json', authorization: `Bearer ${this.token}` },
    });
    const text = await res.body.text();
    if (text.length > REPLY_BYTES_MAX) throw new Error(`reply of ${text.length} bytes exceeds ${REPLY_BYTES_MAX}`);
    let body: unknown = null;
    try {
      body = text.length === 0 ? null : JSON.parse(text);
    } catch {
      throw new Error(`status ${res.statusCode}, body is not JSON`);
    }
    return { status: res.statusCode, body, headers: res.headers };
  }

  private warnOnce(url: string, reason: string, txId: string): void {
    const key = `${url} ${reason}`;
    if (this.warned.has(key) || this.warned.size >= WARNED_MAX) return;
    this.warned.add(key);
    this.logger?.warn(
      { url, txId, reason },
      'a coordinator node answered an inquiry, but not for the cluster that prepared the transaction (or not with the right to see it); treating it as unreachable: check coordinatorUrls and coordinatorToken',
    );
  }
}

/**
 * Maps a reply to a result; anything unexpected throws so the next node is
 * tried. A reply from another cluster incarnation than `preparedBy`, or a 404
 * the asker may not rely on, is no evidence (answer-scope.ts).
 */
export function interpretTx(r: JsonReply, preparedBy: ClusterScope | null = null): InquiryResult {
  const mismatch = scopeMismatch(preparedBy, r.headers);
  if (mismatch !== null) throw new NotEvidence(mismatch);
  const code = errorCode(r.body);
  if (r.status === 404 && code === 'TX_NOT_FOUND') {
    if (!notFoundIsAuthoritative(r.headers))
      throw new NotEvidence('404 TX_NOT_FOUND for a token that sees only its own transactions (use a reader token)');
    return { kind: 'unknown' };
  }
  if (r.status !== 200 && code !== undefined) throw new NodeCouldNotTell(`status ${r.status} ${code}`);
  if (r.status !== 200) throw new Error(`status ${r.status}`);
  const view = r.body as { outcome?: unknown; state?: unknown } | null;
  const outcome = view?.outcome;
  if (outcome === 'committed' || outcome === 'aborted') return { kind: 'decided', outcome };
  if (outcome === null && typeof view?.state === 'string') return { kind: 'undecided', state: view.state };
  throw new Error('transaction view without a valid outcome');
}

function hasLeaderAfter(r: JsonReply, preparedTerm: number): boolean {
  if (r.status !== 200 || typeof r.body !== 'object' || r.body === null) return false;
  const c = r.body as { term?: unknown; leaderId?: unknown };
  return typeof c.term === 'number' && c.term > preparedTerm && typeof c.leaderId === 'string' && c.leaderId.length > 0;
}

function errorCode(body: unknown): string | undefined {
  const code = (body as { error?: { code?: unknown } } | null)?.error?.code;
  return typeof code === 'string' ? code : undefined;
}
