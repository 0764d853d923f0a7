// Outbound Raft stream to one peer: one long-lived POST /raft/v1/stream whose
// chunked body carries length-prefixed envelopes (frames.ts), in order.
//
// Why a stream (etcd's rafthttp does the same): a request per envelope costs a
// full HTTP exchange on both nodes, about 230 us of CPU on the 2-core benchmark
// machine against about 20 us for a frame on an open stream (fastify + undici
// against node:http writes, one process), and a Raft round at low load is
// several exchanges. Ordered delivery also spares the leader the probes that reordered
// appends cause.
//
// Liveness: the peer answers 200 at once and then writes one byte now and then
// while frames arrive. Bytes written and not acknowledged within requestTimeoutMs
// mean the peer is paused, partitioned or gone; the stream is torn down and
// reopened after a backoff. While it is down, messages are dropped and counted:
// Raft re-sends what matters (heartbeats, probes), and a queue of stale messages
// would only delay the fresh ones.
//
// A TCP connect gets a shorter limit of its own (CONNECT_TIMEOUT_MAX_MS). WHY: a
// connect started while the peer is cut off (a partition, `docker network
// disconnect`) sends a SYN nobody answers, and the kernel resends it only after
// 1 s and then 3 s; once the network heals, that attempt would sit out the rest of
// requestTimeoutMs (2 s by default) and a backoff before a new one, so the leader's
// messages reached a rejoined node seconds late and its forwarded reads failed
// with NOT_LEADER meanwhile (the container chaos "partition heals" scenario). A
// new attempt also looks the peer's name up again: a container reconnected to its
// network may have a new address.
//
// A peer that answers 404 predates streams; the transport then sends to it per
// request (PeerChannel) and tries the stream again after a while.
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type Socket } from 'node:net';
import type { Message, NodeId } from '../raft/types.js';
import { encodeEnvelope } from './codec.js';
import { OutboundQueue, takeBatch } from './envelope-batch.js';
import { encodeFrame } from './frames.js';
import { ENVELOPE_VERSION } from './message-guard.js';
import type { PeerChannelConfig, TransportCounters } from './peer-channel.js';
import { describeError, readCapped, ThrottledPeerLog } from './peer-log.js';
import { FRAME_TAG_BYTES, frameTag, newNonce, PEER_AUTH_HEADER, signOpening } from './peer-mac.js';
import { peerConnectOptions } from './peer-tls.js';
import { CLUSTER_ID_HEADER, FROM_HEADER, FROM_URL_HEADER, RAFT_STREAM_PATH, STREAM_CONTENT_TYPE } from './raft-routes.js';
import { MEMBER_REMOVED_STATUS, removalNoticeOf } from './removal-answer.js';
import { StreamBackoff } from './stream-backoff.js';

/** First and last delay before reopening a failed stream; doubles in between. */
const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 1000;
/**
 * Longest wait for a TCP connection to a peer once its address is known (DNS time
 * is not counted); requestTimeoutMs when that is shorter. A SYN answered later than
 * this on a network a Raft cluster runs on was lost, and a new attempt after the
 * backoff is the kernel's retransmission, sooner.
 */
export const CONNECT_TIMEOUT_MAX_MS = 500;
/**
 * Bytes of messages one stream frame gathers at most (or the envelope limit, if
 * smaller; a single larger message still goes alone), and about how many bytes
 * the socket may hold unsent before frames wait in the queue. WHY: batched up to
 * the envelope limit (8 MiB by default), a new leader catching a restarted
 * follower up wrote frames of about 7 MB, three of them buffered at once, and
 * msgpackr's shared output buffer grew to 8.7 MB and stayed: about 30 MB of a
 * node's memory in a heap snapshot taken at the failover peak of
 * scripts/memory-probe.ts. With 1 MiB frames the probe's restarted followers
 * still caught up (its failover checks pass); a link with a large
 * bandwidth-delay product (a WAN) may want more unsent bytes, not measured.
 */
export const STREAM_BATCH_BYTES_MAX = 1024 * 1024;
/** How long a peer that answered 404 is served per request before the stream is tried again. */
const UNSUPPORTED_RETRY_MS = 60_000;

type StreamState =
  | { readonly kind: 'down' }
  /** Request sent, waiting for the peer's 200; messages queue meanwhile. */
  | { readonly kind: 'connecting'; readonly req: ClientRequest }
  | { readonly kind: 'open'; readonly req: ClientRequest }
  | { readonly kind: 'backoff'; readonly timer: NodeJS.Timeout }
  | { readonly kind: 'unsupported'; readonly timer: NodeJS.Timeout }
  | { readonly kind: 'closed' };

export class PeerStream {
  private readonly queue: OutboundQueue;
  private readonly path: string;
  private readonly failures: ThrottledPeerLog;
  private readonly watchdog: NodeJS.Timeout;
  /** Socket bytes buffered beyond which frames wait in the queue (the queue's cap then drops). */
  private readonly bufferedBytesMax: number;
  /** The batch limits of a frame: the transport's, with envelopes of at most STREAM_BATCH_BYTES_MAX. */
  private readonly batchLimits: PeerChannelConfig;
  private state: StreamState = { kind: 'down' };
  /** When the oldest byte not yet acknowledged by the peer was written; null when all are. */
  private unackedSinceMs: number | null = null;
  private readonly backoff = new StreamBackoff(BACKOFF_MIN_MS, BACKOFF_MAX_MS);
  /** The current stream's signing key and opening nonce, and the number of its next frame (peer-mac.ts); key null: unsigned. */
  private signing: { readonly key: Buffer; readonly nonce: string } | null = null;
  private seq = 0;

  constructor(
    readonly peerId: NodeId,
    /** Validated http(s) URL of the peer. */
    readonly url: URL,
    private readonly config: PeerChannelConfig,
    private readonly counters: TransportCounters,
  ) {
    this.path = url.pathname.replace(/\/+$/, '') + RAFT_STREAM_PATH;
    this.failures = new ThrottledPeerLog(config.logger);
    this.queue = new OutboundQueue(config.maxQueuedMessages, counters, () => this.flush());
    this.batchLimits = { ...config, maxEnvelopeBytes: Math.min(config.maxEnvelopeBytes, STREAM_BATCH_BYTES_MAX) };
    this.bufferedBytesMax = 2 * this.batchLimits.maxEnvelopeBytes;
    this.watchdog = setInterval(() => this.checkAcks(), Math.max(10, Math.floor(config.requestTimeoutMs / 4)));
    this.watchdog.unref();
  }

  /** False while the peer is known not to serve streams: send per request instead. */
  get usable(): boolean {
    return this.state.kind !== 'unsupported' && this.state.kind !== 'closed';
  }

  enqueue(message: Message): void {
    if (this.state.kind === 'backoff' || this.state.kind === 'unsupported' || this.state.kind === 'closed') {
      this.counters.dropped++;
      return;
    }
    this.queue.push(message);
  }

  close(): void {
    if (this.state.kind === 'closed') return;
    clearInterval(this.watchdog);
    this.teardown();
    this.state = { kind: 'closed' };
    this.counters.dropped += this.queue.clear();
  }

  private flush(): void {
    if (this.state.kind === 'down') this.open();
    if (this.state.kind !== 'open') return;
    const req = this.state.req;
    while (this.queue.messages.length > 0 && req.writableLength < this.bufferedBytesMax) {
      const { messages: batch, bytesAtMost } = takeBatch(this.queue.messages, this.batchLimits);
      let envelope: Uint8Array;
      try {
        envelope = this.encode(batch, bytesAtMost);
      } catch (err) {
        this.counters.failed += batch.length;
        this.failures.report('warn', { peer: this.peerId, err: describeError(err) }, 'encoding Raft messages failed');
        continue;
      }
      if (envelope.byteLength + FRAME_TAG_BYTES > this.config.maxEnvelopeBytes && batch.length > 1) {
        // The size estimate guessed low; put them back one by one rather than earn a 413.
        this.queue.messages.unshift(...batch);
        this.sendAlone();
        continue;
      }
      this.write(req, envelope, batch.length);
    }
    // Onto the wire now, not on the next tick. Every req.write() corks the socket
    // and Node uncorks it with process.nextTick, which runs only after the
    // microtasks queued behind this drain: on a leader, the storage write of the
    // same entries (encoding and batch building, tens of microseconds). The append
    // would wait for that, though the follower's fsync, not the leader's, is on
    // the commit path. Measured with a c=1 probe of sequential writes (3 nodes on
    // loopback): leader Ready to follower receipt p50 0.155 -> 0.108 ms. One
    // uncork per drain keeps the frames of one drain in one writev.
    req.socket?.uncork();
  }

  /** Sends the queue's first message as a frame of its own. */
  private sendAlone(): void {
    if (this.state.kind !== 'open') return;
    const m = this.queue.messages.shift()!;
    this.write(this.state.req, this.encode([m]), 1);
  }

  private encode(messages: Message[], bytesAtMost?: number): Uint8Array {
    return encodeEnvelope({ v: ENVELOPE_VERSION, clusterId: this.config.clusterId, from: this.config.nodeId, messages }, bytesAtMost);
  }

  /** Frames, tags (numbering frames in the order they are written) and writes one envelope. */
  private write(req: ClientRequest, envelope: Uint8Array, count: number): void {
    const s = this.signing;
    const frame =
      s === null ? encodeFrame(envelope) : encodeFrame(Buffer.concat([frameTag(s.key, s.nonce, this.seq++, envelope), envelope]));
    req.write(frame);
    this.counters.sent += count;
    this.counters.envelopes++;
    this.unackedSinceMs ??= Date.now();
  }

  /** Sends the request head; frames follow once the peer has answered 200 (onResponse). */
  private open(): void {
    const headers: Record<string, string> = {
      'content-type': STREAM_CONTENT_TYPE,
      [CLUSTER_ID_HEADER]: encodeURIComponent(this.config.clusterId),
      [FROM_HEADER]: encodeURIComponent(this.config.nodeId),
    };
    if (this.config.selfUrl !== null) headers[FROM_URL_HEADER] = encodeURIComponent(this.config.selfUrl);
    const { keys, nodeId, tls } = this.config;
    this.signing = null;
    this.seq = 0;
    if (keys !== null) {
      this.signing = { key: keys.signing(nodeId), nonce: newNonce() };
      const opening = { method: 'POST', route: RAFT_STREAM_PATH, from: nodeId, to: this.peerId, bodySha256: '' };
      headers[PEER_AUTH_HEADER] = signOpening(this.signing.key, opening, Date.now(), this.signing.nonce);
    }
    const https = this.url.protocol === 'https:';
    const options = { host: this.url.hostname, port: this.url.port, path: this.path, method: 'POST', headers, agent: false as const };
    // A connection of its own (no agent): the stream holds it for its whole life.
    const req = https ? httpsRequest({ ...options, ...(tls === null ? {} : peerConnectOptions(tls, this.peerId)) }) : httpRequest(options);
    req.setNoDelay(true);
    req.on('socket', (socket) => this.limitConnect(req, socket));
    req.on('response', (res) => this.onResponse(req, res));
    req.on('error', (err) => this.fail(req, { err: describeError(err) }, 'Raft stream failed'));
    req.on('close', () => this.fail(req, { err: 'connection closed' }, 'Raft stream closed'));
    req.on('drain', () => this.flush());
    req.flushHeaders();
    this.state = { kind: 'connecting', req };
    // The watchdog covers a peer that accepts the connection and never answers.
    this.unackedSinceMs = Date.now();
  }

  /** Fails the stream when its TCP connect is not answered within the connect limit, counted from the address lookup. */
  private limitConnect(req: ClientRequest, socket: Socket): void {
    if (!socket.connecting) return;
    const limitMs = Math.min(CONNECT_TIMEOUT_MAX_MS, this.config.requestTimeoutMs);
    let timer: NodeJS.Timeout | null = null;
    const start = (): void => {
      timer ??= setTimeout(() => {
        if (socket.connecting) this.fail(req, { err: `no answer to the TCP connect within ${limitMs} ms` }, 'Raft stream failed');
      }, limitMs);
      timer.unref();
    };
    const stop = (): void => {
      if (timer !== null) clearTimeout(timer);
    };
    // A name is looked up first, and a slow resolver is not a lost SYN.
    if (isIP(this.url.hostname.replace(/^\[|\]$/g, '')) !== 0) start();
    else socket.once('lookup', start);
    socket.once('connect', stop);
    socket.once('close', stop);
  }

  private onResponse(req: ClientRequest, res: IncomingMessage): void {
    if (res.statusCode === 200) {
      if (this.state.kind !== 'connecting' || this.state.req !== req) return;
      this.state = { kind: 'open', req };
      this.unackedSinceMs = null;
      res.on('data', () => {
        // Any byte acknowledges everything written before it was sent, which is at least
        // everything written before the previous acknowledgement: good enough for liveness.
        this.unackedSinceMs = null;
        this.backoff.acked();
      });
      res.on('end', () => this.fail(req, { err: 'peer ended the stream' }, 'Raft stream closed'));
      this.flush();
      return;
    }
    const status = res.statusCode ?? 0;
    void readCapped(res)
      .catch(() => '')
      .then((body) => {
        if (status === 404) {
          this.markUnsupported(req, body);
          return;
        }
        const notice = removalNoticeOf(this.peerId, status, body);
        if (notice !== null) this.config.onRemoved?.(notice);
        this.fail(req, { status, body }, 'peer refused the Raft stream');
      });
  }

  /** Tears a stuck stream down: bytes went out and the peer has not acknowledged them in time. */
  private checkAcks(): void {
    if ((this.state.kind !== 'open' && this.state.kind !== 'connecting') || this.unackedSinceMs === null) return;
    const waitedMs = Date.now() - this.unackedSinceMs;
    if (waitedMs > this.config.requestTimeoutMs) {
      this.fail(this.state.req, { err: `no acknowledgement for ${waitedMs} ms` }, 'Raft stream timed out');
    }
  }

  private fail(req: ClientRequest, detail: object, msg: string): void {
    if (!this.isCurrent(req)) return; // an older stream, already replaced
    this.teardown();
    this.counters.failed += this.queue.clear();
    const delayMs = this.backoff.failed();
    // 503: the peer is stopping; 410: this node was removed, which the node itself reports.
    const level = 'status' in detail && detail.status !== 503 && detail.status !== MEMBER_REMOVED_STATUS ? 'warn' : 'debug';
    this.failures.report(level, { peer: this.peerId, url: this.url.origin, retryInMs: delayMs, ...detail }, msg);
    const timer = setTimeout(() => {
      if (this.state.kind === 'backoff') this.state = { kind: 'down' };
    }, delayMs);
    timer.unref();
    this.state = { kind: 'backoff', timer };
  }

  private markUnsupported(req: ClientRequest, body: string): void {
    if (!this.isCurrent(req)) return;
    this.teardown();
    this.counters.failed += this.queue.clear();
    this.config.logger?.warn(
      { peer: this.peerId, url: this.url.origin, body: body.slice(0, 200), retryInMs: UNSUPPORTED_RETRY_MS },
      'peer does not serve Raft streams (an older version?); sending to it per request',
    );
    const timer = setTimeout(() => {
      if (this.state.kind === 'unsupported') this.state = { kind: 'down' };
    }, UNSUPPORTED_RETRY_MS);
    timer.unref();
    this.state = { kind: 'unsupported', timer };
  }

  private isCurrent(req: ClientRequest): boolean {
    return (this.state.kind === 'open' || this.state.kind === 'connecting') && this.state.req === req;
  }

  /** Ends the current stream, if any, without deciding what comes next. */
  private teardown(): void {
    const s = this.state;
    if (s.kind === 'open' || s.kind === 'connecting') s.req.destroy();
    else if (s.kind === 'backoff' || s.kind === 'unsupported') clearTimeout(s.timer);
    this.state = { kind: 'down' };
    this.unackedSinceMs = null;
  }
}
