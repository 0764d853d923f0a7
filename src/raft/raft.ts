// RaftCore: the pure, deterministic Raft state machine. This file owns the
// node's term, vote and role, the term rules every message passes through
// first (§5.1), the dispatch by role and the role transitions. The concepts it
// dispatches to live in their own files:
//
//   election.ts    voting rules, campaigns, Pre-Vote, the leader lease
//   follower.ts    AppendEntries consistency check, heartbeats, InstallSnapshot
//   leader.ts      replication driving, commit (Figure 8), CheckQuorum, proposals
//   transfer.ts    leadership transfer
//   config-state.ts  the configuration in effect (§4.1)
//   read-index.ts  ReadIndex on the leader and forwarded from followers (§6.4)
//   ready.ts       Ready assembly and advance()
//
// No I/O, no clocks, no randomness but config.random. Driver loop (see types.ts
// for the Ready contract):
//
//   const core = new RaftCore(config, initialStateFromDisk);
//   every tick interval:        core.tick();
//   on a received message:      core.step(msg);
//   on a client call:           core.propose(data) / core.readIndex(id) / core.proposeConfChange(c)
//                               / core.transferLeadership(id)   (synchronous refusals come back at once)
//   whenever core.hasReady():
//     const rd = core.ready();
//     await storage.save({ snapshot: rd.snapshot, entries: rd.entries, hardState: rd.hardState }); // one fsync
//     transport.send(rd.messages);                  // only after the save is durable
//     if (rd.snapshot) stateMachine.restore(rd.snapshot.data);
//     for (const e of rd.committedEntries) if (e.kind === 'normal') stateMachine.apply(e);
//     serve rd.readStates once applied >= readIndex; fail rd.droppedReads;
//     core.advance(rd);
//   now and then, after applying: const meta = core.snapshotMetaAt(applied);
//     await storage.compact({ meta, data: stateMachine.snapshot() }); core.compact(meta, data);
//
// One Ready is outstanding at a time: hasReady() is false and ready() throws
// until advance(). tick/step/propose may be called while the driver works on it.
import { assert } from './assert.js';
import type { CoreStatus, RaftCoreApi } from './api.js';
import { validateRaftConfig } from './config.js';
import { ConfigState, type CurrentConfig } from './config-state.js';
import { Election, grantsVote, inLease, type VoteRequest } from './election.js';
import { FollowerReplication } from './follower.js';
import { validateInitialState } from './initial-state.js';
import { Leader, type LeaderHost } from './leader.js';
import { RaftLog } from './log.js';
import { sameMembers } from './membership.js';
import { Outbox } from './outbox.js';
import type { LocalState } from './plausibility.js';
import { LinearizableReads } from './read-index.js';
import { ReadyTracker } from './ready.js';
import {
  assertNever,
  type ConfChange,
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
  type SnapshotBytes,
  type SnapshotMeta,
  type SoftState,
} from './types.js';

export { validateRaftConfig } from './config.js';
export { MAX_APPLY_BATCH } from './ready.js';

type NonVoteMessage = Exclude<Message, VoteRequest>;

export class RaftCore implements RaftCoreApi {
  private readonly id: NodeId;
  private readonly cfg: RaftConfig;
  private readonly log: RaftLog;
  private readonly config: ConfigState;
  // Invariant: term never decreases; vote is the vote cast in `term` and is
  // never cleared within it (only a new term clears it).
  private term: number;
  private vote: NodeId | null;
  // Invariant: role is 'leader' iff leader !== null; a node that is not
  // electable is never candidate or precandidate.
  private role: Role;
  private leaderId: NodeId | null = null;
  /** Ticks since we heard from a leader or granted a vote (stays 0 while leading). */
  private electionElapsed = 0;
  // Invariant: electionTicks <= randomizedElectionTicks < 2 * electionTicks.
  private randomizedElectionTicks = 0;
  private leader: Leader | null = null;
  private readonly outbox = new Outbox();
  /** The term the driver has made durable: the last advanced Ready's (takeHeartbeats sends in no other). */
  private durableTerm: number;
  private readonly election: Election;
  private readonly follower: FollowerReplication;
  private readonly reads: LinearizableReads;
  private readonly leaderHost: LeaderHost;
  private readonly readyTracker: ReadyTracker;

  constructor(config: RaftConfig, initial: InitialState) {
    validateRaftConfig(config);
    validateInitialState(initial);
    this.id = config.id;
    this.cfg = config;
    this.log = new RaftLog({
      snapshot: initial.snapshot,
      entries: initial.entries,
      commitIndex: initial.hardState.commitIndex,
      appliedIndex: initial.appliedIndex,
    });
    this.config = new ConfigState(this.log, initial.bootstrapMembers);
    this.term = initial.hardState.term;
    this.vote = initial.hardState.vote;
    this.durableTerm = initial.hardState.term;
    this.election = this.newElection();
    this.follower = this.newFollowerReplication();
    this.reads = this.newReads();
    this.leaderHost = this.newLeaderHost();
    this.role = this.followerRole();
    this.randomizeElectionTimeout();
    this.readyTracker = new ReadyTracker(initial.hardState, this.softState());
  }

  // ---------------------------------------------------------------- time

  tick(): void {
    if (this.leader !== null) this.leader.tick();
    else this.tickElection();
    this.reads.tick();
    this.checkInvariants();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.electionElapsed >= this.randomizedElectionTicks && this.promotable()) {
      this.electionElapsed = 0;
      this.election.campaign(this.cfg.preVote ? 'preVote' : 'vote');
    }
  }

  // ---------------------------------------------------------------- step: term rules

  step(m: Message): void {
    assert(m.to === this.id, () => `message for ${m.to} stepped into ${this.id}`);
    assert(m.from !== this.id, () => `message from self: ${m.type}`);
    if (m.term > this.term && !this.onHigherTerm(m)) return;
    if (m.term < this.term) {
      this.onStaleTerm(m);
      return;
    }
    if (m.type === 'vote' || m.type === 'preVote') {
      this.handleVoteRequest(m);
      return;
    }
    this.stepByRole(m);
    // A commit may have settled a pending removal of this node (see ConfigState.electable).
    if (this.role === 'follower' || this.role === 'learner') this.role = this.followerRole();
    this.checkInvariants();
  }

  /** §5.1: a higher term makes us a follower, with the exceptions of §9.6 and §4.2.3. Returns false to drop `m`. */
  private onHigherTerm(m: Message): boolean {
    if (m.type === 'vote' || m.type === 'preVote') {
      // Only a transfer (TimeoutNow) overrides the lease.
      const forced = m.type === 'vote' && m.transfer;
      if (!forced && inLease(this.cfg, this.leaderId, this.electionElapsed)) return false;
      // §9.6: answering a pre-vote never changes our term.
      if (m.type === 'vote') this.becomeFollower(m.term, null);
      return true;
    }
    // A granted pre-vote carries the term we would campaign in, not a real term.
    if (m.type === 'preVoteResp' && m.granted) return true;
    const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot';
    this.becomeFollower(m.term, fromLeader ? m.from : null);
    return true;
  }

  private onStaleTerm(m: Message): void {
    if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') {
      // Tell a deposed leader about the newer term so it steps down; otherwise a
      // node whose votes are ignored (lease) could never rejoin.
      this.send({
        type: 'appendResp',
        from: this.id,
        to: m.from,
        term: this.term,
        success: false,
        matchIndex: 0,
        rejectHint: 0,
        rejectTerm: 0,
      });
    } else if (m.type === 'preVote') {
      this.send({ type: 'preVoteResp', from: this.id, to: m.from, term: this.term, granted: false });
    }
    // Anything else from an old term is an answer nobody waits for any more.
  }

  /** §5.2, §5.4.1, §9.6. A granted vote is in this Ready's hard state, so it is durable before the answer leaves. */
  private handleVoteRequest(m: VoteRequest): void {
    const granted = grantsVote({ term: this.term, vote: this.vote, leaderId: this.leaderId, log: this.log }, m);
    if (m.type === 'preVote') {
      this.send({ type: 'preVoteResp', from: this.id, to: m.from, term: granted ? m.term : this.term, granted });
      return;
    }
    if (granted) {
      this.vote = m.from;
      this.electionElapsed = 0;
    }
    this.send({ type: 'voteResp', from: this.id, to: m.from, term: this.term, granted });
  }

  // ---------------------------------------------------------------- step: per role

  private stepByRole(m: NonVoteMessage): void {
    switch (this.role) {
      case 'leader':
        return this.leaderState().step(m);
      case 'candidate':
      case 'precandidate':
        return this.stepCandidate(m);
      case 'follower':
      case 'learner':
        return this.stepFollower(m);
      default:
        return assertNever(this.role);
    }
  }

  private stepCandidate(m: NonVoteMessage): void {
    switch (m.type) {
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        // §5.2: another server won this term; accept it as leader.
        this.becomeFollower(this.term, m.from);
        return this.stepFollower(m);
      case 'preVoteResp':
        return this.election.onPreVoteResp(m);
      case 'voteResp':
        return this.election.onVoteResp(m);
      case 'readIndex':
        return this.reads.onForwarded(m);
      case 'appendResp':
      case 'heartbeatResp':
      case 'snapshotResp':
      case 'timeoutNow':
      case 'readIndexResp':
        return;
      default:
        return assertNever(m);
    }
  }

  private stepFollower(m: NonVoteMessage): void {
    switch (m.type) {
      case 'append':
        this.heardFromLeader(m.from);
        return this.follower.onAppend(m);
      case 'heartbeat':
        this.heardFromLeader(m.from);
        return this.follower.onHeartbeat(m);
      case 'snapshot':
        this.heardFromLeader(m.from);
        return this.follower.onSnapshot(m);
      case 'timeoutNow':
        // §3.10: the leader hands over; skip pre-vote, voters ignore their lease.
        if (this.promotable()) this.election.campaign('transfer');
        return;
      case 'readIndexResp':
        return this.reads.onAnswer(m);
      case 'readIndex':
        return this.reads.onForwarded(m);
      case 'appendResp':
      case 'heartbeatResp':
      case 'snapshotResp':
      case 'preVoteResp':
      case 'voteResp':
        return;
      default:
        return assertNever(m);
    }
  }

  private heardFromLeader(from: NodeId): void {
    assert(this.leaderId === null || this.leaderId === from, () => `two leaders in term ${this.term}: ${this.leaderId} and ${from}`);
    this.leaderId = from;
    this.electionElapsed = 0;
  }

  // ---------------------------------------------------------------- role transitions

  /** Common to every transition: a new term forgets the vote; the same term keeps it (§5.2). */
  private reset(term: number): void {
    assert(term >= this.term, () => `term going back from ${this.term} to ${term}`);
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
    }
    this.leaderId = null;
    this.electionElapsed = 0;
    this.randomizeElectionTimeout();
    this.election.reset();
    this.leader = null;
    this.reads.dropAll();
  }

  private becomeFollower(term: number, leader: NodeId | null): void {
    this.reset(term);
    this.leaderId = leader;
    this.role = this.followerRole();
  }

  private becomePreCandidate(): void {
    assert(this.role !== 'leader', 'leader cannot become precandidate');
    // §9.6: neither the term nor the vote changes, so a failed pre-campaign disturbs nobody.
    this.reset(this.term);
    this.role = 'precandidate';
  }

  private becomeCandidate(): void {
    assert(this.role !== 'leader', 'leader cannot become candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate', () => `${this.role} cannot become leader`);
    this.reset(this.term);
    this.role = 'leader';
    this.leaderId = this.id;
    this.leader = new Leader(this.leaderHost);
  }

  // ---------------------------------------------------------------- client requests

  propose(data: Uint8Array): ProposeResult {
    return this.leader === null ? this.refuse('NOT_LEADER') : this.leader.propose(data);
  }

  proposeConfChange(change: ConfChange): ProposeResult {
    return this.leader === null ? this.refuse('NOT_LEADER') : this.leader.proposeConfChange(change);
  }

  transferLeadership(to: NodeId): ProposeResult {
    return this.leader === null ? this.refuse('NOT_LEADER') : this.leader.transferLeadership(to);
  }

  readIndex(requestId: number): void {
    this.reads.request(requestId);
  }

  private refuse(reason: ProposeRefusal): ProposeResult {
    return { ok: false, reason, leaderId: this.leaderId };
  }

  // ---------------------------------------------------------------- membership

  private followerRole(): Role {
    return this.config.electable(this.id) ? 'follower' : 'learner';
  }

  /** An electable node with no snapshot waiting to be installed may campaign; others never do. */
  private promotable(): boolean {
    return this.config.electable(this.id) && this.log.pendingSnapshot === null;
  }

  /** Config takes effect on append (§4.1); the role follows it. */
  private adoptConfig(next: CurrentConfig): void {
    this.config.set(next);
    switch (this.role) {
      case 'leader':
        return this.leaderState().onMembersChanged(next.members);
      case 'candidate':
      case 'precandidate':
        if (!this.config.electable(this.id)) this.becomeFollower(this.term, null);
        return;
      case 'follower':
      case 'learner':
        this.role = this.followerRole();
        return;
      default:
        return assertNever(this.role);
    }
  }

  // ---------------------------------------------------------------- Ready / advance

  hasReady(): boolean {
    if (this.readyTracker.busy) return false;
    this.leader?.flush();
    return this.readyTracker.pending(this.hardState(), this.softState(), this.log, this.outbox);
  }

  ready(): Ready {
    assert(!this.readyTracker.busy, 'ready() called again before advance()');
    this.leader?.flush();
    return this.readyTracker.take(this.hardState(), this.softState(), this.log, this.outbox);
  }

  /**
   * The heartbeats (a leader's) and answers to heartbeats queued since the last
   * ready(), taken out of what the next Ready will carry. They claim nothing about
   * this node's log or vote: a heartbeat carries the leader's term, durable since
   * it won the election, and a commit index no higher than what the follower
   * acknowledged holding; an answer carries our term and echoes a read sequence,
   * which grants nothing (a vote is granted only in a voteResp, sent after its
   * Ready is durable). So unlike the Ready's other messages they may go out while
   * a Ready's save is still in flight. Only those of the durable term are taken:
   * a term this node has not yet written goes out with the Ready that writes it,
   * as every message does (no message names a term its sender could forget).
   */
  takeHeartbeats(): Message[] {
    return this.outbox.takeHeartbeats(this.durableTerm);
  }

  advance(rd: Ready): void {
    this.readyTracker.finish(rd, this.log);
    if (rd.hardState !== null) this.durableTerm = rd.hardState.term;
    this.leader?.onPersisted();
    this.checkInvariants();
  }

  // ---------------------------------------------------------------- snapshots & status

  /** The SnapshotMeta for a snapshot of the state machine at `index` (<= applied). */
  snapshotMetaAt(index: number): SnapshotMeta {
    assert(index <= this.log.appliedIndex, () => `snapshot at ${index} beyond applied ${this.log.appliedIndex}`);
    const term = this.log.termAt(index);
    assert(term !== undefined, () => `no term for index ${index} (compacted)`);
    return { index, term, members: this.config.membersAt(index) };
  }

  /** See RaftCoreApi.snapshotStored. */
  snapshotStored(meta: SnapshotMeta, data: SnapshotBytes): void {
    this.log.snapshotStored(meta, data);
  }

  /** `data`: the snapshot's bytes, or a reader over where the driver stored them (SnapshotBytes). */
  compact(meta: SnapshotMeta, data: SnapshotBytes): void {
    if (meta.index <= this.log.snapshotIndex) return;
    const expected = this.snapshotMetaAt(meta.index);
    assert(
      expected.term === meta.term && sameMembers(expected.members, meta.members),
      () => `compact meta ${JSON.stringify(meta)} does not match the log`,
    );
    this.log.compact(meta, data, this.catchUpTrail(meta.index));
  }

  /**
   * Entries to keep behind a snapshot at `snapshotIndex`: on a leader, those its
   * furthest-behind peer still lacks (a peer not heard from counts as lacking
   * all), up to snapshotCatchUpEntries; none when every peer has the snapshot's
   * entries, as in steady state. A follower keeps none: it cannot tell who lags.
   * What it compacts is committed, so the leader of the time held it, and a killed
   * leader back on its disk lacks at most its last unsynced batch of it (the
   * benchmark's failover); a node further behind before the change of leader may
   * get the snapshot. The trail only saves work: nothing depends on it for safety.
   */
  private catchUpTrail(snapshotIndex: number): number {
    const lowest = this.leader?.lowestPeerMatch() ?? null;
    if (lowest === null) return 0;
    return Math.min(this.cfg.snapshotCatchUpEntries, Math.max(0, snapshotIndex - lowest));
  }

  snapshotIndex(): number {
    return this.log.snapshotIndex;
  }

  members(): readonly Member[] {
    return this.config.members;
  }

  localState(): LocalState {
    return { id: this.id, term: this.term, role: this.role, leaderId: this.leaderId, lastIndex: this.log.lastIndex() };
  }

  status(): CoreStatus {
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      leaderId: this.leaderId,
      commitIndex: this.log.commitIndex,
      appliedIndex: this.log.appliedIndex,
      lastIndex: this.log.lastIndex(),
      snapshotIndex: this.log.snapshotIndex,
      firstIndex: this.log.firstIndex(),
      members: this.config.members,
      configIndex: this.config.index,
      hardState: this.hardState(),
    };
  }

  // ---------------------------------------------------------------- wiring of the concepts

  private newElection(): Election {
    return new Election({
      id: this.id,
      log: this.log,
      term: () => this.term,
      role: () => this.role,
      voters: () => this.config.voters(),
      send: (m) => this.send(m),
      promotable: () => this.promotable(),
      becomePreCandidate: () => this.becomePreCandidate(),
      becomeCandidate: () => this.becomeCandidate(),
      becomeLeader: () => this.becomeLeader(),
      becomeFollower: () => this.becomeFollower(this.term, null),
    });
  }

  private newFollowerReplication(): FollowerReplication {
    return new FollowerReplication({
      id: this.id,
      log: this.log,
      term: () => this.term,
      send: (m) => this.send(m),
      onAppended: (entries) => {
        const next = this.config.afterAppend(entries);
        if (next !== null) this.adoptConfig(next);
      },
      onRestored: () => this.adoptConfig(this.config.scan()),
      acceptSnapshot: (data) => this.cfg.acceptSnapshot?.(data) ?? true,
    });
  }

  private newReads(): LinearizableReads {
    const host = {
      id: this.id,
      outbox: this.outbox,
      term: () => this.term,
      isLeader: () => this.role === 'leader',
      leaderId: () => this.leaderId,
      voters: () => this.config.voters(),
      commitIndex: () => this.log.commitIndex,
      committedInTerm: () => this.committedInTerm(),
    };
    return new LinearizableReads(host, this.cfg.electionTicks);
  }

  private newLeaderHost(): LeaderHost {
    return {
      id: this.id,
      cfg: this.cfg,
      log: this.log,
      config: this.config,
      reads: this.reads,
      term: () => this.term,
      send: (m) => this.send(m),
      adoptConfig: (next) => this.adoptConfig(next),
      stepDown: () => this.becomeFollower(this.term, null),
      committedInTerm: () => this.committedInTerm(),
    };
  }

  // ---------------------------------------------------------------- small helpers

  /** Cheap cross-field invariants, checked after every input. */
  private checkInvariants(): void {
    assert((this.role === 'leader') === (this.leader !== null), () => `role ${this.role} with leader state ${this.leader !== null}`);
    assert((this.role === 'leader') === (this.leaderId === this.id), () => `role ${this.role} but leaderId ${this.leaderId}`);
    assert(this.role !== 'candidate' || this.vote === this.id, 'a candidate votes for itself');
    assert(this.role !== 'candidate' && this.role !== 'precandidate' ? true : this.config.electable(this.id), 'a non-voter campaigns');
    assert(this.log.lastTerm() <= this.term, () => `last log term ${this.log.lastTerm()} above current term ${this.term}`);
    assert(this.log.commitIndex <= this.log.lastIndex(), 'commit index beyond the log');
  }

  /** An entry of this term is committed: the commit index is up to date (§6.4, §4.1). */
  private committedInTerm(): boolean {
    return this.log.termAt(this.log.commitIndex) === this.term;
  }

  private send(m: Message): void {
    this.outbox.send(m);
  }

  private leaderState(): Leader {
    assert(this.leader !== null, () => `${this.id} is ${this.role}, not leader`);
    return this.leader;
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commitIndex: this.log.commitIndex };
  }

  private softState(): SoftState {
    return { role: this.role, leaderId: this.leaderId, term: this.term };
  }

  private randomizeElectionTimeout(): void {
    const r = this.cfg.random();
    assert(r >= 0 && r < 1, () => `config.random() returned ${r}, outside [0, 1)`);
    this.randomizedElectionTicks = this.cfg.electionTicks + Math.floor(r * this.cfg.electionTicks);
  }
}
