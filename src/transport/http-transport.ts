// Outbound HTTP transport: groups messages by destination. Per peer, a
// PeerStream (one long-lived request carrying frames, see peer-stream.ts) takes
// every message but snapshot chunks, which go through a PeerChannel (one request
// per envelope, keep-alive pool, see peer-channel.ts) so that a megabyte chunk
// never holds heartbeats and appends up behind it. The channel also serves a peer
// that does not speak streams, or every message when streams are turned off.
// The inbound side is raft-routes.ts. send() never throws: Raft retries.
import { RatifyError } from '../errors.js';
import type { Member, Message, NodeId } from '../raft/types.js';
import { checkRange } from './check-range.js';
import { DEFAULT_WIRE_LIMITS } from './message-guard.js';
import type { RemovalNotice } from './peer-admission.js';
import { PeerChannel, type PeerChannelConfig, type TransportCounters, type TransportLogger } from './peer-channel.js';
import { PeerKeys } from './peer-mac.js';
import { PeerStream } from './peer-stream.js';
import type { TlsMaterial } from './peer-tls.js';
import { parseSecretList } from '../node/secrets.js';
import type { Transport } from './transport.js';

export type { TransportCounters, TransportLogger } from './peer-channel.js';

export interface HttpTransportOptions {
  readonly clusterId: string;
  readonly nodeId: NodeId;
  /** The cluster secret(s), comma-separated (the first signs); null sends unsigned. */
  readonly secret: string | null;
  /** TLS material for https:// peers; null or absent uses the system's defaults. */
  readonly tls?: TlsMaterial | null;
  readonly members: readonly Member[];
  readonly maxQueuedMessagesPerPeer: number;
  readonly maxInflightRequestsPerPeer: number;
  readonly requestTimeoutMs: number;
  /** Byte cap of one envelope; keep it at or below the peers' bodyLimitBytes. Default 4 MiB. */
  readonly maxEnvelopeBytes?: number;
  /** Message cap of one envelope; at most the peers' wire limit. Default DEFAULT_WIRE_LIMITS. */
  readonly maxMessagesPerEnvelope?: number;
  readonly logger?: TransportLogger;
  /** Send over long-lived streams (default true); false sends one request per envelope. */
  readonly streams?: boolean;
  /** This node's URL, sent to peers in x-ratify-from-url (default: its entry in `members`, if any). */
  readonly selfUrl?: string;
  /** A peer answered 410 MEMBER_REMOVED: it applied this node's removal (see peer-admission.ts). */
  readonly onRemovedByPeer?: (notice: RemovalNotice) => void;
}

interface Peer {
  readonly url: string;
  readonly channel: PeerChannel;
  readonly stream: PeerStream | null;
}

export const DEFAULT_MAX_ENVELOPE_BYTES = 4 * 1024 * 1024;

export class HttpTransport implements Transport {
  private readonly config: PeerChannelConfig;
  /** One channel per peer, with the URL string it was built from. Members with an unusable URL have none. */
  private readonly peers = new Map<NodeId, Peer>();
  private readonly streams: boolean;
  private readonly counterValues: TransportCounters = { sent: 0, dropped: 0, failed: 0, envelopes: 0 };
  private closed = false;

  constructor(opts: HttpTransportOptions) {
    this.config = validateOptions(opts);
    this.streams = opts.streams ?? true;
    this.setMembers(opts.members);
  }

  send(messages: readonly Message[]): void {
    for (const m of messages) {
      const peer = this.closed ? undefined : this.peers.get(m.to);
      if (peer === undefined) this.counterValues.dropped++;
      else if (m.type !== 'snapshot' && peer.stream?.usable === true) peer.stream.enqueue(m);
      else peer.channel.enqueue(m);
    }
  }

  setMembers(members: readonly Member[]): void {
    if (this.closed) return;
    const wanted = new Map(members.filter((m) => m.id !== this.config.nodeId).map((m) => [m.id, m.url]));
    for (const [id, peer] of this.peers) {
      if (wanted.get(id) === peer.url) continue;
      // Removed, or moved to a new address: its queue and connections go.
      this.peers.delete(id);
      peer.stream?.close();
      void peer.channel.close();
    }
    for (const [id, url] of wanted) {
      if (this.peers.has(id)) continue;
      const parsed = parsePeerUrl(url);
      if (parsed === null) {
        this.config.logger?.warn({ peer: id, url }, 'peer URL is not a valid http(s) URL; messages to it are dropped');
        continue;
      }
      const stream = this.streams ? new PeerStream(id, parsed, this.config, this.counterValues) : null;
      this.peers.set(id, { url, channel: new PeerChannel(id, parsed, this.config, this.counterValues), stream });
    }
  }

  /** Message counters since start, for metrics. */
  counters(): Readonly<TransportCounters> {
    return { ...this.counterValues };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const peers = [...this.peers.values()];
    this.peers.clear();
    for (const p of peers) p.stream?.close();
    await Promise.all(peers.map((p) => p.channel.close()));
  }
}

function validateOptions(opts: HttpTransportOptions): PeerChannelConfig {
  if (opts.clusterId.length === 0 || opts.nodeId.length === 0) {
    throw new RatifyError('CONFIG_INVALID', 'clusterId and nodeId must be non-empty');
  }
  const maxEnvelopeBytes = opts.maxEnvelopeBytes ?? DEFAULT_MAX_ENVELOPE_BYTES;
  const secrets = parseSecretList(opts.secret);
  const maxMessagesPerEnvelope = opts.maxMessagesPerEnvelope ?? DEFAULT_WIRE_LIMITS.maxMessagesPerEnvelope;
  checkRange('maxQueuedMessagesPerPeer', opts.maxQueuedMessagesPerPeer, 1, 1_000_000);
  checkRange('maxInflightRequestsPerPeer', opts.maxInflightRequestsPerPeer, 1, 64);
  checkRange('requestTimeoutMs', opts.requestTimeoutMs, 10, 600_000);
  checkRange('maxEnvelopeBytes', maxEnvelopeBytes, 1024, 1024 * 1024 * 1024);
  checkRange('maxMessagesPerEnvelope', maxMessagesPerEnvelope, 1, DEFAULT_WIRE_LIMITS.maxMessagesPerEnvelope);
  return {
    clusterId: opts.clusterId,
    nodeId: opts.nodeId,
    keys: secrets.length === 0 ? null : new PeerKeys(secrets, opts.clusterId),
    tls: opts.tls ?? null,
    maxQueuedMessages: opts.maxQueuedMessagesPerPeer,
    maxInflightRequests: opts.maxInflightRequestsPerPeer,
    requestTimeoutMs: opts.requestTimeoutMs,
    maxEnvelopeBytes,
    maxMessagesPerEnvelope,
    logger: opts.logger,
    selfUrl: opts.selfUrl ?? opts.members.find((m) => m.id === opts.nodeId)?.url ?? null,
    onRemoved: opts.onRemovedByPeer,
  };
}

function parsePeerUrl(url: string): URL | null {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed : null;
  } catch {
    return null;
  }
}
