// Simulated network: a bag of in-flight messages on a logical clock.
//
// Faults are drawn from a seeded Prng: drop, duplicate, delay (deliver no earlier
// than k steps later), and reorder (any deliverable message may go next).
// Partitions, two-way (groups) or one-way (cut directed links), are checked both
// when a message is sent and when it is delivered, so a message queued before a
// partition does not slip through it.
//
// Each directed link also behaves as the HTTP transport's path to one peer does
// (src/transport/peer-stream.ts): a bounded queue that drops the newest message
// when full, and a stream that fails when its peer is unreachable, down or
// refuses it. A failed link loses everything in flight on it and drops what is
// sent during its backoff (src/transport/stream-backoff.ts, counted in steps),
// which doubles with each failure and resets once a message gets through.
import type { Message, NodeId } from '../../src/raft/types.js';
import { StreamBackoff } from '../../src/transport/stream-backoff.js';
import type { Prng } from '../../src/util/random.js';

export interface NetworkFaults {
  /** Probability that a sent message is lost. */
  readonly dropRate: number;
  /** Probability that a sent message is delivered twice. */
  readonly duplicateRate: number;
  /** Each copy is delivered after a uniform delay in [0, delayMaxSteps] steps. */
  readonly delayMaxSteps: number;
}

export const RELIABLE: NetworkFaults = { dropRate: 0, duplicateRate: 0, delayMaxSteps: 0 };

/** The transport's per-peer bounds, per directed link. */
export interface LinkLimits {
  /** Messages in flight on one link beyond which a new one is dropped (maxQueuedMessagesPerPeer). */
  readonly queueMax: number;
  /** Whether a link fails as a stream does (loses what is in flight, backs off). */
  readonly streamFailures: boolean;
  /** Backoff of a failed link, in steps: first and longest wait. */
  readonly backoffMinSteps: number;
  readonly backoffMaxSteps: number;
}

/** Idealized links that never fill up nor fail (the scripted scenarios). */
export const UNBOUNDED_LINKS: LinkLimits = {
  queueMax: Number.MAX_SAFE_INTEGER,
  streamFailures: false,
  backoffMinSteps: 1,
  backoffMaxSteps: 1,
};

interface Link {
  inFlight: number;
  /** Sends before this step are dropped. */
  backoffUntil: number;
  readonly backoff: StreamBackoff;
}

interface InFlight {
  readonly msg: Message;
  readonly deliverAt: number;
  readonly link: Link;
}

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  blockedByPartition: number;
  overflowed: number;
  /** Dropped because the link's queue was full. */
  queueFull: number;
  /** Dropped because the link was backing off after a failure. */
  backoffDropped: number;
  /** In flight on a link when it failed. */
  lostOnFailure: number;
}

export class SimNetwork {
  private queue: InFlight[] = [];
  /** Node id -> group number; null when fully connected. */
  private groups: Map<NodeId, number> | null = null;
  /** from -> the nodes it cannot reach (one-way partitions). */
  private readonly cuts = new Map<NodeId, Set<NodeId>>();
  private readonly links = new Map<NodeId, Map<NodeId, Link>>();
  private faults: NetworkFaults;
  readonly stats: NetworkStats = {
    sent: 0,
    delivered: 0,
    dropped: 0,
    duplicated: 0,
    blockedByPartition: 0,
    overflowed: 0,
    queueFull: 0,
    backoffDropped: 0,
    lostOnFailure: 0,
  };

  constructor(
    private readonly rng: Prng,
    faults: NetworkFaults,
    /** Bound on in-flight messages; the oldest is lost when it is exceeded (a full buffer). */
    private readonly maxInFlight: number,
    private readonly limits: LinkLimits = UNBOUNDED_LINKS,
  ) {
    if (maxInFlight < 1) throw new Error(`maxInFlight (${maxInFlight}) must be at least 1`);
    this.faults = faults;
  }

  setFaults(faults: NetworkFaults): void {
    this.faults = faults;
  }

  getFaults(): NetworkFaults {
    return this.faults;
  }

  /** Nodes listed in the same group can talk; a node in no group talks to nobody. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    const map = new Map<NodeId, number>();
    groups.forEach((group, i) => group.forEach((id) => map.set(id, i)));
    this.groups = map;
  }

  /** Cuts the directed links from -> to (replies may still flow the other way). */
  cutOneWay(links: readonly (readonly [NodeId, NodeId])[]): void {
    for (const [from, to] of links) {
      let set = this.cuts.get(from);
      if (set === undefined) this.cuts.set(from, (set = new Set()));
      set.add(to);
    }
  }

  heal(): void {
    this.groups = null;
    this.cuts.clear();
  }

  isPartitioned(): boolean {
    return this.groups !== null || this.cuts.size > 0;
  }

  canReach(from: NodeId, to: NodeId): boolean {
    if (this.cuts.get(from)?.has(to) === true) return false;
    if (this.groups === null) return true;
    const a = this.groups.get(from);
    return a !== undefined && a === this.groups.get(to);
  }

  send(msg: Message, now: number): void {
    this.stats.sent++;
    if (!this.canReach(msg.from, msg.to)) {
      this.stats.blockedByPartition++;
      return;
    }
    const link = this.linkOf(msg.from, msg.to);
    if (now < link.backoffUntil) {
      this.stats.backoffDropped++;
      return;
    }
    if (this.rng.chance(this.faults.dropRate)) {
      this.stats.dropped++;
      return;
    }
    const copies = this.rng.chance(this.faults.duplicateRate) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      if (link.inFlight >= this.limits.queueMax) {
        this.stats.queueFull++;
        continue;
      }
      this.enqueue({ msg, deliverAt: now + this.rng.below(this.faults.delayMaxSteps + 1), link });
    }
  }

  /**
   * The link from -> to failed (its peer was unreachable, down, or refused it):
   * what is in flight on it is lost, and it backs off.
   */
  linkFailed(from: NodeId, to: NodeId, now: number): void {
    if (!this.limits.streamFailures) return;
    const link = this.linkOf(from, to);
    link.backoffUntil = now + link.backoff.failed();
    if (link.inFlight === 0) return;
    const before = this.queue.length;
    this.queue = this.queue.filter((item) => item.link !== link);
    this.stats.lostOnFailure += before - this.queue.length;
    link.inFlight = 0;
  }

  /** A node restarted: its outbound links start afresh (new process, new streams). */
  resetSender(id: NodeId): void {
    this.links.delete(id);
  }

  private linkOf(from: NodeId, to: NodeId): Link {
    let byTo = this.links.get(from);
    if (byTo === undefined) this.links.set(from, (byTo = new Map()));
    let link = byTo.get(to);
    if (link === undefined) {
      link = { inFlight: 0, backoffUntil: 0, backoff: new StreamBackoff(this.limits.backoffMinSteps, this.limits.backoffMaxSteps) };
      byTo.set(to, link);
    }
    return link;
  }

  private enqueue(item: InFlight): void {
    if (this.queue.length >= this.maxInFlight) {
      const oldest = this.queue.shift();
      if (oldest !== undefined) oldest.link.inFlight--;
      this.stats.overflowed++;
    }
    item.link.inFlight++;
    this.queue.push(item);
  }

  get inFlight(): number {
    return this.queue.length;
  }

  /**
   * Removes and returns a random deliverable message (this is where reordering
   * happens), or null when none is due. A message a partition now blocks fails
   * its link.
   */
  takeRandom(now: number, filter?: (msg: Message) => boolean): Message | null {
    for (;;) {
      let due = 0;
      for (const item of this.queue) if (item.deliverAt <= now && (filter === undefined || filter(item.msg))) due++;
      if (due === 0) return null;
      let k = this.rng.below(due);
      const index = this.queue.findIndex((item) => item.deliverAt <= now && (filter === undefined || filter(item.msg)) && k-- === 0);
      const [item] = this.queue.splice(index, 1);
      if (item === undefined) throw new Error('SimNetwork: lost track of a due message');
      item.link.inFlight--;
      if (this.canReach(item.msg.from, item.msg.to)) {
        this.stats.delivered++;
        item.link.backoff.acked();
        return item.msg;
      }
      this.stats.blockedByPartition++;
      this.linkFailed(item.msg.from, item.msg.to, now);
    }
  }

  /** Every queued message, due or not, in queue order (for scenarios and debugging). */
  peek(): readonly Message[] {
    return this.queue.map((item) => item.msg);
  }

  /** Drops queued messages that match (for example everything to a removed node). */
  discard(predicate: (msg: Message) => boolean): number {
    const before = this.queue.length;
    this.queue = this.queue.filter((item) => {
      if (!predicate(item.msg)) return true;
      item.link.inFlight--;
      return false;
    });
    return before - this.queue.length;
  }
}
