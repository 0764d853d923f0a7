// Outbound path to one peer: a bounded queue, a keep-alive undici Pool, and a
// pump that packs everything queued into one envelope per request while fewer
// than maxInflight requests are outstanding.
//
// Raft tolerates loss, so nothing here retries or throws: a full queue drops
// the new message, a failed request drops its messages, and both are counted.
// Under load, messages pile up while requests are in flight, so batching grows
// exactly when it pays.
import { Pool, type Dispatcher } from 'undici';
import { assertNever, type Entry, type Member, type Message, type NodeId } from '../raft/types.js';
import { encodeEnvelope } from './codec.js';
import { ENVELOPE_VERSION } from './message-guard.js';
import { MSGPACK_CONTENT_TYPE, RAFT_MESSAGES_PATH, SECRET_HEADER } from './raft-routes.js';

export interface TransportLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface TransportCounters {
  /** Messages in requests the peer accepted (2xx). */
  sent: number;
  /** Messages never sent: queue full, unknown or unreachable peer, transport closed. */
  dropped: number;
  /** Messages in requests that failed (network error, timeout, non-2xx). */
  failed: number;
}

export interface PeerChannelConfig {
  readonly clusterId: string;
  readonly nodeId: NodeId;
  readonly secret: string | null;
  readonly maxQueuedMessages: number;
  readonly maxInflightRequests: number;
  readonly requestTimeoutMs: number;
  readonly maxEnvelopeBytes: number;
  readonly maxMessagesPerEnvelope: number;
  readonly logger: TransportLogger | undefined;
}

type FailureDetail = { readonly err: string } | { readonly status: number; readonly bytes: number; readonly body: string };

/** At most one failure line per peer per interval; the rest are counted into the next line. */
const LOG_INTERVAL_MS = 5000;
const ERROR_BODY_BYTES_MAX = 1024;

export class PeerChannel {
  private readonly queue: Message[] = [];
  private readonly pool: Pool;
  private readonly path: string;
  private inflight = 0;
  private pumpScheduled = false;
  private closed = false;
  private lastLogMs = 0;
  private suppressedLogs = 0;

  constructor(
    readonly peerId: NodeId,
    /** Validated http(s) URL of the peer. */
    readonly url: URL,
    private readonly config: PeerChannelConfig,
    private readonly counters: TransportCounters,
  ) {
    this.path = url.pathname.replace(/\/+$/, '') + RAFT_MESSAGES_PATH;
    this.pool = new Pool(url.origin, {
      connections: config.maxInflightRequests,
      pipelining: 1,
      connect: { timeout: config.requestTimeoutMs },
    });
  }

  enqueue(message: Message): void {
    if (this.closed || this.queue.length >= this.config.maxQueuedMessages) {
      this.counters.dropped++;
      return;
    }
    this.queue.push(message);
    // Pump on a microtask so that every send() of the current turn shares a request.
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      queueMicrotask(() => {
        this.pumpScheduled = false;
        this.pump();
      });
    }
  }

  /** Drops what is queued, aborts requests in flight and closes the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.counters.dropped += this.queue.length;
    this.queue.length = 0;
    await this.pool.destroy().catch(() => undefined); // closing is best effort; requests in flight count as failed
  }

  private pump(): void {
    while (!this.closed && this.inflight < this.config.maxInflightRequests && this.queue.length > 0) {
      const batch = this.takeBatch();
      this.inflight++;
      void this.post(batch).finally(() => {
        this.inflight--;
        this.pump();
      });
    }
  }

  /** The longest queue prefix within the count and byte caps; always at least one message. */
  private takeBatch(): Message[] {
    let count = 0;
    let bytes = envelopeOverheadBytes(this.config.clusterId, this.config.nodeId);
    for (const m of this.queue) {
      const size = estimateBytes(m);
      if (count > 0 && (count >= this.config.maxMessagesPerEnvelope || bytes + size > this.config.maxEnvelopeBytes)) break;
      count++;
      bytes += size;
    }
    return this.queue.splice(0, count);
  }

  private async post(messages: Message[]): Promise<void> {
    let body: Uint8Array;
    try {
      body = encodeEnvelope({ v: ENVELOPE_VERSION, clusterId: this.config.clusterId, from: this.config.nodeId, messages });
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
      const headers: Record<string, string> = { 'content-type': MSGPACK_CONTENT_TYPE };
      if (this.config.secret !== null) headers[SECRET_HEADER] = this.config.secret;
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
        return;
      }
      const detail = { status: res.statusCode, bytes: body.byteLength, body: await readCapped(res.body) };
      this.fail(count, detail, 'peer refused Raft messages');
    } catch (err) {
      this.fail(count, { err: describeError(err) }, 'sending Raft messages failed');
    }
  }

  private fail(count: number, detail: FailureDetail, msg: string): void {
    this.counters.failed += count;
    const logger = this.config.logger;
    if (this.closed || logger === undefined) return;
    const nowMs = Date.now();
    if (nowMs - this.lastLogMs < LOG_INTERVAL_MS) {
      this.suppressedLogs++;
      return;
    }
    const line = { peer: this.peerId, url: this.url.origin, messages: count, suppressed: this.suppressedLogs, ...detail };
    // Loss is routine for Raft (debug), but a 413 repeats forever: one message is larger than
    // the peer accepts (maxAppendBytes or snapshotChunkBytes vs bodyLimitBytes), so say it louder.
    if ('status' in detail && detail.status === 413) logger.warn(line, `${msg}: envelope larger than the peer's body limit`);
    else logger.debug(line, msg);
    this.lastLogMs = nowMs;
    this.suppressedLogs = 0;
  }
}

/**
 * An upper bound of a message's encoded size, for the envelope byte cap
 * (encoding twice to measure would double the cost of every send). Strings
 * count 3 bytes per UTF-16 unit, the most UTF-8 needs; the property test in
 * test/transport/peer-channel.test.ts checks that the bound holds.
 */
export function estimateBytes(m: Message): number {
  const base = MESSAGE_OVERHEAD_BYTES + stringBytes(m.from) + stringBytes(m.to);
  switch (m.type) {
    case 'append':
      return base + m.entries.reduce((sum, e) => sum + ENTRY_OVERHEAD_BYTES + entryPayloadBytes(e), 0);
    case 'snapshot':
      return base + 5 + m.chunk.byteLength + membersBytes(m.meta.members);
    default:
      return base;
  }
}

/** The envelope's own fields, around its messages. */
export function envelopeOverheadBytes(clusterId: string, from: NodeId): number {
  return 64 + stringBytes(clusterId) + stringBytes(from);
}

/** Field names and numbers of the largest message type, with its record definition. */
const MESSAGE_OVERHEAD_BYTES = 192;
const ENTRY_OVERHEAD_BYTES = 64;

function stringBytes(s: string): number {
  return 5 + 3 * s.length;
}

function entryPayloadBytes(e: Entry): number {
  switch (e.kind) {
    case 'normal':
      return 5 + e.data.byteLength;
    case 'noop':
      return 0;
    case 'config':
      return membersBytes(e.members);
    default:
      return assertNever(e);
  }
}

function membersBytes(members: readonly Member[]): number {
  return 32 + members.reduce((sum, m) => sum + 16 + stringBytes(m.id) + stringBytes(m.url), 0);
}

/** The start of an error reply, for the log; leaving the loop early destroys the rest of the body. */
async function readCapped(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of body) {
    chunks.push(Buffer.from(chunk));
    bytes += chunk.byteLength;
    if (bytes >= ERROR_BODY_BYTES_MAX) break;
  }
  return Buffer.concat(chunks).subarray(0, ERROR_BODY_BYTES_MAX).toString('utf8');
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : `${err.name}: ${err.message}`;
  }
  return String(err);
}
