// The node's snapshots: a leader's snapshot installed into the state machine, and
// local snapshots taken at a Ready boundary, written in the background and handed
// to the core between Readys once durable (the rules are background-snapshots.ts's;
// this class does the I/O around them). Also the applied state as a snapshot, for a
// backup. The Ready loop (raft-node.ts) calls in at fixed points; what this needs
// of the node comes in NodeSnapshotsDeps, so nothing here reaches back into it.
import type { Logger } from '../logger.js';
import type { RaftMetrics } from '../metrics.js';
import type { RaftCoreApi } from '../raft/api.js';
import type { StateMachine } from '../raft/state-machine.js';
import type { Snapshot } from '../raft/types.js';
import type { RaftStorage } from '../storage/raft-storage.js';
import type { AppliedMembership } from './applied-membership.js';
import type { AppliedPosition } from './applied-position.js';
import { BackgroundSnapshots } from './background-snapshots.js';
import { stopRequested, takesCalls, type NodeLifecycle } from './node-lifecycle.js';
import type { PendingProposals } from './pending-proposals.js';
import type { StateDigests } from './state-digests.js';

export interface NodeSnapshotsDeps {
  readonly thresholdEntries: number;
  /** This node's offset within the threshold (snapshotPhaseEntries). */
  readonly phaseEntries: number;
  readonly storage: Pick<RaftStorage, 'compact'>;
  readonly stateMachine: Pick<StateMachine, 'snapshot' | 'restore'>;
  readonly core: Pick<RaftCoreApi, 'snapshotIndex' | 'compact'>;
  /** Moved by an installed snapshot; read for a local one. */
  readonly applied: AppliedPosition;
  readonly appliedMembers: AppliedMembership;
  readonly digests: StateDigests | null;
  readonly proposals: Pick<PendingProposals, 'rejectUpTo'>;
  readonly metrics: RaftMetrics | undefined;
  readonly log: Logger;
  /** Runs a core call; a throw there fails the node, and is rethrown as INTERNAL. */
  readonly guard: <T>(fn: () => T) => T;
  readonly lifecycle: () => NodeLifecycle;
  /** Whether a Ready is being processed: the core's log must not be compacted under it. */
  readonly readyInFlight: () => boolean;
  /** A storage error: the node fails. */
  readonly fail: (err: unknown) => void;
}

export class NodeSnapshots {
  private readonly background: BackgroundSnapshots;
  /** The background write of background.inFlight, for stop() to wait on. */
  private writing: Promise<void> | null = null;

  constructor(private readonly deps: NodeSnapshotsDeps) {
    this.background = new BackgroundSnapshots(deps.thresholdEntries, deps.phaseEntries);
  }

  /** The applied state as a snapshot, taken now. Between two inputs the state machine holds exactly the state at the applied index. */
  ofAppliedState(): Snapshot {
    const { applied, appliedMembers, stateMachine } = this.deps;
    return { meta: { index: applied.index, term: applied.term, members: appliedMembers.members }, data: stateMachine.snapshot() };
  }

  /** A snapshot from the leader, persisted in this Ready: the state machine jumps to it. */
  install(s: Snapshot): void {
    const { applied, stateMachine, appliedMembers, digests, proposals, metrics, log } = this.deps;
    applied.assertAhead(s.meta);
    stateMachine.restore(s.data);
    applied.restored(s.meta);
    appliedMembers.apply(s.meta.members);
    digests?.applied(applied.index, () => stateMachine.snapshot());
    proposals.rejectUpTo(s.meta.index);
    metrics?.snapshotsInstalled.inc();
    log.info({ snapshotIndex: s.meta.index, snapshotTerm: s.meta.term, bytes: s.data.length }, 'installed snapshot from leader');
  }

  /** At the end of a Ready: starts a local snapshot when one is due (see background-snapshots.ts). */
  maybeTake(): void {
    if (!this.background.due(this.deps.applied.index, this.deps.core.snapshotIndex())) return;
    // Serialized here, at a Ready boundary, so the bytes are exactly the state at the applied index.
    const snapshot = this.ofAppliedState();
    this.background.started(snapshot);
    this.writing = this.store(snapshot).finally(() => {
      this.writing = null;
    });
  }

  /** The write in flight, if any, for stop() to wait on. */
  writeSettled(): Promise<void> | null {
    return this.writing;
  }

  private async store(snapshot: Snapshot): Promise<void> {
    try {
      await this.deps.storage.compact(snapshot);
    } catch (err) {
      this.background.abandoned();
      if (!stopRequested(this.deps.lifecycle())) this.deps.fail(err);
      return;
    }
    this.background.written();
    // With no Ready in flight the core takes it now; else the loop hands it over after that Ready.
    if (!this.deps.readyInFlight()) this.handOver();
  }

  /** Between Readys: gives the core the durable local snapshot, if there is one, so it compacts its log. */
  handOver(): void {
    if (!takesCalls(this.deps.lifecycle())) return;
    const { core, guard, metrics, log } = this.deps;
    const snapshot = this.background.takeDurable(core.snapshotIndex());
    if (snapshot === null) return;
    try {
      guard(() => core.compact(snapshot.meta, snapshot.data));
    } catch {
      return; // guard() already failed the node
    }
    metrics?.snapshotsTaken.inc();
    log.info({ snapshotIndex: snapshot.meta.index, bytes: snapshot.data.length }, 'took snapshot and compacted the log');
  }
}
