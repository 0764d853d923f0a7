// ReadIndex bookkeeping on the leader (thesis §6.4).
//
// A read is served at readIndex = the commit index when it arrived, once the
// leader has confirmed it was still leader *after* that moment: every request
// gets the number (readSeq) of a heartbeat round that leaves after it was
// registered, and is confirmed when a quorum of voters echoed a readSeq at
// least that high. Several reads that arrive before the round leaves share it.
import { assert } from './assert.js';
import { hasQuorum } from './quorum.js';
import type { NodeId } from './types.js';

/** Reads waiting on one node (local and forwarded); more are refused as dropped reads. */
export const MAX_PENDING_READS = 10_000;

export interface ReadRequest {
  readonly requestId: number;
  /** The node that asked: the leader itself or a follower that forwarded it. */
  readonly from: NodeId;
}

export interface PendingRead extends ReadRequest {
  readonly readIndex: number;
  /** The heartbeat round that confirms this read. */
  readonly seq: number;
}

export class ReadOnly {
  // Invariant: seqs in `pending` never decrease and are <= seq + 1; the last
  // one is seq + 1 only while roundPending. `seq` only grows (across terms too),
  // so an acknowledgement of an older round never confirms a newer read.
  private seq = 0;
  private roundPending = false;
  private pending: PendingRead[] = [];
  /** Reads that arrived before this leader committed an entry of its term. */
  private deferred: ReadRequest[] = [];
  /** Highest readSeq each peer echoed. */
  private readonly acks = new Map<NodeId, number>();

  /** readSeq of the latest round sent; heartbeats carry it. */
  get currentSeq(): number {
    return this.seq;
  }

  full(): boolean {
    return this.pending.length + this.deferred.length >= MAX_PENDING_READS;
  }

  defer(req: ReadRequest): void {
    this.deferred.push(req);
  }

  takeDeferred(): ReadRequest[] {
    const out = this.deferred;
    this.deferred = [];
    return out;
  }

  add(req: ReadRequest, readIndex: number): void {
    const last = this.pending.at(-1);
    assert(last === undefined || last.readIndex <= readIndex, 'read index went backwards');
    this.pending.push({ ...req, readIndex, seq: this.seq + 1 });
    this.roundPending = true;
  }

  /** A read is waiting for a heartbeat round that has not been sent yet. */
  needsRound(): boolean {
    return this.roundPending;
  }

  startRound(): number {
    assert(this.roundPending, 'no read round pending');
    this.roundPending = false;
    this.seq += 1;
    return this.seq;
  }

  ack(from: NodeId, seq: number): void {
    // A round we never sent (a confused or malicious peer) must not confirm anything.
    if (seq > this.seq) return;
    if (seq > (this.acks.get(from) ?? 0)) this.acks.set(from, seq);
  }

  /** Removes and returns the reads a quorum of `voters` has confirmed, oldest first. */
  takeConfirmed(voters: readonly NodeId[], self: NodeId): PendingRead[] {
    let n = 0;
    for (const read of this.pending) {
      const confirmed = hasQuorum(voters, (id) => id === self || (this.acks.get(id) ?? 0) >= read.seq);
      if (!confirmed) break;
      n++;
    }
    return this.pending.splice(0, n);
  }

  /** Leadership is lost: every read still waiting is returned to be refused. */
  takeAll(): ReadRequest[] {
    const out: ReadRequest[] = [...this.deferred, ...this.pending];
    this.deferred = [];
    this.pending = [];
    this.roundPending = false;
    this.acks.clear();
    return out;
  }
}

/**
 * Follower side: reads forwarded to the leader, awaiting readIndexResp. A
 * lost answer must not pin a slot forever, so each read expires (and is
 * reported dropped) after `maxAgeTicks`.
 */
export class ForwardedReads {
  /** requestId -> ticks since it was forwarded. */
  private readonly ages = new Map<number, number>();

  constructor(private readonly maxAgeTicks: number) {
    assert(maxAgeTicks >= 1, 'forwarded read lifetime must be positive');
  }

  full(): boolean {
    return this.ages.size >= MAX_PENDING_READS;
  }

  add(requestId: number): void {
    assert(!this.ages.has(requestId), () => `read request id ${requestId} reused while pending`);
    this.ages.set(requestId, 0);
  }

  /** True if `requestId` was waiting (and now is not). */
  take(requestId: number): boolean {
    return this.ages.delete(requestId);
  }

  /** Ages every read by one tick; returns the ids that expired. */
  tick(): number[] {
    const expired: number[] = [];
    for (const [id, age] of this.ages) {
      if (age + 1 >= this.maxAgeTicks) expired.push(id);
      else this.ages.set(id, age + 1);
    }
    for (const id of expired) this.ages.delete(id);
    return expired;
  }

  takeAll(): number[] {
    const ids = [...this.ages.keys()];
    this.ages.clear();
    return ids;
  }
}
