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
import {
  assertNever,
  type ConfChange,
  type Entry,
  type HardState,
  type InitialState,
  type Member,
  type Message,
  type NodeId,
  type ProposeRefusal,
  type ProposeResult,
  type RaftConfig,
  type Ready,
  type Role,
  type Snapshot,
  type SoftState,
} from '../raft/types.js';
import type { RaftStorage } from '../storage/raft-storage.js';
import { mustSync } from '../storage/save-plan.js';
import type { Transport } from '../transport/transport.js';
import type { NodeConfig } from './config.js';
import { InboundGuard } from './inbound-guard.js';
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
  private readonly proposals: PendingProposals;
  private readonly reads: PendingReads;
  private readonly listeners = new Set<(e: LeadershipEvent) => void>();
  private readonly waiters = new Set<() => void>();
  /** What followers and learners acknowledged to this node as leader (for promotion). */
  private readonly peerMatch = new PeerMatch();
  /** Drops implausible inbound messages before the core sees them. */
  private readonly inbound: InboundGuard;

  private ticker: NodeJS.Timeout | null = null;
  private started = false;
  private stopped = false;
  private failed = false;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private kickScheduled = false;
  /** The snapshot being written to storage in the background; one at a time. */
  private snapshotting: Promise<void> | null = null;
  /** A snapshot durable in storage that the core has not been handed yet (that happens between Readys). */
  private durableSnapshot: Snapshot | null = null;

  // Invariant: appliedIndex only grows, by exactly one per applied entry, or jumps to a snapshot's index.
  private appliedIndex: number;
  private appliedTerm: number;
  /** Membership as of appliedIndex (goes into snapshot metadata). */
  private appliedMembers: readonly Member[];
  private soft: SoftState;
  /** Term whose no-op must be applied before we announce leadership. */
  private leaderAnnouncePendingTerm: number | null = null;
  private lastEvent: LeadershipEvent;
  private leaderCommitSeen = 0;
  /** The member list last handed to the transport; the core keeps one array per config, so identity tells a change. */
  private transportMembers: CoreStatus['members'] | null = null;
  /** Term and vote as the last save left them on disk (see mustSync). */
  private persistedHard: HardState;
  /** A commit-index-only hard state not on disk yet: it rides on the next synced save, or is written at stop() (see persist). */
  private unwrittenHard: HardState | null = null;

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
    this.proposals = new PendingProposals(opts.config.maxPendingProposals, (o) => this.metrics?.proposals.inc({ result: o }));
    this.reads = new PendingReads(opts.config.maxPendingReads, (o) => this.metrics?.readBarriers.inc({ result: o }));
    this.persistedHard = initial.hardState;
    this.appliedIndex = initial.appliedIndex;
    this.appliedTerm = initial.snapshot?.meta.term ?? 0;
    this.appliedMembers = initial.snapshot?.meta.members ?? initial.bootstrapMembers;
    const st = core.status();
    this.soft = { role: st.role, leaderId: st.leaderId, term: st.term };
    this.lastEvent = { isLeader: false, term: st.term };
    this.syncTransportMembers(st.members);
    this.metrics?.setStatusSource(() => {
      const now = this.core.status();
      return { term: now.term, commitIndex: now.commitIndex, appliedIndex: this.appliedIndex, snapshotIndex: now.snapshotIndex, role: now.role };
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
      bootstrapMembers: opts.config.peers,
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
    this.ticker = setInterval(() => this.guard(() => this.core.tick()), this.cfg.tickMs);
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
    };
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

  readiness(): Readiness {
    const st = this.core.status();
    const leaderCommitIndex = st.role === 'leader' ? st.commitIndex : Math.max(this.leaderCommitSeen, st.commitIndex);
    return { leaderKnown: st.leaderId !== null, appliedIndex: this.appliedIndex, leaderCommitIndex };
  }

  async propose(data: Uint8Array, opts?: { timeoutMs?: number }): Promise<unknown> {
    this.assertServing();
    if (!this.proposals.hasRoom()) {
      this.metrics?.proposals.inc({ result: 'refused' });
      throw new RatifyError('TOO_MANY_PENDING', `${this.proposals.size} proposals are pending (maxPendingProposals ${this.cfg.maxPendingProposals})`);
    }
    const res = this.guard(() => this.core.propose(data));
    return this.track(res, opts?.timeoutMs ?? this.cfg.proposalTimeoutMs);
  }

  async readBarrier(opts?: { timeoutMs?: number }): Promise<void> {
    this.assertServing();
    if (!this.reads.hasRoom()) {
      this.metrics?.readBarriers.inc({ result: 'refused' });
      throw new RatifyError('TOO_MANY_PENDING', `${this.reads.size} read barriers are pending (maxPendingReads ${this.cfg.maxPendingReads})`);
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
    const where = matchIndex === null ? 'has not acknowledged any entry to this leader yet' : `matches the leader's log up to index ${matchIndex}`;
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
        return new RatifyError('TOO_MANY_PENDING', `more than maxUncommittedEntries (${this.cfg.maxUncommittedEntries}) entries are uncommitted`);
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
        await this.handleReady(this.core.ready());
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
    this.syncTransportMembers(this.core.members());
    const sendFirst = this.maySendBeforePersist(rd);
    if (sendFirst && rd.messages.length > 0) this.transport.send(rd.messages);
    const durableCount = this.durableCommittedCount(rd);
    for (let i = 0; i < durableCount; i++) this.applyEntry(rd.committedEntries[i]!);
    if (rd.hardState !== null || rd.entries.length > 0 || rd.snapshot !== null) await this.persist(rd);
    if (!sendFirst && rd.messages.length > 0) this.transport.send(rd.messages);
    if (rd.snapshot !== null) this.installSnapshot(rd.snapshot);
    for (let i = durableCount; i < rd.committedEntries.length; i++) this.applyEntry(rd.committedEntries[i]!);
    for (const rs of rd.readStates) this.reads.confirmed(rs.requestId, rs.readIndex, this.appliedIndex);
    for (const id of rd.droppedReads) this.reads.dropped(id, this.notLeaderError());
    this.core.advance(rd);
    this.reads.applied(this.appliedIndex);
    this.maybeSnapshot();
    this.notifyWaiters();
  }

  /**
   * Thesis §10.2.1: a leader may send AppendEntries while its own write of the
   * same entries runs. Safe because the leader counts its own log towards a
   * quorum only up to what advance() reported persisted (Replicator.selfPersisted,
   * called after this Ready's save), and an append promises nothing about the
   * leader's disk: only the followers' acknowledgements, sent after their own
   * synced write, make an entry count. What must stay behind the write is
   * anything whose receiver relies on this node's durable state: a new term or
   * vote (every message carries the term; a single voter campaigns and wins in
   * one Ready), a snapshot install, and answers such as vote grants and append
   * acknowledgements, which a leader does not send; hence the type list.
   */
  private maySendBeforePersist(rd: Ready): boolean {
    if (this.soft.role !== 'leader' || rd.snapshot !== null) return false;
    if (rd.hardState !== null && !sameTermAndVote(rd.hardState, this.persistedHard)) return false;
    return rd.messages.every((m) => LEADER_EARLY_MESSAGES.has(m.type));
  }

  /**
   * How many of rd.committedEntries (a prefix) were made durable by earlier
   * Readys, so may be applied before this Ready's write: every entry below the
   * first one this Ready writes, unless it installs a snapshot. The core hands
   * out only entries that are committed and already stable (log.nextToApply),
   * so normally that is all of them; checking here keeps apply-after-durable a
   * property of the driver, not an assumption. It takes the fsync of the next
   * batch off every decision's way to its client.
   */
  private durableCommittedCount(rd: Ready): number {
    if (rd.snapshot !== null) return 0;
    const firstWritten = rd.entries[0]?.index ?? Number.POSITIVE_INFINITY;
    let n = 0;
    while (n < rd.committedEntries.length && rd.committedEntries[n]!.index < firstWritten) n++;
    return n;
  }

  private async persist(rd: Ready): Promise<void> {
    const t0 = performance.now();
    const batch = { hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot };
    // etcd's MustSync: a commit-index-only batch needs no fsync (see mustSync); the storage re-checks.
    if (!mustSync(this.persistedHard, batch)) {
      // Nor a write of its own: Raft never needs the commit index back from disk (a restarted
      // node relearns it from a leader; the stored one only lets it apply sooner). It goes
      // with the next synced save, so the stored one trails by at most one save. At low load
      // every write had a commit-only save after it: a LevelDB write and a thread-pool round
      // trip on every node, for nothing that is waited on.
      this.unwrittenHard = rd.hardState;
      if (rd.hardState !== null) this.persistedHard = rd.hardState;
      return;
    }
    // A snapshot's Ready carries its own hard state; an older commit index would trail its index.
    if (batch.hardState === null && batch.snapshot === null) batch.hardState = this.unwrittenHard;
    this.unwrittenHard = null;
    await this.storage.save({ ...batch, sync: true });
    if (rd.hardState !== null) this.persistedHard = rd.hardState;
    this.metrics?.storageBatches.inc();
    this.metrics?.storageBatchEntries.observe(rd.entries.length);
    this.metrics?.storageSaveSeconds.observe((performance.now() - t0) / 1000);
  }

  /** At stop: the commit index learned since the last synced save, so a restart applies up to it at once. */
  private async writeUnwrittenHard(): Promise<void> {
    const hardState = this.unwrittenHard;
    this.unwrittenHard = null;
    if (hardState === null || this.failed) return;
    try {
      await this.storage.save({ hardState, entries: [], snapshot: null, sync: false });
    } catch (err) {
      // Nothing depends on it (see persist); a stop must not fail over it.
      this.log.warn({ err }, 'could not store the latest commit index at stop');
    }
  }

  private installSnapshot(s: Snapshot): void {
    if (s.meta.index <= this.appliedIndex) throw new Error(`snapshot at ${s.meta.index} is not ahead of applied index ${this.appliedIndex}`);
    this.sm.restore(s.data);
    this.appliedIndex = s.meta.index;
    this.appliedTerm = s.meta.term;
    this.appliedMembers = s.meta.members;
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
        this.appliedMembers = e.members;
        result = e.members;
        break;
      default:
        assertNever(e);
    }
    this.appliedIndex = e.index;
    this.appliedTerm = e.term;
    this.proposals.applied(e.index, e.term, result);
    if (e.kind === 'noop' && e.term === this.leaderAnnouncePendingTerm) this.announceLeadership(e.term);
  }

  /**
   * Starts a snapshot once snapshotThresholdEntries entries were applied since
   * the last one. The state machine is serialized here, at a Ready boundary, so
   * the bytes are exactly the state at appliedIndex; writing them (a file of
   * megabytes, an fsync, a batch deleting the compacted entries) runs in the
   * background. WHY: awaited inside the Ready loop it stalled every proposal
   * for 25-110 ms every 10,000 entries (1.5 s at full load), which was most of
   * the writes benchmark's p99.9. Nothing waits for it: entries stay in the log
   * (and in memory) until the core is handed the durable snapshot.
   */
  private maybeSnapshot(): void {
    if (this.snapshotting !== null || this.durableSnapshot !== null) return;
    if (this.appliedIndex - this.core.snapshotIndex() < this.cfg.snapshotThresholdEntries) return;
    const snapshot: Snapshot = { meta: { index: this.appliedIndex, term: this.appliedTerm, members: this.appliedMembers }, data: this.sm.snapshot() };
    this.snapshotting = this.storeSnapshot(snapshot).finally(() => {
      this.snapshotting = null;
    });
  }

  private async storeSnapshot(snapshot: Snapshot): Promise<void> {
    try {
      await this.storage.compact(snapshot);
    } catch (err) {
      if (!this.stopped) this.fail(err);
      return;
    }
    this.durableSnapshot = snapshot;
    // With no Ready in flight the core takes it now; else runLoop hands it over after that Ready.
    if (!this.running) this.handOverSnapshot();
  }

  /**
   * Only between Readys: compacting the core's log while a Ready's save is in
   * flight would change the log under the advance() that follows it.
   */
  private handOverSnapshot(): void {
    const snapshot = this.durableSnapshot;
    if (snapshot === null || this.stopped || this.failed) return;
    this.durableSnapshot = null;
    // A leader's snapshot installed meanwhile is at least as new: ours has nothing to add.
    if (this.core.snapshotIndex() >= snapshot.meta.index) return;
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
    if (prev.leaderId !== next.leaderId) {
      this.metrics?.leaderChanges.inc();
      this.log.info({ leaderId: next.leaderId, role: next.role, term: next.term }, 'leader changed');
    }
    if (prev.role === 'leader' && (next.role !== 'leader' || next.term !== prev.term)) this.proposals.rejectAllLost();
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

  private syncTransportMembers(members: readonly Member[]): void {
    // Runs on every Ready: compare by identity, not by serializing the list. A new array
    // with the same members (a restore) only costs one idempotent setMembers().
    if (members === this.transportMembers) return;
    this.transportMembers = members;
    this.transport.setMembers(members);
    this.peerMatch.retain(new Set(members.map((m) => m.id)));
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

/** Leader-originated messages that promise nothing about the sender's disk. */
const LEADER_EARLY_MESSAGES: ReadonlySet<Message['type']> = new Set<Message['type']>(['append', 'heartbeat', 'snapshot', 'timeoutNow', 'readIndexResp']);

function sameTermAndVote(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote;
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
