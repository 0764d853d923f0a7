// The driver: runs the pure Raft core against real time, storage and a transport.
//
// One Ready at a time (etcd's RawNode loop): persist hard state + entries + snapshot
// in ONE batch, then send, then restore/apply, then advance. Proposals, inbound
// messages and ticks that arrive while a batch is being written land in the core
// and go out together in the next Ready, which is what makes group commit.
//
// Three refinements keep disk waits off the critical path without loosening
// persist-before-send (each is argued where it is done):
// - a batch that only moves the commit index is not written on its own: it rides on
//   the next synced batch (etcd's MustSync, taken one step further);
// - a leader sends its appends while its own write runs (thesis §10.2.1);
// - entries committed by earlier Readys are applied before this Ready's write.
//
// Exceptions from the core or the state machine are bugs: the node logs them as
// fatal and hands them to onFatal (the process exits); it never keeps serving
// with a state that may have diverged.
//
// This file keeps the loop and the public face. The loop calls out, at fixed
// points, to snapshots (node-snapshots.ts), leadership events (leadership-events.ts)
// and membership (membership-tracking.ts, membership-changes.ts); each gets what it
// needs as a small deps object, none imports this file. The node's life is one
// union (node-lifecycle.ts); the loop's own idle/busy state is another (ReadyLoop).
import { randomBytes } from 'node:crypto';
import { RatifyError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RaftMetrics } from '../metrics.js';
import type { CoreStatus, RaftCoreApi } from '../raft/api.js';
import { Prng } from '../util/random.js';
import { RaftCore } from '../raft/raft.js';
import type { StateMachine } from '../raft/state-machine.js';
import { assertNever } from '../util/assert-never.js';
import { oncePerTurn } from '../util/once-per-turn.js';
import type {
  Entry,
  InitialState,
  Member,
  Message,
  NodeId,
  ProposeRefusal,
  ProposeResult,
  RaftConfig,
  Ready,
  Role,
  Snapshot,
  SnapshotBytes,
} from '../raft/types.js';
import type { RaftStorage } from '../storage/raft-storage.js';
import type { PeerAdmission, RemovalNotice } from '../transport/peer-admission.js';
import type { Transport } from '../transport/transport.js';
import { AppliedPosition } from './applied-position.js';
import { snapshotPhaseEntries } from './background-snapshots.js';
import type { StateDigest, StateDigests } from './state-digests.js';
import type { NodeConfig } from './config.js';
import { HardStateWrites } from './hard-state-writes.js';
import { InboundGuard } from './inbound-guard.js';
import { LeadershipEvents } from './leadership-events.js';
import { planReady } from './ready-plan.js';
import { HEARTBEATS_DURING_SAVE_ELECTIONS, LoopProgress } from './liveness.js';
import { MembershipChanges } from './membership-changes.js';
import { MembershipTracking } from './membership-tracking.js';
import { failed, hasFailed, NEW_NODE, type NodeLifecycle, started, stopped, stopRequested, takesCalls } from './node-lifecycle.js';
import { NodeSnapshots } from './node-snapshots.js';
import { SelfRemoval } from './self-removal.js';
import { TransportMembership } from './transport-membership.js';
import { PendingProposals } from './pending-proposals.js';
import { PendingReads } from './pending-reads.js';
import { PeerMatch } from './peer-match.js';
import type { ClusterNode, Readiness } from '../http/cluster-node.js';
import type { LeadershipEvent, NodeStatus } from './replicated-log.js';
import { counterCellsBy } from '../util/metric-cells.js';
import { promiseOf } from '../util/promise-of.js';

export type RaftNodeConfig = Pick<
  NodeConfig,
  | 'id'
  | 'peers'
  | 'tickMs'
  | 'electionTicks'
  | 'heartbeatTicks'
  | 'maxInflightAppends'
  | 'maxAppendBytes'
  | 'snapshotThresholdEntries'
  | 'snapshotCatchUpEntries'
  | 'snapshotChunkBytes'
  | 'snapshotBytesMax'
  | 'maxUncommittedEntries'
  | 'maxPendingProposals'
  | 'maxPendingReads'
  | 'proposalTimeoutMs'
  | 'readTimeoutMs'
  | 'promoteLagEntriesMax'
  | 'join'
  | 'preVote'
  | 'checkQuorum'
  | 'seed'
>;

export type CoreFactory = (config: RaftConfig, initial: InitialState) => RaftCoreApi;

export interface RaftNodeOptions {
  readonly config: RaftNodeConfig;
  readonly storage: RaftStorage;
  readonly transport: Transport;
  readonly stateMachine: StateMachine;
  readonly logger: Logger;
  readonly metrics?: RaftMetrics;
  /** Tests inject a core; the default is RaftCore. */
  readonly createCore?: CoreFactory;
  /** A bug surfaced (core or state machine threw, storage write failed). Default: crash the process. */
  readonly onFatal?: (err: unknown) => void;
  /** Digests of the applied state for the consistency check (state-digests.ts); none without it. */
  readonly digests?: StateDigests;
}

/** Whether a pass of the Ready loop is in flight; `done` settles when it ends (stop() waits on it). */
type ReadyLoop = { readonly kind: 'idle' } | { readonly kind: 'busy'; readonly done: Promise<void> };
const LOOP_IDLE: ReadyLoop = { kind: 'idle' };

export class RaftNode implements ClusterNode {
  readonly nodeId: NodeId;
  private readonly core: RaftCoreApi;
  private readonly cfg: RaftNodeConfig;
  private readonly storage: RaftStorage;
  private readonly transport: Transport;
  private readonly sm: StateMachine;
  private readonly log: Logger;
  private readonly metrics: RaftMetrics | undefined;
  private readonly onFatal: (err: unknown) => void;
  private readonly digests: StateDigests | null;
  private readonly proposals: PendingProposals;
  private readonly reads: PendingReads;
  private readonly waiters = new Set<() => void>();
  /** What followers and learners acknowledged to this node as leader (for promotion). */
  private readonly peerMatch = new PeerMatch();
  /** Drops implausible inbound messages before the core sees them. */
  private readonly inbound: InboundGuard;
  /** When Readys start and finish, for /healthz (liveness.ts). */
  private readonly progress = new LoopProgress();

  private ticker: NodeJS.Timeout | null = null;
  private lifecycle: NodeLifecycle = NEW_NODE;
  private loop: ReadyLoop = LOOP_IDLE;
  /** Coalesces the kicks of one synchronous burst (a batch of inbound messages, a run of proposals). */
  private readonly scheduleKick = oncePerTurn(() => this.kick());

  private readonly applied: AppliedPosition;
  /** The transport's address book and admission (membership.applied: membership as of the applied index). */
  private readonly membership: TransportMembership;
  private readonly removal = new SelfRemoval();
  /** What of each Ready's hard state reaches the disk, and when (MustSync). */
  private readonly writes: HardStateWrites;
  /** Installed and local snapshots (node-snapshots.ts). */
  private readonly snapshots: NodeSnapshots;
  /** Soft state, leadership announcements and their listeners (leadership-events.ts). */
  private readonly leadership: LeadershipEvents;
  /** Address book, peer match retention and self-removal follow the configurations (membership-tracking.ts). */
  private readonly tracking: MembershipTracking;
  private readonly changes: MembershipChanges;

  private constructor(opts: RaftNodeOptions, core: RaftCoreApi, initial: InitialState, inbound: InboundGuard) {
    this.nodeId = opts.config.id;
    this.inbound = inbound;
    this.cfg = opts.config;
    this.core = core;
    this.storage = opts.storage;
    this.transport = opts.transport;
    this.sm = opts.stateMachine;
    this.log = opts.logger;
    this.metrics = opts.metrics;
    this.onFatal = opts.onFatal ?? crashProcess;
    this.digests = opts.digests ?? null;
    // Settled per proposal: cells, not inc(labels) (util/metric-cells.ts).
    const proposalCount = opts.metrics === undefined ? null : counterCellsBy(opts.metrics.proposals, 'result');
    const readCount = opts.metrics === undefined ? null : counterCellsBy(opts.metrics.readBarriers, 'result');
    this.proposals = new PendingProposals(opts.config.maxPendingProposals, (o) => proposalCount?.(o));
    this.reads = new PendingReads(opts.config.maxPendingReads, (o) => readCount?.(o));
    this.writes = new HardStateWrites(initial.hardState);
    this.applied = new AppliedPosition(initial.appliedIndex, initial.snapshot?.meta.term ?? 0);
    this.membership = new TransportMembership(
      this.nodeId,
      this.transport,
      initial.bootstrapMembers,
      initial.snapshot?.meta.members ?? null,
    );
    const st = core.status();
    this.leadership = new LeadershipEvents(
      { role: st.role, leaderId: st.leaderId, term: st.term },
      { log: this.log, metrics: this.metrics, proposals: this.proposals, commitIndex: () => this.core.status().commitIndex },
    );
    this.snapshots = new NodeSnapshots({
      thresholdEntries: opts.config.snapshotThresholdEntries,
      // Spread by rank so no two nodes serialize a snapshot at once (see background-snapshots.ts).
      phaseEntries: snapshotPhaseEntries(
        opts.config.snapshotThresholdEntries,
        opts.config.id,
        opts.config.peers.map((m) => m.id),
      ),
      storage: this.storage,
      stateMachine: this.sm,
      core: this.core,
      applied: this.applied,
      appliedMembers: this.membership.applied,
      digests: this.digests,
      proposals: this.proposals,
      metrics: this.metrics,
      log: this.log,
      guard: (fn) => this.guard(fn),
      lifecycle: () => this.lifecycle,
      readyInFlight: () => this.loop.kind === 'busy',
      fail: (err) => this.fail(err),
    });
    this.tracking = new MembershipTracking({
      self: this.nodeId,
      core: this.core,
      membership: this.membership,
      removal: this.removal,
      peerMatch: this.peerMatch,
      leadership: this.leadership,
      proposals: this.proposals,
      reads: this.reads,
      appliedIndex: () => this.applied.index,
      log: this.log,
    });
    this.changes = new MembershipChanges({
      self: this.nodeId,
      core: this.core,
      peerMatch: this.peerMatch,
      limits: {
        promoteLagEntriesMax: this.cfg.promoteLagEntriesMax,
        proposalTimeoutMs: this.cfg.proposalTimeoutMs,
        electionTimeoutMs: this.electionTimeoutMs(),
      },
      soft: () => this.leadership.current,
      assertServing: () => this.assertServing(),
      guard: (fn) => this.guard(fn),
      track: (res, timeoutMs) => this.track(res, timeoutMs),
      refusal: (reason, leaderId) => this.refusal(reason, leaderId),
      waitFor: (predicate, timeoutMs, what) => this.waitFor(predicate, timeoutMs, what),
      scheduleKick: () => this.scheduleKick(),
    });
    this.tracking.sync();
    this.tracking.update();
    this.metrics?.setStatusSource(() => {
      const now = this.core.status();
      return {
        term: now.term,
        commitIndex: now.commitIndex,
        appliedIndex: this.applied.index,
        snapshotIndex: now.snapshotIndex,
        role: now.role,
      };
    });
  }

  /**
   * Load storage, restore the latest snapshot into the state machine, and build the
   * core from exactly what was synced. Throws RatifyError('DATA_CORRUPT') from storage.
   * The node does not tick or accept messages until start().
   */
  static async open(opts: RaftNodeOptions): Promise<RaftNode> {
    const stored = await opts.storage.load();
    if (stored.snapshot !== null) opts.stateMachine.restore(stored.snapshot.data);
    const initial: InitialState = {
      hardState: stored.hardState,
      // Restored: the core keeps the storage's reader over the file, if it gave one, and the array goes.
      snapshot: stored.snapshot === null ? null : { meta: stored.snapshot.meta, data: stored.sendable ?? stored.snapshot.data },
      entries: stored.entries,
      // A joining node is not an initial voter: it must never campaign before the leader adds it.
      bootstrapMembers: opts.config.join ? opts.config.peers.filter((p) => p.id !== opts.config.id) : opts.config.peers,
      appliedIndex: stored.snapshot?.meta.index ?? 0,
    };
    const inbound = new InboundGuard({
      limits: { snapshotBytesMax: opts.config.snapshotBytesMax },
      logger: opts.logger,
      count: (reason) => opts.metrics?.rejectedMessages.inc({ reason }),
    });
    const acceptSnapshot = inbound.snapshotAcceptor(opts.stateMachine);
    const raftConfig = { ...toRaftConfig(opts.config), ...(acceptSnapshot === undefined ? {} : { acceptSnapshot }) };
    const core = (opts.createCore ?? defaultCore)(raftConfig, initial);
    opts.logger.info(
      {
        snapshotIndex: initial.appliedIndex,
        entries: stored.entries.length,
        term: stored.hardState.term,
        commitIndex: stored.hardState.commitIndex,
      },
      'raft node opened',
    );
    return new RaftNode(opts, core, initial, inbound);
  }

  /** Start ticking and accepting messages. Only a new node starts: a stopped or failed one never runs again. */
  start(): void {
    const next = started(this.lifecycle);
    if (next === this.lifecycle) return;
    this.lifecycle = next;
    // A removed node does not tick: it must never campaign again (see self-removal.ts).
    this.ticker = setInterval(() => {
      if (this.removal.removed) return;
      this.guard(() => this.core.tick());
      if (this.loop.kind === 'busy') this.sendHeartbeatsNow();
    }, this.cfg.tickMs);
    this.ticker.unref();
    this.scheduleKick();
  }

  /**
   * Sends the heartbeats and answers to heartbeats queued since the Ready under
   * way, without waiting for it. WHY: the Ready loop sends a Ready's messages
   * once its save is done, so while a save is slow (a disk stall; this machine's
   * disk has stalled for 0.3-1.3 s) nothing else goes out: a leader's
   * heartbeats stopped, and so did a follower's answers. The followers then
   * campaigned after 300-600 ms, or the leader's CheckQuorum deposed it, and a
   * stall of the disk became a change of leader, with every request in flight
   * failed (1,266 errors in one benchmark phase on 2026-12-08). These messages
   * may go before the save is durable (RaftCore.takeHeartbeats).
   * Only for HEARTBEATS_DURING_SAVE_ELECTIONS election timeouts of one Ready,
   * though: a leader whose disk has died must not keep its followers from
   * electing another. Past that its heartbeats stop, as they did before, and
   * they elect one.
   */
  private sendHeartbeatsNow(): void {
    const running = this.progress.readyRunningMs();
    if (running !== null && running > HEARTBEATS_DURING_SAVE_ELECTIONS * this.electionTimeoutMs()) return;
    const heartbeats = this.guard(() => this.core.takeHeartbeats());
    if (heartbeats.length > 0) this.transport.send(heartbeats);
  }

  /** Stop ticking, finish the Ready being processed, fail every waiter. Does not close storage or transport. */
  async stop(): Promise<void> {
    const next = stopped(this.lifecycle);
    if (next === this.lifecycle) return;
    this.lifecycle = next;
    if (this.ticker !== null) clearInterval(this.ticker);
    this.ticker = null;
    if (this.loop.kind === 'busy') await this.loop.done;
    await this.snapshots.settle();
    await this.writeUnwrittenHard();
    this.proposals.rejectAllShutdown();
    this.reads.rejectAllShutdown();
    this.notifyWaiters(); // each sees the stop and rejects with SHUTTING_DOWN
    this.leadership.clear();
  }

  /** Inbound messages from the transport (well-formed there; judged plausible here, one by one). */
  receive(messages: readonly Message[]): void {
    if (this.lifecycle.kind !== 'running') return; // Raft tolerates the loss
    for (const m of messages) {
      // Against the state the core is in right now: earlier messages of the batch may have changed it.
      if (!this.inbound.admit(m, this.core.localState())) continue;
      this.leadership.noteLeaderCommit(m);
      this.peerMatch.observe(m);
      try {
        this.guard(() => this.core.step(m));
      } catch {
        return; // guard() already failed the node
      }
    }
  }

  status(): NodeStatus {
    const st = this.core.status();
    return {
      nodeId: this.nodeId,
      role: st.role,
      term: st.term,
      leaderId: st.leaderId,
      leaderUrl: st.members.find((m) => m.id === st.leaderId)?.url ?? null,
      commitIndex: st.commitIndex,
      appliedIndex: this.applied.index,
      members: st.members,
      removed: this.removal.removed,
    };
  }

  /**
   * The applied state as a snapshot, taken now, for a backup (GET /v1/cluster/snapshot).
   * Between two inputs the state machine holds exactly the state at the applied index,
   * which is committed (applied <= commit). Leader only: its state is the most recent one.
   */
  backupSnapshot(): { readonly snapshot: Snapshot; readonly currentTerm: number } {
    this.assertServing();
    const soft = this.leadership.current;
    if (soft.role !== 'leader') throw this.notLeaderError();
    return { snapshot: this.snapshots.ofAppliedState(), currentTerm: soft.term };
  }

  /** This node's state digests (state-digests.ts), for GET /v1/cluster/digests. */
  stateDigests(): { readonly appliedIndex: number; readonly intervalEntries: number | null; readonly digests: readonly StateDigest[] } {
    return {
      appliedIndex: this.applied.index,
      intervalEntries: this.digests?.intervalEntries ?? null,
      digests: this.digests?.list() ?? [],
    };
  }

  /** Whether the transport takes messages from `from` (see peer-admission.ts). */
  admitPeer(from: NodeId): PeerAdmission {
    return this.membership.admit(this.core.members(), this.applied.index, from);
  }

  /** An admitted sender said where it listens; kept while no configuration lists it. */
  noteSenderUrl(from: NodeId, url: string): void {
    if (!takesCalls(this.lifecycle) || !this.membership.noteSenderUrl(this.core.members(), from, url)) return;
    this.log.info({ peer: from, url }, 'learned the address of a peer no configuration lists yet');
  }

  /** The transport heard MEMBER_REMOVED from a peer. */
  onRemovedByPeer(notice: RemovalNotice): void {
    if (!takesCalls(this.lifecycle)) return;
    this.tracking.removedByPeer(notice);
  }

  /** Current term, cheap enough for every log line. */
  get term(): number {
    return this.leadership.current.term;
  }

  snapshotIndex(): number {
    return this.core.snapshotIndex();
  }

  coreStatus(): CoreStatus {
    return this.core.status();
  }

  /** Since when the Ready loop has had work without finishing a Ready (performance.now() ms), or null. */
  loopStalledSince(): number | null {
    if (this.lifecycle.kind !== 'running') return null;
    return this.progress.stalledSince(this.core.hasReady());
  }

  readiness(): Readiness {
    const st = this.core.status();
    const leaderCommitIndex = st.role === 'leader' ? st.commitIndex : Math.max(this.leadership.leaderCommitSeen, st.commitIndex);
    return { leaderKnown: st.leaderId !== null, removed: this.removal.removed, appliedIndex: this.applied.index, leaderCommitIndex };
  }

  /**
   * Not async: an async function that returns the tracking promise resolves its own
   * promise with it, which costs a wrapper promise and two more microtask turns per
   * proposal. Refusals reject, as they did.
   */
  propose(data: Uint8Array, opts?: { timeoutMs?: number }): Promise<unknown> {
    return promiseOf(() => {
      this.assertServing();
      if (!this.proposals.hasRoom()) {
        this.metrics?.proposals.inc({ result: 'refused' });
        throw new RatifyError(
          'TOO_MANY_PENDING',
          `${this.proposals.size} proposals are pending (maxPendingProposals ${this.cfg.maxPendingProposals})`,
        );
      }
      const res = this.guard(() => this.core.propose(data));
      return this.track(res, opts?.timeoutMs ?? this.cfg.proposalTimeoutMs);
    });
  }

  async readBarrier(opts?: { timeoutMs?: number }): Promise<void> {
    this.assertServing();
    if (!this.reads.hasRoom()) {
      this.metrics?.readBarriers.inc({ result: 'refused' });
      throw new RatifyError(
        'TOO_MANY_PENDING',
        `${this.reads.size} read barriers are pending (maxPendingReads ${this.cfg.maxPendingReads})`,
      );
    }
    const { requestId, done } = this.reads.add(opts?.timeoutMs ?? this.cfg.readTimeoutMs);
    this.guard(() => this.core.readIndex(requestId));
    this.scheduleKick();
    return done;
  }

  onLeadership(listener: (event: LeadershipEvent) => void): () => void {
    return this.leadership.subscribe(listener);
  }

  /** Membership changes resolve with the new member list once the config entry is applied here. */
  addLearner(id: NodeId, url: string, opts?: { timeoutMs?: number }): Promise<readonly Member[]> {
    return this.changes.addLearner(id, url, opts);
  }

  /** Refused with LEARNER_NOT_CAUGHT_UP unless the learner's log is within promoteLagEntriesMax of the leader's. */
  promote(id: NodeId, opts?: { timeoutMs?: number }): Promise<readonly Member[]> {
    return this.changes.promote(id, opts);
  }

  remove(id: NodeId, opts?: { timeoutMs?: number }): Promise<readonly Member[]> {
    return this.changes.remove(id, opts);
  }

  /** Resolves once `to` is the known leader (in a later term), or rejects with TIMEOUT. */
  transferLeadership(to: NodeId, opts?: { timeoutMs?: number }): Promise<void> {
    return this.changes.transferLeadership(to, opts);
  }

  electionTimeoutMs(): number {
    return this.cfg.electionTicks * this.cfg.tickMs;
  }

  private track(res: ProposeResult, timeoutMs: number): Promise<unknown> {
    if (!res.ok) {
      this.metrics?.proposals.inc({ result: 'refused' });
      throw this.refusal(res.reason, res.leaderId);
    }
    const done = this.proposals.add(res.index, res.term, timeoutMs);
    this.scheduleKick();
    return done;
  }

  private refusal(reason: ProposeRefusal, leaderId: NodeId | null): RatifyError {
    switch (reason) {
      case 'NOT_LEADER':
        return this.notLeaderError(leaderId);
      case 'TRANSFER_IN_PROGRESS':
        return new RatifyError('TRANSFER_IN_PROGRESS', 'a leadership transfer is under way; retry shortly');
      case 'TOO_MANY_PENDING':
        return new RatifyError(
          'TOO_MANY_PENDING',
          `more than maxUncommittedEntries (${this.cfg.maxUncommittedEntries}) entries are uncommitted`,
        );
      case 'CONFIG_CHANGE_IN_PROGRESS':
        return new RatifyError('CONFIG_CHANGE_IN_PROGRESS', 'a membership change is still uncommitted');
      case 'INVALID_CONFIG_CHANGE':
        return new RatifyError('INVALID_CONFIG_CHANGE', 'the membership change is not allowed in the current configuration');
      default:
        return assertNever(reason);
    }
  }

  notLeaderError(leaderId: NodeId | null = this.leadership.current.leaderId): RatifyError {
    if (leaderId === null) return new RatifyError('NO_LEADER', 'no leader is known; retry shortly', { details: { leaderId: null } });
    const leaderUrl = this.core.status().members.find((m) => m.id === leaderId)?.url ?? null;
    return new RatifyError('NOT_LEADER', `this node is not the leader; the leader is ${leaderId}`, { details: { leaderId, leaderUrl } });
  }

  private assertServing(): void {
    if (!takesCalls(this.lifecycle)) throw new RatifyError('SHUTTING_DOWN', 'the node is stopping');
    if (this.removal.removed)
      throw new RatifyError('MEMBER_REMOVED', `this node (${this.nodeId}) was removed from the cluster; it no longer serves`);
  }

  // ---- the ready loop ----

  private kick(): void {
    if (this.loop.kind === 'busy' || this.lifecycle.kind !== 'running') return;
    if (!this.core.hasReady()) return;
    // runLoop() reaches its first await before it can end (and set the loop idle), so
    // `busy` is in place before anything can look at it.
    this.loop = { kind: 'busy', done: this.runLoop() };
  }

  private async runLoop(): Promise<void> {
    try {
      while (this.lifecycle.kind === 'running' && this.core.hasReady()) {
        this.progress.begin();
        await this.handleReady(this.core.ready());
        this.progress.end();
        this.snapshots.handOver();
      }
    } catch (err) {
      this.fail(err);
    } finally {
      // Synchronous with the last hasReady() check: no event can slip in between.
      this.loop = LOOP_IDLE;
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState !== null) this.leadership.changed(rd.softState);
    // Config entries take effect when appended (thesis §4.1): address new members before sending.
    this.tracking.sync();
    const plan = planReady(rd, this.leadership.current.role, this.writes.persisted);
    if (plan.sendBeforePersist && rd.messages.length > 0) this.transport.send(rd.messages);
    const persisting = this.persist(rd);
    await this.applyWhilePersisting(rd, plan.applyBeforePersist, persisting);
    const storedSnapshot = await persisting;
    if (!plan.sendBeforePersist && rd.messages.length > 0) this.transport.send(rd.messages);
    if (rd.snapshot !== null) this.snapshots.install(rd.snapshot);
    for (let i = plan.applyBeforePersist; i < rd.committedEntries.length; i++) this.applyEntry(rd.committedEntries[i]!);
    for (const rs of rd.readStates) this.reads.confirmed(rs.requestId, rs.readIndex, this.applied.index);
    for (const id of rd.droppedReads) this.reads.dropped(id, this.notLeaderError());
    this.core.advance(rd);
    // A snapshot installed from the leader: the core sends it from the stored file from now on, not from the received array.
    if (rd.snapshot !== null && storedSnapshot !== null) this.core.snapshotStored(rd.snapshot.meta, storedSnapshot);
    this.reads.applied(this.applied.index);
    // A removal applied in this Ready drops the peer here (the union keeps it until then).
    this.tracking.sync();
    this.tracking.update();
    this.snapshots.maybeTake();
    this.notifyWaiters();
  }

  /**
   * Applies rd.committedEntries[0, n), already durable, once the network and the
   * disk have their work: the appends (a leader's, queued by transport.send) and
   * this Ready's save are each waiting on a microtask queued before this one
   * (the send's flush, and the storage's serialized op, which runs without a
   * break until it hands the batch to LevelDB's writer thread), so one turn lets
   * them out first.
   * WHY: applying first kept both behind the state machine, and on a leader also
   * behind the first step of every caller the applied entries resume (the
   * proposals' promises settle during apply, and their reactions were queued
   * before the save's). A follower applies the previous commit index with every
   * append, so at low load its fsync, on every write's path, waited for that
   * apply. The order changes nothing else: these entries are durable, and the
   * Ready's own messages and entries were fixed by ready(). Timing only: if the
   * storage is busy with an earlier operation, the save simply starts later.
   */
  private async applyWhilePersisting(rd: Ready, n: number, persisting: Promise<unknown>): Promise<void> {
    if (n === 0) return;
    await Promise.resolve();
    try {
      for (let i = 0; i < n; i++) this.applyEntry(rd.committedEntries[i]!);
    } catch (err) {
      // The node fails on err (runLoop); the save's own outcome no longer matters to anyone.
      persisting.catch(() => undefined);
      throw err;
    }
  }

  /**
   * One synced save, unless only the commit index changed (see hard-state-writes.ts).
   * Resolves with the stored bytes of the Ready's snapshot (RaftStorage.save), or null.
   */
  private async persist(rd: Ready): Promise<SnapshotBytes | null> {
    const batch = this.writes.plan(rd);
    if (batch === null) return null;
    const t0 = performance.now();
    const stored = await this.storage.save(batch);
    this.writes.saved(rd);
    this.metrics?.storageBatches.inc();
    this.metrics?.storageBatchEntries.observe(rd.entries.length);
    this.metrics?.storageSaveSeconds.observe((performance.now() - t0) / 1000);
    return stored;
  }

  /** At stop: the commit index learned since the last synced save, so a restart applies up to it at once. */
  private async writeUnwrittenHard(): Promise<void> {
    const hardState = this.writes.takeUnwritten();
    if (hardState === null || hasFailed(this.lifecycle)) return;
    try {
      await this.storage.save({ hardState, entries: [], snapshot: null, sync: false });
    } catch (err) {
      // Nothing depends on it (see persist); a stop must not fail over it.
      this.log.warn({ err }, 'could not store the latest commit index at stop');
    }
  }

  private applyEntry(e: Entry): void {
    this.applied.assertNext(e.index);
    let result: unknown;
    switch (e.kind) {
      case 'normal':
        result = this.sm.apply({ index: e.index, term: e.term, data: e.data });
        break;
      case 'noop':
        result = undefined;
        break;
      case 'config':
        this.membership.applied.apply(e.members);
        result = e.members;
        break;
      default:
        assertNever(e);
    }
    this.applied.applied(e.index, e.term);
    // Here, between two entries, the state machine holds exactly the state at e.index: captured if a digest is due.
    this.snapshots.appliedTo(e.index);
    this.proposals.applied(e.index, e.term, result);
    if (e.kind === 'noop') this.leadership.noopApplied(e.term, this.applied.index);
  }

  private waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (stopRequested(this.lifecycle)) finish(new RatifyError('SHUTTING_DOWN', 'the node is stopping'));
        else if (predicate()) finish(null);
      };
      const finish = (err: RatifyError | null): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err === null) resolve();
        else reject(err);
      };
      const timer = setTimeout(() => finish(new RatifyError('TIMEOUT', `${what} within ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
      this.waiters.add(check);
    });
  }

  private notifyWaiters(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Run a core call; an exception there is a bug, so the node fails hard. */
  private guard<T>(fn: () => T): T {
    try {
      const out = fn();
      this.scheduleKick();
      return out;
    } catch (err) {
      this.fail(err);
      throw new RatifyError('INTERNAL', 'the Raft node failed; see the logs', { cause: err });
    }
  }

  private fail(err: unknown): void {
    const next = failed(this.lifecycle, err);
    if (next === this.lifecycle) return;
    this.lifecycle = next;
    if (this.ticker !== null) clearInterval(this.ticker);
    this.ticker = null;
    this.log.fatal({ err }, 'raft node failed: a bug or an unrecoverable storage error; stopping');
    this.proposals.rejectAllShutdown();
    this.reads.rejectAllShutdown();
    this.onFatal(err);
  }
}

export function toRaftConfig(c: RaftNodeConfig): RaftConfig {
  const seed = c.seed ?? randomBytes(4).readUInt32LE(0);
  return {
    id: c.id,
    electionTicks: c.electionTicks,
    heartbeatTicks: c.heartbeatTicks,
    maxInflightAppends: c.maxInflightAppends,
    maxAppendBytes: c.maxAppendBytes,
    snapshotChunkBytes: c.snapshotChunkBytes,
    maxUncommittedEntries: c.maxUncommittedEntries,
    snapshotCatchUpEntries: c.snapshotCatchUpEntries,
    preVote: c.preVote,
    checkQuorum: c.checkQuorum,
    random: new Prng(seed).asFunction(),
  };
}

function defaultCore(config: RaftConfig, initial: InitialState): RaftCoreApi {
  return new RaftCore(config, initial);
}

function crashProcess(err: unknown): void {
  // Thrown outside any promise chain so the process dies with the stack trace.
  setImmediate(() => {
    throw err;
  });
}

/** Roles as the HTTP API shows them: a pre-candidate is a candidate to the outside. */
export function publicRole(role: Role): 'leader' | 'follower' | 'candidate' | 'learner' {
  return role === 'precandidate' ? 'candidate' : role;
}
