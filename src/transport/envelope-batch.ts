// How many queued Raft messages go into one envelope (one HTTP request or one
// stream frame): the longest queue prefix within a message cap and a byte cap,
// with the byte size estimated rather than measured by encoding twice.
import { assertNever } from '../util/assert-never.js';
import { oncePerTurn } from '../util/once-per-turn.js';
import type { Entry, Member, Message, NodeId } from '../raft/types.js';

export interface BatchLimits {
  readonly clusterId: string;
  readonly nodeId: NodeId;
  readonly maxEnvelopeBytes: number;
  readonly maxMessagesPerEnvelope: number;
}

/**
 * Messages waiting for one peer, for either outbound path. Bounded: a full queue
 * drops the new message and counts it (Raft retries). Drained on a microtask, so
 * every send() of the current turn shares one envelope.
 */
export class OutboundQueue {
  readonly messages: Message[] = [];
  private readonly scheduleDrain: () => void;

  constructor(
    private readonly max: number,
    private readonly counters: { dropped: number },
    drain: () => void,
  ) {
    this.scheduleDrain = oncePerTurn(drain);
  }

  push(message: Message): void {
    if (this.messages.length >= this.max) {
      this.counters.dropped++;
      return;
    }
    this.messages.push(message);
    this.scheduleDrain();
  }

  /** Empties the queue and returns how many messages it held. */
  clear(): number {
    const n = this.messages.length;
    this.messages.length = 0;
    return n;
  }
}

/** Messages taken for one envelope, and envelopeBytesAtMost of them, summed as they were taken. */
export interface Batch {
  readonly messages: Message[];
  readonly bytesAtMost: number;
}

/** Removes and returns the longest prefix of `queue` within the caps; always at least one message. */
export function takeBatch(queue: Message[], limits: BatchLimits): Batch {
  let count = 0;
  let bytes = envelopeOverheadBytes(limits.clusterId, limits.nodeId);
  for (const m of queue) {
    const size = estimateBytes(m);
    if (count > 0 && (count >= limits.maxMessagesPerEnvelope || bytes + size > limits.maxEnvelopeBytes)) break;
    count++;
    bytes += size;
  }
  return { messages: queue.splice(0, count), bytesAtMost: bytes };
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

/** An upper bound of an envelope's encoded size: its fields and estimateBytes of each message. */
export function envelopeBytesAtMost(e: {
  readonly clusterId: string;
  readonly from: NodeId;
  readonly messages: readonly Message[];
}): number {
  let bytes = envelopeOverheadBytes(e.clusterId, e.from);
  for (const m of e.messages) bytes += estimateBytes(m);
  return bytes;
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
