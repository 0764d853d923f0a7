// Outbound path to one peer: a bounded queue, a keep-alive undici Pool, and a
// pump that packs everything queued into one envelope per request while fewer
// than maxInflight requests are outstanding.
//
// Raft tolerates loss, so nothing here retries or throws: a full queue drops
// the new message, a failed request drops its messages, and both are counted.
// Under load, messages pile up while requests are in flight, so batching grows
// exactly when it pays.
import { Pool } from '../util/undici-parts.js';
import type { Message, NodeId } from '../raft/types.js';
import { encodeEnvelope } from './codec.js';
import { OutboundQueue, takeBatch, type BatchLimits } from './envelope-batch.js';
import { ENVELOPE_VERSION } from './message-guard.js';
import { describeError, readCapped, ThrottledPeerLog, type TransportLogger } from './peer-log.js';
import { BODY_SHA256_HEADER, bodySha256, newNonce, PEER_AUTH_HEADER, PEER_FROM_HEADER, signOpening, type PeerKeys } from './peer-mac.js';
import { peerConnectOptions, type TlsMaterial } from './peer-tls.js';
import type { RemovalNotice } from './peer-admission.js';
import { FROM_URL_HEADER, MSGPACK_CONTENT_TYPE, RAFT_MESSAGES_PATH } from './raft-routes.js';
import { MEMBER_REMOVED_STATUS, removalNoticeOf } from './removal-answer.js';

export type { TransportLogger } from './peer-log.js';

export interface TransportCounters {
  /** Messages in requests the peer accepted (2xx). */
  sent: number;
  /** Messages never sent: queue full, unknown or unreachable peer, transport closed. */
  dropped: number;
  /** Messages in requests that failed (network error, timeout, non-2xx). */
  failed: number;
  /** Envelopes that went out: requests answered 2xx plus stream frames written. */
  envelopes: number;
}

export interface PeerChannelConfig extends BatchLimits {
  readonly clusterId: string;
  readonly nodeId: NodeId;
  /** Keys from the cluster secrets: every request and frame is signed (peer-mac.ts); null: unsigned. */
  readonly keys: PeerKeys | null;
  /** TLS to https:// peers (trust, and our certificate with mutual TLS); null: the system's defaults. */
  readonly tls: TlsMaterial | null;
  readonly maxQueuedMessages: number;
  readonly maxInflightRequests: number;
  readonly requestTimeoutMs: number;
  readonly logger: TransportLogger | undefined;
  /** This node's own URL, sent along so a peer without an address for it can answer. */
  readonly selfUrl: string | null;
  /** A peer refused this node with 410 MEMBER_REMOVED (the node decides what it means). */
  readonly onRemoved: ((notice: RemovalNotice) => void) | undefined;
}

type FailureDetail = { readonly err: string } | { readonly status: number; readonly bytes: number; readonly body: string };

export class PeerChannel {
  private readonly queue: OutboundQueue;
  private readonly pool: Pool;
  private readonly path: string;
  private inflight = 0;
  private closed = false;
  private readonly failures: ThrottledPeerLog;

  constructor(
    readonly peerId: NodeId,
    /** Validated http(s) URL of the peer. */
    readonly url: URL,
    private readonly config: PeerChannelConfig,
    private readonly counters: TransportCounters,
  ) {
    this.path = url.pathname.replace(/\/+$/, '') + RAFT_MESSAGES_PATH;
    this.failures = new ThrottledPeerLog(config.logger);
    this.queue = new OutboundQueue(config.maxQueuedMessages, counters, () => this.pump());
    this.pool = new Pool(url.origin, {
      connections: config.maxInflightRequests,
      pipelining: 1,
      connect: {
        timeout: config.requestTimeoutMs,
        ...(config.tls !== null && url.protocol === 'https:' ? peerConnectOptions(config.tls, peerId) : {}),
      },
    });
  }

  enqueue(message: Message): void {
    if (this.closed) this.counters.dropped++;
    else this.queue.push(message);
  }

  /** Drops what is queued, aborts requests in flight and closes the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.counters.dropped += this.queue.clear();
    await this.pool.destroy().catch(() => undefined); // closing is best effort; requests in flight count as failed
  }

  private pump(): void {
    while (!this.closed && this.inflight < this.config.maxInflightRequests && this.queue.messages.length > 0) {
      const { messages, bytesAtMost } = takeBatch(this.queue.messages, this.config);
      this.inflight++;
      void this.post(messages, bytesAtMost).finally(() => {
        this.inflight--;
        this.pump();
      });
    }
  }

  private async post(messages: Message[], bytesAtMost?: number): Promise<void> {
    let body: Uint8Array;
    try {
      body = encodeEnvelope({ v: ENVELOPE_VERSION, clusterId: this.config.clusterId, from: this.config.nodeId, messages }, bytesAtMost);
    } catch (err) {
      this.fail(messages.length, { err: describeError(err) }, 'encoding Raft messages failed');
      return;
    }
    // estimateBytes() is a guess; if it guessed low, halve the batch rather than earn a 413.
    if (body.byteLength > this.config.maxEnvelopeBytes && messages.length > 1) {
      const half = Math.ceil(messages.length / 2);
      await this.post(messages.slice(0, half));
      await this.post(messages.slice(half));
      return;
    }
    await this.request(body, messages.length);
  }

  private async request(body: Uint8Array, count: number): Promise<void> {
    try {
      const headers = this.headers(body);
      const res = await this.pool.request({
        method: 'POST',
        path: this.path,
        headers,
        body,
        signal: AbortSignal.timeout(this.config.requestTimeoutMs),
      });
      if (res.statusCode >= 200 && res.statusCode < 300) {
        await res.body.dump();
        this.counters.sent += count;
        this.counters.envelopes++;
        return;
      }
      const detail = { status: res.statusCode, bytes: body.byteLength, body: await readCapped(res.body) };
      const notice = removalNoticeOf(this.peerId, detail.status, detail.body);
      if (notice !== null) this.config.onRemoved?.(notice);
      this.fail(count, detail, 'peer refused Raft messages');
    } catch (err) {
      this.fail(count, { err: describeError(err) }, 'sending Raft messages failed');
    }
  }

  /** Who sends, and with a cluster secret the signed opening over this body (peer-mac.ts). */
  private headers(body: Uint8Array): Record<string, string> {
    const { nodeId, keys } = this.config;
    const headers: Record<string, string> = { 'content-type': MSGPACK_CONTENT_TYPE, [PEER_FROM_HEADER]: encodeURIComponent(nodeId) };
    if (this.config.selfUrl !== null) headers[FROM_URL_HEADER] = encodeURIComponent(this.config.selfUrl);
    if (keys === null) return headers;
    const sha = bodySha256(body);
    const opening = { method: 'POST', route: RAFT_MESSAGES_PATH, from: nodeId, to: this.peerId, bodySha256: sha };
    headers[BODY_SHA256_HEADER] = sha;
    headers[PEER_AUTH_HEADER] = signOpening(keys.signing(nodeId), opening, Date.now(), newNonce());
    return headers;
  }

  private fail(count: number, detail: FailureDetail, msg: string): void {
    this.counters.failed += count;
    if (this.closed) return;
    const line = { peer: this.peerId, url: this.url.origin, messages: count, ...detail };
    // Loss is routine for Raft (debug), but a 413 repeats forever: one message is larger than
    // the peer accepts (maxAppendBytes or snapshotChunkBytes vs bodyLimitBytes), so say it louder.
    if ('status' in detail && detail.status === 413)
      this.failures.report('warn', line, `${msg}: envelope larger than the peer's body limit`);
    else if ('status' in detail && detail.status === MEMBER_REMOVED_STATUS)
      this.failures.report('debug', line, `${msg}: this node was removed`);
    else this.failures.report('debug', line, msg);
  }
}
