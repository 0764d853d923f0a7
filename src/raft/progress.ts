// The leader's view of one follower's log (etcd's tracker.Progress).
//
//   probe:     we do not know where the follower's log matches ours; send one
//              append at a time and back off on rejection.
//   replicate: the follower accepted an append; stream entries optimistically
//              (advance `next` on send), at most maxInflightAppends in flight.
//   snapshot:  `next` was compacted away; send the snapshot in chunks, one in flight.
import { assert } from './assert.js';
import type { SendableSnapshot } from './types.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** Last indexes of the appends in flight to one follower, oldest first. */
export class Inflights {
  private readonly lastIndexes: number[] = [];

  constructor(private readonly limit: number) {
    assert(limit >= 1, 'inflight limit must be positive');
  }

  get count(): number {
    return this.lastIndexes.length;
  }

  full(): boolean {
    return this.lastIndexes.length >= this.limit;
  }

  add(lastIndex: number): void {
    assert(!this.full(), 'adding to full inflights');
    const prev = this.lastIndexes.at(-1);
    assert(prev === undefined || lastIndex > prev, 'inflight indexes must increase');
    this.lastIndexes.push(lastIndex);
  }

  /** The follower acknowledged everything up to `index`. */
  freeLE(index: number): void {
    let n = 0;
    while (n < this.lastIndexes.length && (this.lastIndexes[n] ?? Infinity) <= index) n++;
    this.lastIndexes.splice(0, n);
  }

  /** Assume the oldest append was lost so that the pipeline cannot stall forever. */
  freeFirstOne(): void {
    this.lastIndexes.shift();
  }

  reset(): void {
    this.lastIndexes.length = 0;
  }
}

/** Sender side of a chunked snapshot transfer. */
export interface SnapshotSend {
  readonly snapshot: SendableSnapshot;
  /** Offset of the next chunk to send (or of the one in flight). */
  offset: number;
  inflight: boolean;
  /** Ticks since the chunk in flight left, to resend it if it was lost. */
  idleTicks: number;
}

export class Progress {
  // Invariant: match < next. `match` is the highest index known to be durable on
  // the follower and equal to ours; `next` is the next index to send.
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: an append is outstanding; wait for its answer or a heartbeat response. */
  probeSent = false;
  /** Heard from this peer since the last CheckQuorum round. */
  recentActive = false;
  readonly inflights: Inflights;
  snapshotSend: SnapshotSend | null = null;

  constructor(next: number, maxInflight: number) {
    this.next = next;
    this.inflights = new Inflights(maxInflight);
    this.check();
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.inflights.reset();
    this.snapshotSend = null;
  }

  /** Back to one-at-a-time probing from just after the known match. */
  becomeProbe(): void {
    this.resetState('probe');
    this.next = this.match + 1;
    this.check();
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
    this.check();
  }

  becomeSnapshot(snapshot: SendableSnapshot): void {
    this.resetState('snapshot');
    this.snapshotSend = { snapshot, offset: 0, inflight: false, idleTicks: 0 };
  }

  /** True when nothing more may be sent until an answer arrives. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }

  /** Records an append that carried entries up to `lastIndex` (or none when equal to next - 1). */
  sentAppend(lastIndex: number): void {
    if (this.state === 'replicate') {
      if (lastIndex >= this.next) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex);
      }
    } else {
      assert(this.state === 'probe', 'append sent in snapshot state');
      this.probeSent = true;
    }
    this.check();
  }

  /** The follower acknowledged `n`. Returns false for a stale acknowledgement. */
  maybeUpdate(n: number): boolean {
    if (n <= this.match) {
      return false;
    }
    this.match = n;
    this.next = Math.max(this.next, n + 1);
    this.probeSent = false;
    this.check();
    return true;
  }

  /**
   * The follower rejected an append after `rejected`; `hint` is our best guess of
   * the last index that may match. Returns false when the rejection is stale.
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      // Rejections at or below match answer old appends; match is certain.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // In probe state only the answer to the append we last sent counts.
    if (this.state !== 'probe' || this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    this.check();
    return true;
  }

  private check(): void {
    assert(this.match < this.next, () => `progress match ${this.match} >= next ${this.next}`);
  }
}
