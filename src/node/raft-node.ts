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
import { randomBytes } from 'node:crypto';
import { RatifyError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RaftMetrics } from '../metrics.js';
import type { CoreStatus, RaftCoreApi } from '../raft/api.js';
import { seededRandom } from '../raft/random.js';
import { RaftCore } from '../raft/raft.js';
import type { StateMachine } from '../raft/state-machine.js';
import { assertNever } from '../util/assert-never.js';
import type {
  ConfChange,
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
  SoftState,
} from '../raft/types.js';
import type { RaftStorage } from '../storage/raft-storage.js';
import type { PeerAdmission, RemovalNotice } from '../transport/peer-admission.js';
import type { Transport } from '../transport/transport.js';
import { BackgroundSnapshots, snapshotPhaseEntries } from './background-snapshots.js';
import type { StateDigest, StateDigests } from './state-digests.js';
import type { NodeConfig } from './config.js';
import { HardStateWrites } from './hard-state-writes.js';
import { InboundGuard } from './inbound-guard.js';
import { planReady } from './ready-plan.js';
import { electionOutcome } from './election-outcome.js';
import { LoopProgress } from './liveness.js';
import { describeRemoval, SelfRemoval, type SelfView } from './self-removal.js';
import { TransportMembership } from './transport-membership.js';
import { PendingProposals } from './pending-proposals.js';
import { PendingReads } from './pending-reads.js';
import { PeerMatch } from './peer-match.js';
import type { ClusterNode, Readiness } from '../http/cluster-node.js';
import type { LeadershipEvent, NodeStatus } from './replicated-log.js';

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
  private readonly listeners = new Set<(e: LeadershipEvent) => void>();
  private readonly waiters = new Set<() => void>();
  /** What followers and learners acknowledged to this node as leader (for promotion). */
  private readonly peerMatch = new PeerMatch();
  /** Drops implausible inbound messages before the core sees them. */
  private readonly inbound: InboundGuard;
  /** When Readys start and finish, for /healthz (liveness.ts). */
  private readonly progress = new LoopProgress();

  private ticker: NodeJS.Timeout | null = null;
  private started = false;
  private stopped = false;
  private failed = false;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private kickScheduled = false;
  /** Local snapshots: taken at a Ready boundary, written in the background, handed to the core between Readys. */
  private readonly snapshots: BackgroundSnapshots;
  /** The background write of snapshots.inFlight, for stop() to wait on. */
  private snapshotting: Promise<void> | null = null;

  // Invariant: appliedIndex only grows, by exactly one per applied entry, or jumps to a snapshot's index.
  private appliedIndex: number;
  private appliedTerm: number;
  /** The transport's address book and admission (membership.applied: membership as of appliedIndex). */
  private readonly membership: TransportMembership;
  private readonly removal = new SelfRemoval();
  private soft: SoftState;
  /** Term whose no-op must be applied before we announce leadership. */
  private leaderAnnouncePendingTerm: number | null = null;
  private lastEvent: LeadershipEvent;
  private leaderCommitSeen = 0;
  /** What of each Ready's hard state reaches the disk, and when (MustSync). */
  private readonly writes: HardStateWrites;

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
    this.proposals = new PendingProposals(opts.config.maxPendingProposals, (o) => this.metrics?.proposals.inc({ result: o }));
    this.reads = new PendingReads(opts.config.maxPendingReads, (o) => this.metrics?.readBarriers.inc({ result: o }));
    this.writes = new HardStateWrites(initial.hardState);
    this.snapshots = new BackgroundSnapshots(
      opts.config.snapshotThresholdEntries,
      snapshotPhaseEntries(
        opts.config.snapshotThresholdEntries,
        opts.config.id,
        opts.config.peers.map((m) => m.id),
      ),
    );
    this.appliedIndex = initial.appliedIndex;
    this.appliedTerm = initial.snapshot?.meta.term ?? 0;
    this.membership = new TransportMembership(
      this.nodeId,
      this.transport,
      initial.bootstrapMembers,
      initial.snapshot?.meta.members ?? null,
    );
    const st = core.status();
    this.soft = { role: st.role, leaderId: st.leaderId, term: st.term };
    this.lastEvent = { isLeader: false, term: st.term };
    this.syncTransportMembers();
    this.updateRemoval();
    this.metrics?.setStatusSource(() => {
      const now = this.core.status();
      return {
        term: now.term,
        commitIndex: now.commitIndex,
        appliedIndex: this.appliedIndex,
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
      snapshot: stored.snapshot,
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

  /** Start ticking and accepting messages. */
  start(): void {
    if (this.started) return;
    this.started = true;
    // A removed node does not tick: it must never campaign again (see self-removal.ts).
    this.ticker = setInterval(() => {
      if (!this.removal.removed) this.guard(() => this.core.tick());
    }, this.cfg.tickMs);
    this.ticker.unref();
    this.scheduleKick();
  }

  /** Stop ticking, finish the Ready being processed, fail every waiter. Does not close storage or transport. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    this.ticker = null;
    await this.loopDone;
    await this.snapshotting;
    await this.writeUnwrittenHard();
    this.proposals.rejectAllShutdown();
    this.reads.rejectAllShutdown();
    this.notifyWaiters(); // each sees `stopped` and rejects with SHUTTING_DOWN
    this.listeners.clear();
  }

  /** Inbound messages from the transport (well-formed there; judged plausible here, one by one). */
  receive(messages: readonly Message[]): void {
    if (!this.started || this.stopped || this.failed) return; // Raft tolerates the loss
    for (const m of messages) {
      // Against the state the core is in right now: earlier messages of the batch may have changed it.
      if (!this.inbound.admit(m, this.core.localState())) continue;
      this.noteLeaderCommit(m);
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
      appliedIndex: this.appliedIndex,
      members: st.members,
      removed: this.removal.removed,
    };
  }

  /**
   * The applied state as a snapshot, taken now, for a backup (GET /v1/cluster/snapshot).
   * Between two inputs the state machine holds exactly the state at appliedIndex, which
   * is committed (applied <= commit). Leader only: its state is the most recent one.
   */
  backupSnapshot(): { readonly snapshot: Snapshot; readonly currentTerm: number } {
    this.assertServing();
    if (this.soft.role !== 'leader') throw this.notLeaderError();
    const meta = { index: this.appliedIndex, term: this.appliedTerm, members: this.membership.applied.members };
    return { snapshot: { meta, data: this.sm.snapshot() }, currentTerm: this.soft.term };
  }

  /** This node's state digests (state-digests.ts), for GET /v1/cluster/digests. */
  stateDigests(): { readonly appliedIndex: number; readonly intervalEntries: number | null; readonly digests: readonly StateDigest[] } {
    return { appliedIndex: this.appliedIndex, intervalEntries: this.digests?.intervalEntries ?? null, digests: this.digests?.list() ?? [] };
  }

  /** Whether the transport takes messages from `from` (see peer-admission.ts). */
  admitPeer(from: NodeId): PeerAdmission {
    return this.membership.admit(this.core.members(), this.appliedIndex, from);
  }

  /** An admitted sender said where it listens; kept while no configuration lists it. */
  noteSenderUrl(from: NodeId, url: string): void {
    if (this.stopped || this.failed || !this.membership.noteSenderUrl(this.core.members(), from, url)) return;
    this.log.info({ peer: from, url }, 'learned the address of a peer no configuration lists yet');
  }

  /** The transport heard MEMBER_REMOVED from a peer. */
  onRemovedByPeer(notice: RemovalNotice): void {
    if (this.stopped || this.failed) return;
    if (this.removal.told(notice, this.selfView())) this.onRemovalChanged();
  }

  /** Current term, cheap enough for every log line. */
  get term(): number {
    return this.soft.term;
  }

  snapshotIndex(): number {
    return this.core.snapshotIndex();
  }

  coreStatus(): CoreStatus {
    return this.core.status();
  }

  /** Since when the Ready loop has had work without finishing a Ready (performance.now() ms), or null. */
  loopStalledSince(): number | null {
    if (this.stopped || this.failed || !this.started) return null;
    return this.progress.stalledSince(this.core.hasReady());
  }

  readiness(): Readiness {
    const st = this.core.status();
    const leaderCommitIndex = st.role === 'leader' ? st.commitIndex : Math.max(this.leaderCommitSeen, st.commitIndex);
    return { leaderKnown: st.leaderId !== null, removed: this.removal.removed, appliedIndex: this.appliedIndex, leaderCommitIndex };
  }

  async propose(data: Uint8Array, opts?: { timeoutMs?: number }): Promise<unknown> {
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
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Membership changes resolve with the new member list once the config entry is applied here. */
  addLearner(id: NodeId, url: string, opts?: { timeoutMs?: number }): Promise<readonly Member[]> {
    return this.changeMembership({ type: 'addLearner', id, url }, opts);
  }

  /** Refused with LEARNER_NOT_CAUGHT_UP unless the learner's log is within promoteLagEntriesMax of the leader's. */
  async promote(id: NodeId, opts?: { timeoutMs?: number }): Promise<readonly Member[]> {
    this.assertServing();
    this.assertCaughtUp(id);
    return this.changeMembership({ type: 'promote', id }, opts);
  }

  /**
   * A learner promoted while far behind becomes a voter that cannot acknowledge new
   * entries until it has caught up: in a 3-node cluster going to 4 the quorum grows to
   * 3, so one slow or dead node then stalls every commit (thesis §4.2.1). Checked
   * only where the answer is known, on the leader; elsewhere the core refuses with
   * NOT_LEADER and the request is forwarded to the leader, which checks it.
   */
  private assertCaughtUp(id: NodeId): void {
    const st = this.core.status();
    if (st.role !== 'leader') return;
    if (st.members.find((m) => m.id === id)?.voter !== false) return; // not a learner: the core judges the change
    const matchIndex = this.peerMatch.matchIndex(id, st.term);
    const lagMax = this.cfg.promoteLagEntriesMax;
    if (matchIndex !== null && st.lastIndex - matchIndex <= lagMax) return;
    const where =
      matchIndex === null ? 'has not acknowledged any entry to this leader yet' : `matches the leader's log up to index ${matchIndex}`;
    throw new RatifyError(
      'LEARNER_NOT_CAUGHT_UP',
      `learner ${id} ${where}; the leader's last index is ${st.lastIndex} and promoteLagEntriesMax is ${lagMax}; retry once it has caught up`,
      { details: { id, matchIndex, lastIndex: st.lastIndex, promoteLagEntriesMax: lagMax } },
    );
  }

  remove(id: NodeId, opts?: { timeoutMs?: number }): Promise<readonly Member[]> {
    return this.changeMembership({ type: 'remove', id }, opts);
  }

  /** Resolves once `to` is the known leader (in a later term), or rejects with TIMEOUT. */
  async transferLeadership(to: NodeId, opts?: { timeoutMs?: number }): Promise<void> {
    this.assertServing();
    const startTerm = this.soft.term;
    const res = this.guard(() => this.core.transferLeadership(to));
    if (!res.ok) throw this.refusal(res.reason, res.leaderId);
    this.scheduleKick();
    const timeoutMs = opts?.timeoutMs ?? this.electionTimeoutMs() * 4;
    // To the node that already leads: the core accepts it as a no-op, and no new term will come.
    const done = (): boolean => this.soft.leaderId === to && (this.soft.term > startTerm || to === this.nodeId);
    await this.waitFor(done, timeoutMs, `leadership did not move to ${to}`);
  }

  electionTimeoutMs(): number {
    return this.cfg.electionTicks * this.cfg.tickMs;
  }

  private async changeMembership(change: ConfChange, opts?: { timeoutMs?: number }): Promise<readonly Member[]> {
    this.assertServing();
    const res = this.guard(() => this.core.proposeConfChange(change));
    return (await this.track(res, opts?.timeoutMs ?? this.cfg.proposalTimeoutMs)) as readonly Member[];
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

  notLeaderError(leaderId: NodeId | null = this.soft.leaderId): RatifyError {
    if (leaderId === null) return new RatifyError('NO_LEADER', 'no leader is known; retry shortly', { details: { leaderId: null } });
    const leaderUrl = this.core.status().members.find((m) => m.id === leaderId)?.url ?? null;
    return new RatifyError('NOT_LEADER', `this node is not the leader; the leader is ${leaderId}`, { details: { leaderId, leaderUrl } });
  }

  private assertServing(): void {
    if (this.stopped || this.failed) throw new RatifyError('SHUTTING_DOWN', 'the node is stopping');
    if (this.removal.removed)
      throw new RatifyError('MEMBER_REMOVED', `this node (${this.nodeId}) was removed from the cluster; it no longer serves`);
  }

  // ---- the ready loop ----

  private scheduleKick(): void {
    if (this.kickScheduled) return;
    this.kickScheduled = true;
    // Coalesce the calls of one synchronous burst (a batch of inbound messages).
    queueMicrotask(() => {
      this.kickScheduled = false;
      this.kick();
    });
  }

  private kick(): void {
    if (this.running || this.stopped || this.failed || !this.started) return;
    if (!this.core.hasReady()) return;
    this.running = true;
    this.loopDone = this.runLoop();
  }

  private async runLoop(): Promise<void> {
    try {
      while (!this.stopped && !this.failed && this.core.hasReady()) {
        this.progress.begin();
        await this.handleReady(this.core.ready());
        this.progress.end();
        this.handOverSnapshot();
      }
    } catch (err) {
      this.fail(err);
    } finally {
      // Synchronous with the last hasReady() check: no event can slip in between.
      this.running = false;
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState !== null) this.onSoftState(rd.softState);
    // Config entries take effect when appended (thesis §4.1): address new members before sending.
    this.syncTransportMembers();
    const plan = planReady(rd, this.soft.role, this.writes.persisted);
    if (plan.sendBeforePersist && rd.messages.length > 0) this.transport.send(rd.messages);
    for (let i = 0; i < plan.applyBeforePersist; i++) this.applyEntry(rd.committedEntries[i]!);
    await this.persist(rd);
    if (!plan.sendBeforePersist && rd.messages.length > 0) this.transport.send(rd.messages);
    if (rd.snapshot !== null) this.installSnapshot(rd.snapshot);
    for (let i = plan.applyBeforePersist; i < rd.committedEntries.length; i++) this.applyEntry(rd.committedEntries[i]!);
    for (const rs of rd.readStates) this.reads.confirmed(rs.requestId, rs.readIndex, this.appliedIndex);
    for (const id of rd.droppedReads) this.reads.dropped(id, this.notLeaderError());
    this.core.advance(rd);
    this.reads.applied(this.appliedIndex);
    // A removal applied in this Ready drops the peer here (the union keeps it until then).
    this.syncTransportMembers();
    this.updateRemoval();
    this.maybeSnapshot();
    this.notifyWaiters();
  }

  /** One synced save, unless only the commit index changed (see hard-state-writes.ts). */
  private async persist(rd: Ready): Promise<void> {
    const batch = this.writes.plan(rd);
    if (batch === null) return;
    const t0 = performance.now();
    await this.storage.save(batch);
    this.writes.saved(rd);
    this.metrics?.storageBatches.inc();
    this.metrics?.storageBatchEntries.observe(rd.entries.length);
    this.metrics?.storageSaveSeconds.observe((performance.now() - t0) / 1000);
  }

  /** At stop: the commit index learned since the last synced save, so a restart applies up to it at once. */
  private async writeUnwrittenHard(): Promise<void> {
    const hardState = this.writes.takeUnwritten();
    if (hardState === null || this.failed) return;
    try {
      await this.storage.save({ hardState, entries: [], snapshot: null, sync: false });
    } catch (err) {
      // Nothing depends on it (see persist); a stop must not fail over it.
      this.log.warn({ err }, 'could not store the latest commit index at stop');
    }
  }

  private installSnapshot(s: Snapshot): void {
    if (s.meta.index <= this.appliedIndex)
      throw new Error(`snapshot at ${s.meta.index} is not ahead of applied index ${this.appliedIndex}`);
    this.sm.restore(s.data);
    this.appliedIndex = s.meta.index;
    this.appliedTerm = s.meta.term;
    this.membership.applied.apply(s.meta.members);
    this.digests?.applied(this.appliedIndex, () => this.sm.snapshot());
    this.proposals.rejectUpTo(s.meta.index);
    this.metrics?.snapshotsInstalled.inc();
    this.log.info({ snapshotIndex: s.meta.index, snapshotTerm: s.meta.term, bytes: s.data.length }, 'installed snapshot from leader');
  }

  private applyEntry(e: Entry): void {
    if (e.index !== this.appliedIndex + 1) throw new Error(`applying index ${e.index} after applied index ${this.appliedIndex}`);
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
    this.appliedIndex = e.index;
    this.appliedTerm = e.term;
    // Here, between two entries, the state machine holds exactly the state at e.index.
    this.digests?.applied(e.index, () => this.sm.snapshot());
    this.proposals.applied(e.index, e.term, result);
    if (e.kind === 'noop' && e.term === this.leaderAnnouncePendingTerm) this.announceLeadership(e.term);
  }

  /** Starts a local snapshot when one is due (see background-snapshots.ts). */
  private maybeSnapshot(): void {
    if (!this.snapshots.due(this.appliedIndex, this.core.snapshotIndex())) return;
    // Serialized here, at a Ready boundary, so the bytes are exactly the state at appliedIndex.
    const snapshot: Snapshot = {
      meta: { index: this.appliedIndex, term: this.appliedTerm, members: this.membership.applied.members },
      data: this.sm.snapshot(),
    };
    this.snapshots.started(snapshot);
    this.snapshotting = this.storeSnapshot(snapshot).finally(() => {
      this.snapshotting = null;
    });
  }

  private async storeSnapshot(snapshot: Snapshot): Promise<void> {
    try {
      await this.storage.compact(snapshot);
    } catch (err) {
      this.snapshots.abandoned();
      if (!this.stopped) this.fail(err);
      return;
    }
    this.snapshots.written();
    // With no Ready in flight the core takes it now; else runLoop hands it over after that Ready.
    if (!this.running) this.handOverSnapshot();
  }

  private handOverSnapshot(): void {
    if (this.stopped || this.failed) return;
    const snapshot = this.snapshots.takeDurable(this.core.snapshotIndex());
    if (snapshot === null) return;
    try {
      this.guard(() => this.core.compact(snapshot.meta, snapshot.data));
    } catch {
      return; // guard() already failed the node
    }
    this.metrics?.snapshotsTaken.inc();
    this.log.info({ snapshotIndex: snapshot.meta.index, bytes: snapshot.data.length }, 'took snapshot and compacted the log');
  }

  // ---- leadership ----

  private onSoftState(next: SoftState): void {
    const prev = this.soft;
    this.soft = next;
    const election = electionOutcome(prev, next);
    if (election !== null) this.metrics?.elections.inc({ result: election });
    if (prev.leaderId !== next.leaderId) {
      this.metrics?.leaderChanges.inc();
      this.log.info({ leaderId: next.leaderId, role: next.role, term: next.term }, 'leader changed');
    }
    // Entries up to the commit index are committed: their proposals resolve once applied (a
    // leader that committed its own removal steps down before it applies it). Above it, the
    // fate is unknown.
    if (prev.role === 'leader' && (next.role !== 'leader' || next.term !== prev.term))
      this.proposals.rejectLostAbove(this.core.status().commitIndex);
    if (next.role === 'leader') {
      if (prev.role !== 'leader' || prev.term !== next.term) this.leaderAnnouncePendingTerm = next.term;
      return;
    }
    this.leaderAnnouncePendingTerm = null;
    this.emit({ isLeader: false, term: next.term });
  }

  private announceLeadership(term: number): void {
    this.leaderAnnouncePendingTerm = null;
    if (this.soft.role !== 'leader' || this.soft.term !== term) return;
    this.log.info({ appliedIndex: this.appliedIndex }, 'became leader; state machine is up to date');
    this.emit({ isLeader: true, term });
  }

  private emit(event: LeadershipEvent): void {
    if (event.isLeader === this.lastEvent.isLeader && event.term === this.lastEvent.term) return;
    this.lastEvent = event;
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch (err) {
        this.log.error({ err }, 'leadership listener threw');
      }
    }
  }

  private noteLeaderCommit(m: Message): void {
    if (m.type === 'append' || m.type === 'heartbeat') this.leaderCommitSeen = Math.max(this.leaderCommitSeen, m.leaderCommit);
    else if (m.type === 'snapshot') this.leaderCommitSeen = Math.max(this.leaderCommitSeen, m.meta.index);
  }

  private waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.stopped) finish(new RatifyError('SHUTTING_DOWN', 'the node is stopping'));
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

  // ---- plumbing ----

  /** The transport's address book follows the configurations (transport-membership.ts). */
  private syncTransportMembers(): void {
    const latest = this.core.members();
    if (this.membership.sync(latest)) this.peerMatch.retain(new Set(latest.map((m) => m.id)));
  }

  // ---- removal from the cluster ----

  private selfView(): SelfView {
    const st = this.core.status();
    return { id: this.nodeId, latest: st.members, latestConfigIndex: st.configIndex };
  }

  private updateRemoval(): void {
    if (this.removal.update(this.membership.applied.selfRemoved, () => this.selfView())) this.onRemovalChanged();
  }

  private onRemovalChanged(): void {
    const state = this.removal.state;
    const { fields, message } = describeRemoval(state);
    const line = { ...fields, appliedIndex: this.appliedIndex, role: this.soft.role };
    if (state.kind === 'member') return this.log.info(line, message);
    this.log.warn(line, message);
    // Committed proposals still resolve as they are applied; the fate of the others is unknown.
    this.proposals.rejectLostAbove(this.core.status().commitIndex);
    this.reads.rejectAll(new RatifyError('MEMBER_REMOVED', `this node (${this.nodeId}) was removed from the cluster`));
    this.emit({ isLeader: false, term: this.soft.term });
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
    if (this.failed) return;
    this.failed = true;
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
    preVote: c.preVote,
    checkQuorum: c.checkQuorum,
    random: seededRandom(seed),
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
