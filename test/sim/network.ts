// Simulated network: a bag of in-flight messages on a logical clock.
//
// Faults are drawn from a seeded Rng: drop, duplicate, delay (deliver no earlier
// than k steps later), and reorder (any deliverable message may go next).
// Partitions are checked both when a message is sent and when it is delivered,
// so a message queued before a partition does not slip through it.
import type { Message, NodeId } from '../../src/raft/types.js';
import type { Rng } from './rng.js';

export interface NetworkFaults {
  /** Probability that a sent message is lost. */
  readonly dropRate: number;
  /** Probability that a sent message is delivered twice. */
  readonly duplicateRate: number;
  /** Each copy is delivered after a uniform delay in [0, delayMaxSteps] steps. */
  readonly delayMaxSteps: number;
}

export const RELIABLE: NetworkFaults = { dropRate: 0, duplicateRate: 0, delayMaxSteps: 0 };

interface InFlight {
  readonly msg: Message;
  readonly deliverAt: number;
}

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  blockedByPartition: number;
  overflowed: number;
}

export class SimNetwork {
  private queue: InFlight[] = [];
  /** Node id -> group number; null when fully connected. */
  private groups: Map<NodeId, number> | null = null;
  private faults: NetworkFaults;
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, blockedByPartition: 0, overflowed: 0 };

  constructor(
    private readonly rng: Rng,
    faults: NetworkFaults,
    /** Bound on in-flight messages; the oldest is lost when it is exceeded (a full buffer). */
    private readonly maxInFlight: number,
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

  heal(): void {
    this.groups = null;
  }

  isPartitioned(): boolean {
    return this.groups !== null;
  }

  canReach(from: NodeId, to: NodeId): boolean {
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
    if (this.rng.chance(this.faults.dropRate)) {
      this.stats.dropped++;
      return;
    }
    const copies = this.rng.chance(this.faults.duplicateRate) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      this.enqueue({ msg, deliverAt: now + this.rng.int(this.faults.delayMaxSteps + 1) });
    }
  }

  private enqueue(item: InFlight): void {
    if (this.queue.length >= this.maxInFlight) {
      this.queue.shift();
      this.stats.overflowed++;
    }
    this.queue.push(item);
  }

  get inFlight(): number {
    return this.queue.length;
  }

  /**
   * Removes and returns a random deliverable message (this is where reordering
   * happens), or null when none is due. Messages a partition now blocks are dropped.
   */
  takeRandom(now: number, filter?: (msg: Message) => boolean): Message | null {
    for (;;) {
      let due = 0;
      for (const item of this.queue) if (item.deliverAt <= now && (filter === undefined || filter(item.msg))) due++;
      if (due === 0) return null;
      let k = this.rng.int(due);
      const index = this.queue.findIndex((item) => item.deliverAt <= now && (filter === undefined || filter(item.msg)) && k-- === 0);
      const [item] = this.queue.splice(index, 1);
      if (item === undefined) throw new Error('SimNetwork: lost track of a due message');
      if (this.canReach(item.msg.from, item.msg.to)) {
        this.stats.delivered++;
        return item.msg;
      }
      this.stats.blockedByPartition++;
    }
  }

  /** Every queued message, due or not, in queue order (for scenarios and debugging). */
  peek(): readonly Message[] {
    return this.queue.map((item) => item.msg);
  }

  /** Drops queued messages that match (for example everything to a removed node). */
  discard(predicate: (msg: Message) => boolean): number {
    const before = this.queue.length;
    this.queue = this.queue.filter((item) => !predicate(item.msg));
    return before - this.queue.length;
  }
}
