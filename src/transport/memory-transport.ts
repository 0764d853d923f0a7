// An in-process network for driver and integration tests.
//
// Delivery is asynchronous (setImmediate), in send order per link, one
// onMessages call per (send, destination). Messages are dropped, and counted,
// when the destination is unknown or closed, or sits on the other side of a
// partition at delivery time (a partition also eats messages in flight).
//
// By default every message makes the wire round trip (encode, decode,
// validate), so a test sees exactly what an HTTP peer would, and a message the
// codec would refuse throws from send(): in a test, that is a bug to surface,
// not loss to tolerate. Errors thrown by a receiver's onMessages also surface
// (as uncaught exceptions), for the same reason.
//
// Membership is enforced as the HTTP transport enforces it: once setMembers()
// was called, messages to a peer not in the list are dropped (there is no
// address for it), and a receiver attached with an `admit` hook refuses the
// senders it says were removed; the sender's `onRemoved` hook then hears of it,
// as from a 410 MEMBER_REMOVED (see peer-admission.ts). setMembers() is recorded
// (see members()) so tests can assert what the driver told its transport.
import { RatifyError } from '../errors.js';
import type { Member, Message, NodeId } from '../raft/types.js';
import { decodeEnvelope, encodeEnvelope } from './codec.js';
import { ENVELOPE_VERSION } from './message-guard.js';
import type { PeerAdmission, RemovalNotice } from './peer-admission.js';
import type { InboundHandler, Transport } from './transport.js';

/** What the HTTP side of a node does beyond delivery: refuse removed senders, hear refusals. */
export interface MemoryMembershipHooks {
  readonly admit?: (from: NodeId) => PeerAdmission;
  readonly onRemoved?: (notice: RemovalNotice) => void;
  /** This node's URL, handed to receivers as the x-ratify-from-url header would be. */
  readonly selfUrl?: string;
  readonly onSenderUrl?: (from: NodeId, url: string) => void;
}

export interface MemoryNetworkOptions {
  /** Encode and decode every message as the HTTP transport would (default true). */
  readonly roundTrip?: boolean;
}

export interface MemoryNetworkCounters {
  delivered: number;
  dropped: number;
}

const CLUSTER_ID = 'memory-network';

export class MemoryNetwork {
  private readonly nodes = new Map<NodeId, MemoryTransport>();
  /** Node id -> partition group; null when the network is whole. Unlisted nodes share one group. */
  private groups: Map<NodeId, number> | null = null;
  private readonly counterValues: MemoryNetworkCounters = { delivered: 0, dropped: 0 };
  private readonly roundTrip: boolean;

  constructor(opts: MemoryNetworkOptions = {}) {
    this.roundTrip = opts.roundTrip ?? true;
  }

  /** Attaches a node. One open transport per node id at a time. */
  transport(nodeId: NodeId, onMessages: InboundHandler, hooks: MemoryMembershipHooks = {}): MemoryTransport {
    if (this.nodes.has(nodeId)) {
      throw new RatifyError('INTERNAL', `memory network: node ${nodeId} is already attached; close its transport first`);
    }
    const t = new MemoryTransport(this, nodeId, onMessages, hooks);
    this.nodes.set(nodeId, t);
    return t;
  }

  /**
   * Splits the network: nodes can reach each other only within the same group.
   * Nodes not named in any group form one more group together, so
   * partition(['n1']) isolates n1 from everyone else.
   */
  partition(...groups: readonly (readonly NodeId[])[]): void {
    const map = new Map<NodeId, number>();
    groups.forEach((group, i) => {
      for (const id of group) {
        if (map.has(id)) throw new RatifyError('INTERNAL', `memory network: node ${id} is in two partition groups`);
        map.set(id, i + 1);
      }
    });
    this.groups = map;
  }

  heal(): void {
    this.groups = null;
  }

  canReach(from: NodeId, to: NodeId): boolean {
    return this.groups === null || (this.groups.get(from) ?? 0) === (this.groups.get(to) ?? 0);
  }

  counters(): Readonly<MemoryNetworkCounters> {
    return { ...this.counterValues };
  }

  /** @internal Called by MemoryTransport.send. */
  route(from: NodeId, messages: readonly Message[]): void {
    for (const [to, batch] of groupByDestination(messages)) {
      const payload = this.roundTrip ? wireRoundTrip(from, batch) : batch;
      setImmediate(() => this.deliver(from, to, payload));
    }
  }

  /** @internal Called by MemoryTransport.send for messages to peers it has no address for. */
  countDropped(n: number): void {
    this.counterValues.dropped += n;
  }

  /** @internal Called by MemoryTransport.close. */
  detach(t: MemoryTransport): void {
    if (this.nodes.get(t.nodeId) === t) this.nodes.delete(t.nodeId);
  }

  private deliver(from: NodeId, to: NodeId, messages: readonly Message[]): void {
    const target = this.nodes.get(to);
    if (target === undefined || !this.canReach(from, to)) {
      this.counterValues.dropped += messages.length;
      return;
    }
    const admission = target.hooks.admit?.(from);
    if (admission?.kind === 'removed') {
      this.counterValues.dropped += messages.length;
      const notice = { by: to, appliedIndex: admission.appliedIndex };
      // The refusal travels back like a response (a partition in between eats it).
      setImmediate(() => {
        if (this.canReach(to, from)) this.nodes.get(from)?.hooks.onRemoved?.(notice);
      });
      return;
    }
    this.counterValues.delivered += messages.length;
    const senderUrl = this.nodes.get(from)?.hooks.selfUrl;
    if (senderUrl !== undefined) target.hooks.onSenderUrl?.(from, senderUrl);
    target.onMessages(messages);
  }
}

export class MemoryTransport implements Transport {
  private currentMembers: readonly Member[] = [];
  /** Ids with an address; null until setMembers() is first called (then everything goes). */
  private addressed: ReadonlySet<NodeId> | null = null;
  private closed = false;

  constructor(
    private readonly network: MemoryNetwork,
    readonly nodeId: NodeId,
    /** @internal */
    readonly onMessages: InboundHandler,
    /** @internal */
    readonly hooks: MemoryMembershipHooks = {},
  ) {}

  send(messages: readonly Message[]): void {
    if (this.closed || messages.length === 0) return;
    const addressed = this.addressed;
    const out = addressed === null ? messages : messages.filter((m) => addressed.has(m.to));
    if (out.length < messages.length) this.network.countDropped(messages.length - out.length);
    if (out.length > 0) this.network.route(this.nodeId, out);
  }

  setMembers(members: readonly Member[]): void {
    this.currentMembers = members.map((m) => ({ ...m }));
    this.addressed = new Set(members.map((m) => m.id));
  }

  members(): readonly Member[] {
    return this.currentMembers;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.network.detach(this);
  }
}

function groupByDestination(messages: readonly Message[]): Map<NodeId, Message[]> {
  const byTo = new Map<NodeId, Message[]>();
  for (const m of messages) {
    const list = byTo.get(m.to);
    if (list === undefined) byTo.set(m.to, [m]);
    else list.push(m);
  }
  return byTo;
}

/** What an HTTP peer would receive: fresh, validated objects that share nothing with the sender's. */
function wireRoundTrip(from: NodeId, messages: readonly Message[]): readonly Message[] {
  return decodeEnvelope(encodeEnvelope({ v: ENVELOPE_VERSION, clusterId: CLUSTER_ID, from, messages })).messages;
}
