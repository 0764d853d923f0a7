// Is this node wedged? /healthz asks, and a 503 there makes the Kubernetes
// liveness probe restart the pod (cluster/k8s/statefulset.yaml).
//
// Wedged means: work is pending and nothing has moved for stallMaxMs.
//   - the Raft loop: a Ready is being handled, or one is waiting to be, and no
//     Ready has finished since (a write that never returns, a lost wake-up);
//   - storage: a log write (save) has been in flight that long.
// An idle node is never wedged: with nothing pending there is nothing to move.
// A slow event loop is not judged here: /healthz itself would then answer late
// or not at all, which the probe's own timeout catches.
//
// Times are performance.now() milliseconds (monotonic: a clock step is no stall).
import type { RaftStorage } from '../storage/raft-storage.js';

/**
 * How long (in election timeouts, electionTicks x tickMs) a Ready may run and
 * the node still send heartbeats and their answers meanwhile
 * (RaftNode.sendHeartbeatsNow): 3 s with the defaults, above the longest stall
 * this machine's disk has shown (1.3 s), so a transient stall keeps its leader
 * and a dead disk loses it within a few seconds.
 */
export const HEARTBEATS_DURING_SAVE_ELECTIONS = 10;

/** The Raft loop's side: RaftNode calls begin/end around each Ready. */
export class LoopProgress {
  private readyStartedAt: number | null = null;
  private lastFinishedAt: number;
  /** When a pending Ready was first seen with no Ready running (a lost wake-up would leave it there). */
  private waitingSince: number | null = null;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.lastFinishedAt = now();
  }

  begin(): void {
    this.readyStartedAt = this.now();
    this.waitingSince = null;
  }

  end(): void {
    this.readyStartedAt = null;
    this.lastFinishedAt = this.now();
  }

  /** How long the Ready under way has run (its save, above all), or null when none is. */
  readyRunningMs(): number | null {
    return this.readyStartedAt === null ? null : this.now() - this.readyStartedAt;
  }

  /** Since when the loop has had work and made no progress, or null. `readyPending`: the core has a Ready. */
  stalledSince(readyPending: boolean): number | null {
    if (this.readyStartedAt !== null) return this.readyStartedAt;
    if (!readyPending) {
      this.waitingSince = null;
      return null;
    }
    this.waitingSince ??= this.now();
    return Math.max(this.waitingSince, this.lastFinishedAt);
  }
}

/** Wraps storage to know how long its oldest log write has been in flight. */
export class WatchedStorage implements RaftStorage {
  private readonly inFlight = new Map<number, number>();
  private nextId = 0;

  constructor(
    private readonly inner: RaftStorage,
    private readonly now: () => number = () => performance.now(),
  ) {}

  load: RaftStorage['load'] = () => this.inner.load();
  // Snapshot writes are not watched: a large one may rightly take long, and the Raft loop does not wait on it.
  compact: RaftStorage['compact'] = (snapshot) => this.inner.compact(snapshot);
  snapshotWriter: RaftStorage['snapshotWriter'] = (meta) => this.inner.snapshotWriter(meta);
  close: RaftStorage['close'] = () => this.inner.close();

  async save(batch: Parameters<RaftStorage['save']>[0]): ReturnType<RaftStorage['save']> {
    const id = this.nextId++;
    this.inFlight.set(id, this.now());
    try {
      return await this.inner.save(batch);
    } finally {
      this.inFlight.delete(id);
    }
  }

  /** Start of the oldest save still in flight, or null. */
  oldestWriteStartedAt(): number | null {
    // Insertion order: the first is the oldest.
    const first = this.inFlight.values().next();
    return first.done === true ? null : first.value;
  }
}

export interface LivenessSources {
  readonly loopStalledSince: () => number | null;
  readonly oldestWriteStartedAt: () => number | null;
}

/** Why the node is wedged, or null when it is not. */
export function wedgedReason(sources: LivenessSources, stallMaxMs: number, now: number = performance.now()): string | null {
  const write = sources.oldestWriteStartedAt();
  if (write !== null && now - write > stallMaxMs) {
    return `storage: a log write has been in flight for ${Math.round(now - write)} ms (healthStallMs ${stallMaxMs})`;
  }
  const loop = sources.loopStalledSince();
  if (loop !== null && now - loop > stallMaxMs) {
    return `raft loop: work pending and no Ready finished for ${Math.round(now - loop)} ms (healthStallMs ${stallMaxMs})`;
  }
  return null;
}
