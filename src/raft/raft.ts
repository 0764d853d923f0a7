// RaftCore: the pure, deterministic Raft state machine (role transitions and
// message dispatch). No I/O, no clocks, no randomness but config.random.
//
// Driver loop (see types.ts for the Ready contract):
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
import { assert, RaftInvariantError } from './assert.js';
import type { CoreStatus, RaftCoreApi } from './api.js';
import { validateRaftConfig } from './config.js';
import { validateInitialState } from './initial-state.js';
import { type ConfigAt, RaftLog } from './log.js';
import { applyConfChange, assertValidMembers, isVoter, sameMembers, votersOf } from './membership.js';
import { voteResult } from './quorum.js';
import { ForwardedReads, ReadOnly, type ReadRequest } from './read-only.js';
import { Replicator } from './replication.js';
import { SnapshotReceiver } from './snapshot-receiver.js';
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
  type ReadState,
  type Role,
  type SnapshotMeta,
  type SoftState,
} from './types.js';

export { validateRaftConfig } from './config.js';

/** Committed entries handed out per Ready, so a restart does not build one giant batch. */
export const MAX_APPLY_BATCH = 4096;

type Msg<T extends Message['type']> = Extract<Message, { type: T }>;
type VoteRequest = Msg<'vote' | 'preVote'>;
type NonVoteMessage = Exclude<Message, VoteRequest>;

/** Membership in effect after the last log entry, and the entry that set it. */
interface CurrentConfig extends ConfigAt {
  /** Term of the entry at `index`, to notice when a truncation replaced it. */
  readonly term: number;
}

export class RaftCore implements RaftCoreApi {
  private readonly id: NodeId;
  private readonly cfg: RaftConfig;
  private readonly log: RaftLog;
  private readonly bootstrapMembers: readonly Member[];
  // Invariant: term never decreases; vote is the vote cast in `term` and is
  // never cleared within it (only a new term clears it).
  private term: number;
  private vote: NodeId | null;
  // Invariant: role is 'leader' iff rep !== null; a non-voter is never
  // candidate or precandidate.
  private role: Role;
  private leaderId: NodeId | null = null;
  private config: CurrentConfig;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  // Invariant: electionTicks <= randomizedElectionTicks < 2 * electionTicks.
  private randomizedElectionTicks = 0;
  /** Answers to the current (pre-)campaign. */
  private readonly votes = new Map<NodeId, boolean>();
  private rep: Replicator | null = null;
  private transfer: { readonly target: NodeId; elapsedTicks: number; timeoutNowSent: boolean } | null = null;
  private readonly reads = new ReadOnly();
  private readonly forwardedReads: ForwardedReads;
  private readonly receiver = new SnapshotReceiver();
  /** Leader: entries were appended or the commit index moved since the last broadcast. */
  private broadcastPending = false;
  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private dropped: number[] = [];
  /** What the last Ready told the driver (so only changes are repeated). */
  private prevHard: HardState;
  private prevSoft: SoftState;
  private outstanding: Ready | null = null;

  constructor(config: RaftConfig, initial: InitialState) {
    validateRaftConfig(config);
    validateInitialState(initial);
    this.id = config.id;
    this.cfg = config;
    // The leader answers within a heartbeat round unless messages were lost.
    this.forwardedReads = new ForwardedReads(2 * config.electionTicks);
    this.bootstrapMembers = initial.bootstrapMembers;
    this.log = new RaftLog({
      snapshot: initial.snapshot,
      entries: initial.entries,
      commitIndex: initial.hardState.commitIndex,
      appliedIndex: initial.appliedIndex,
    });
    this.term = initial.hardState.term;
    this.vote = initial.hardState.vote;
    this.config = this.scanConfig();
    this.role = this.followerRole();
    this.randomizeElectionTimeout();
    this.prevHard = initial.hardState;
    this.prevSoft = this.softState();
  }

  // ---------------------------------------------------------------- time

  tick(): void {
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
    for (const id of this.forwardedReads.tick()) this.dropped.push(id);
    this.checkInvariants();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.electionElapsed >= this.randomizedElectionTicks && this.promotable()) {
      this.electionElapsed = 0;
      this.campaign(this.cfg.preVote ? 'preVote' : 'vote');
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      // CheckQuorum (thesis §6.2): a leader cut off from a quorum steps down
      // instead of accepting proposals that can never commit.
      const active = this.leaderRep().takeQuorumActive(this.voters());
      if (this.cfg.checkQuorum && !active) {
        this.becomeFollower(this.term, null);
        return;
      }
    }
    this.tickTransfer();
    this.leaderRep().tick();
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.leaderRep().broadcastHeartbeat(this.reads.currentSeq);
    }
  }

  private tickTransfer(): void {
    if (this.transfer === null) return;
    // §3.10: if the target has not taken over within an election timeout, give
    // up so that proposals flow again.
    this.transfer.elapsedTicks++;
    if (this.transfer.elapsedTicks >= this.cfg.electionTicks) this.transfer = null;
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
    // A commit may have settled a pending removal of this node (see electable()).
    if (this.role === 'follower' || this.role === 'learner') this.role = this.followerRole();
    this.checkInvariants();
  }

  private stepByRole(m: NonVoteMessage): void {
    switch (this.role) {
      case 'leader':
        return this.stepLeader(m);
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

  /** §5.1: a higher term makes us a follower, with the exceptions of §9.6 and §4.2.3. Returns false to drop `m`. */
  private onHigherTerm(m: Message): boolean {
    if (m.type === 'vote' || m.type === 'preVote') {
      // §4.2.3: while we hear from a leader, vote requests are disruptions, not
      // elections; only a transfer (TimeoutNow) overrides the lease.
      const forced = m.type === 'vote' && m.transfer;
      if (!forced && this.inLease()) return false;
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
      this.send({ type: 'appendResp', from: this.id, to: m.from, term: this.term, success: false, matchIndex: 0, rejectHint: 0, rejectTerm: 0 });
    } else if (m.type === 'preVote') {
      this.send({ type: 'preVoteResp', from: this.id, to: m.from, term: this.term, granted: false });
    }
    // Anything else from an old term is an answer nobody waits for any more.
  }

  /**
   * Heard from a leader within the election timeout. As in etcd, the lease only
   * holds with CheckQuorum: without it a leader cut off from the majority never
   * steps down, and its followers' leases would block the majority's elections.
   */
  private inLease(): boolean {
    return this.cfg.checkQuorum && this.leaderId !== null && this.electionElapsed < this.cfg.electionTicks;
  }

  /** §5.2, §5.4.1, §9.6. */
  private handleVoteRequest(m: VoteRequest): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.leaderId === null) ||
      (m.type === 'preVote' && m.term > this.term);
    const granted = canVote && this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm);
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

  private stepLeader(m: NonVoteMessage): void {
    switch (m.type) {
      case 'appendResp':
        return this.onAppendResp(m);
      case 'heartbeatResp':
        this.leaderRep().onHeartbeatResp(m);
        this.reads.ack(m.from, m.readSeq);
        return this.releaseConfirmedReads();
      case 'snapshotResp':
        return this.leaderRep().onSnapshotResp(m);
      case 'readIndex':
        return this.leaderRead({ requestId: m.requestId, from: m.from });
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        throw new RaftInvariantError(`two leaders in term ${this.term}: ${this.id} and ${m.from}`);
      case 'preVoteResp':
      case 'voteResp':
      case 'timeoutNow':
      case 'readIndexResp':
        return; // answers to a campaign or a forwarded read that no longer matter
      default:
        return assertNever(m);
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
        // A grant counts only for the term we would campaign in now.
        if (this.role === 'precandidate' && (!m.granted || m.term === this.term + 1)) this.tally(m.from, m.granted);
        return;
      case 'voteResp':
        if (this.role === 'candidate') this.tally(m.from, m.granted);
        return;
      case 'readIndex':
        return this.answerRemoteRead(m.from, m.requestId, null);
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
        return this.handleAppend(m);
      case 'heartbeat':
        this.heardFromLeader(m.from);
        this.log.commitTo(m.leaderCommit);
        this.send({ type: 'heartbeatResp', from: this.id, to: m.from, term: this.term, readSeq: m.readSeq });
        return;
      case 'snapshot':
        this.heardFromLeader(m.from);
        return this.handleSnapshot(m);
      case 'timeoutNow':
        // §3.10: the leader hands over; skip pre-vote, voters ignore their lease.
        if (this.promotable()) this.campaign('transfer');
        return;
      case 'readIndexResp':
        return this.handleReadIndexResp(m);
      case 'readIndex':
        return this.answerRemoteRead(m.from, m.requestId, null);
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

  // ---------------------------------------------------------------- follower: replication

  /** §5.3: consistency check, conflict truncation, commit from the leader. */
  private handleAppend(m: Msg<'append'>): void {
    if (m.prevLogIndex < this.log.commitIndex) {
      // Everything up to our commit index matches the leader already.
      this.respondAppend(m.from, this.log.commitIndex);
      return;
    }
    const lastNew = this.log.maybeAppend(m.prevLogIndex, m.prevLogTerm, m.leaderCommit, m.entries);
    if (lastNew !== null) {
      this.refreshConfig(m.entries);
      this.respondAppend(m.from, lastNew);
      return;
    }
    const hint = this.log.findConflictByTerm(Math.min(m.prevLogIndex, this.log.lastIndex()), m.prevLogTerm);
    this.send({
      type: 'appendResp',
      from: this.id,
      to: m.from,
      term: this.term,
      success: false,
      // On rejection matchIndex echoes the rejected prevLogIndex, so the leader can spot stale answers.
      matchIndex: m.prevLogIndex,
      rejectHint: hint.index,
      rejectTerm: hint.term,
    });
  }

  private respondAppend(to: NodeId, matchIndex: number): void {
    this.send({ type: 'appendResp', from: this.id, to, term: this.term, success: true, matchIndex, rejectHint: 0, rejectTerm: 0 });
  }

  private handleSnapshot(m: Msg<'snapshot'>): void {
    const meta = m.meta;
    // Already covered (committed, or our log holds its last entry): no install
    // needed. Answer like an append so the leader resumes from our log (etcd does the same).
    if (meta.index <= this.log.commitIndex || this.log.matchTerm(meta.index, meta.term)) {
      this.log.commitTo(meta.index);
      this.receiver.reset();
      this.respondAppend(m.from, this.log.commitIndex);
      return;
    }
    const r = this.receiver.accept(m);
    if (r.complete !== null) {
      this.log.restore(r.complete);
      this.setConfig(this.scanConfig());
    }
    this.respondSnapshot(m, r.nextOffset, r.complete !== null);
  }

  private respondSnapshot(m: Msg<'snapshot'>, nextOffset: number, installed: boolean): void {
    this.send({
      type: 'snapshotResp',
      from: this.id,
      to: m.from,
      term: this.term,
      snapshotIndex: m.meta.index,
      nextOffset,
      installed,
      success: true,
    });
  }

  // ---------------------------------------------------------------- leader: replication

  private onAppendResp(m: Msg<'appendResp'>): void {
    const rep = this.leaderRep();
    if (!rep.onAppendResp(m)) return;
    this.maybeCommit();
    if (this.rep === null) return; // the commit removed us and we stepped down
    this.rep.sendMore(m.from);
    this.maybeSendTimeoutNow(m.from);
  }

  /** §5.3/§5.4.2: commit the highest index a quorum holds, if it is of our term (Figure 8). */
  private maybeCommit(): void {
    const rep = this.leaderRep();
    const index = rep.committedIndex(this.voters());
    if (index <= this.log.commitIndex || this.log.termAt(index) !== this.term) return;
    this.log.commitTo(index);
    this.broadcastPending = true;
    for (const r of this.reads.takeDeferred()) this.leaderRead(r);
    this.maybeStepDownRemoved();
  }

  /** §4.2.2: a leader that is not in the configuration steps down once that configuration commits. */
  private maybeStepDownRemoved(): void {
    if (isVoter(this.config.members, this.id) || this.config.index > this.log.commitIndex) return;
    this.leaderRep().broadcastAppend(); // let the others learn the commit before we go quiet
    this.becomeFollower(this.term, null);
  }

  private maybeSendTimeoutNow(peer: NodeId): void {
    const t = this.transfer;
    if (t === null || t.target !== peer || t.timeoutNowSent) return;
    if (this.leaderRep().matchOf(peer) !== this.log.lastIndex()) return;
    t.timeoutNowSent = true;
    this.send({ type: 'timeoutNow', from: this.id, to: peer, term: this.term });
  }

  // ---------------------------------------------------------------- elections

  /** 'preVote' asks first without bumping the term (§9.6); 'transfer' follows a TimeoutNow (§3.10). */
  private campaign(kind: 'preVote' | 'vote' | 'transfer'): void {
    assert(this.promotable(), 'campaign by a node that cannot be elected');
    if (kind === 'preVote') this.becomePreCandidate();
    else this.becomeCandidate();
    const transfer = kind === 'transfer';
    this.votes.set(this.id, true);
    if (this.pollVotes()) return;
    const pre = this.role === 'precandidate';
    for (const to of this.voters()) {
      if (to === this.id) continue;
      const base = { from: this.id, to, lastLogIndex: this.log.lastIndex(), lastLogTerm: this.log.lastTerm() };
      if (pre) this.send({ type: 'preVote', term: this.term + 1, ...base });
      else this.send({ type: 'vote', term: this.term, transfer, ...base });
    }
  }

  private tally(from: NodeId, granted: boolean): void {
    this.votes.set(from, granted);
    this.pollVotes();
  }

  /** Acts on the election result; true when the (pre-)campaign is over. */
  private pollVotes(): boolean {
    const result = voteResult(this.voters(), this.votes);
    switch (result) {
      case 'won':
        if (this.role === 'precandidate') this.campaign('vote');
        else this.becomeLeader();
        return true;
      case 'lost':
        this.becomeFollower(this.term, null);
        return true;
      case 'pending':
        return false;
      default:
        return assertNever(result);
    }
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
    this.heartbeatElapsed = 0;
    this.randomizeElectionTimeout();
    this.votes.clear();
    this.rep = null;
    this.transfer = null;
    this.broadcastPending = false;
    this.dropReads();
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
    this.rep = new Replicator(this.replicationHost(), this.config.members);
    // A no-op of the new term: once it commits, so does everything before it
    // (Figure 8), and reads and membership changes may proceed.
    this.log.append([{ kind: 'noop', index: this.log.lastIndex() + 1, term: this.term }]);
    this.broadcastPending = true;
  }

  private replicationHost(): ConstructorParameters<typeof Replicator>[0] {
    return { id: this.id, config: this.cfg, log: this.log, term: () => this.term, send: (m) => this.send(m) };
  }

  // ---------------------------------------------------------------- proposals

  propose(data: Uint8Array): ProposeResult {
    const refused = this.proposalRefusal();
    if (refused !== null) return refused;
    return this.appendLocal({ kind: 'normal', index: this.log.lastIndex() + 1, term: this.term, data });
  }

  proposeConfChange(change: ConfChange): ProposeResult {
    const refused = this.proposalRefusal();
    if (refused !== null) return refused;
    // Thesis §4.1 with the fix of its errata: one uncommitted change at a time,
    // and only after this leader committed an entry of its own term.
    if (!this.committedInTerm() || this.config.index > this.log.commitIndex) return this.refuse('CONFIG_CHANGE_IN_PROGRESS');
    const r = applyConfChange(this.config.members, change);
    if (!r.ok) return this.refuse('INVALID_CONFIG_CHANGE');
    return this.appendLocal({ kind: 'config', index: this.log.lastIndex() + 1, term: this.term, members: r.members });
  }

  transferLeadership(to: NodeId): ProposeResult {
    if (this.role !== 'leader') return this.refuse('NOT_LEADER');
    if (to === this.id) return { ok: true, index: this.log.lastIndex(), term: this.term };
    if (!isVoter(this.config.members, to)) return this.refuse('INVALID_CONFIG_CHANGE');
    if (this.transfer !== null && this.transfer.target !== to) return this.refuse('TRANSFER_IN_PROGRESS');
    if (this.transfer === null) {
      this.transfer = { target: to, elapsedTicks: 0, timeoutNowSent: false };
      this.maybeSendTimeoutNow(to);
      // Not caught up yet: replication continues and onAppendResp sends TimeoutNow.
      if (!this.transfer.timeoutNowSent) this.leaderRep().sendAppend(to, true);
    }
    return { ok: true, index: this.log.lastIndex(), term: this.term };
  }

  private proposalRefusal(): ProposeResult | null {
    if (this.role !== 'leader') return this.refuse('NOT_LEADER');
    if (this.transfer !== null) return this.refuse('TRANSFER_IN_PROGRESS');
    if (this.log.lastIndex() - this.log.commitIndex >= this.cfg.maxUncommittedEntries) return this.refuse('TOO_MANY_PENDING');
    return null;
  }

  private refuse(reason: ProposeRefusal): ProposeResult {
    return { ok: false, reason, leaderId: this.leaderId };
  }

  private appendLocal(entry: Entry): ProposeResult {
    this.log.append([entry]);
    // Sent at the next ready(): proposals made before it share one append per follower.
    this.broadcastPending = true;
    if (entry.kind === 'config') this.setConfig({ index: entry.index, term: entry.term, members: entry.members });
    return { ok: true, index: entry.index, term: entry.term };
  }

  private committedInTerm(): boolean {
    return this.log.termAt(this.log.commitIndex) === this.term;
  }

  // ---------------------------------------------------------------- membership

  private voters(): NodeId[] {
    return votersOf(this.config.members);
  }

  private followerRole(): Role {
    return this.electable() ? 'follower' : 'learner';
  }

  /** An electable node with no snapshot waiting to be installed may campaign; others never do. */
  private promotable(): boolean {
    return this.electable() && this.log.pendingSnapshot === null;
  }

  /**
   * A voter of the latest configuration, or of the committed one that an
   * uncommitted change replaces. The second case is a leader that removed itself
   * and lost leadership before the removal committed: its log may hold the only
   * copy of C_new, and C_old's other voters cannot win without its vote, which
   * its longer log denies them (two voters deadlock for good). It campaigns,
   * counts votes and acks by C_new, and steps down once C_new commits (§4.2.2).
   */
  private electable(): boolean {
    if (isVoter(this.config.members, this.id)) return true;
    if (this.config.index <= this.log.commitIndex) return false;
    return isVoter(this.log.configAt(this.log.commitIndex)?.members ?? this.bootstrapMembers, this.id);
  }

  private scanConfig(): CurrentConfig {
    const at = this.log.lastConfig();
    if (at === null) return { index: 0, term: 0, members: this.bootstrapMembers };
    return { ...at, term: this.log.termAt(at.index) ?? 0 };
  }

  /** Config takes effect on append (§4.1) and reverts when its entry is truncated. */
  private refreshConfig(appended: readonly Entry[]): void {
    let next: CurrentConfig | null = null;
    if (this.configTruncated()) {
      next = this.scanConfig();
    } else {
      // A stale append may re-send an older config entry; only a later one counts.
      const e = appended.findLast((x) => x.kind === 'config');
      if (e?.kind === 'config' && e.index > this.config.index) next = { index: e.index, term: e.term, members: e.members };
    }
    if (next !== null && (next.index !== this.config.index || next.term !== this.config.term)) this.setConfig(next);
  }

  /** The entry that set the current config was overwritten (compaction keeps it valid). */
  private configTruncated(): boolean {
    const c = this.config;
    return c.index > this.log.lastIndex() || (c.index > this.log.snapshotIndex && !this.log.matchTerm(c.index, c.term));
  }

  private setConfig(next: CurrentConfig): void {
    assertValidMembers(next.members);
    this.config = next;
    switch (this.role) {
      case 'leader':
        this.leaderRep().syncMembers(next.members);
        if (this.transfer !== null && !isVoter(next.members, this.transfer.target)) this.transfer = null;
        return;
      case 'candidate':
      case 'precandidate':
        if (!this.electable()) this.becomeFollower(this.term, null);
        return;
      case 'follower':
      case 'learner':
        this.role = this.followerRole();
        return;
      default:
        return assertNever(this.role);
    }
  }

  // ---------------------------------------------------------------- reads (§6.4)

  readIndex(requestId: number): void {
    if (this.role === 'leader') {
      this.leaderRead({ requestId, from: this.id });
      return;
    }
    if (this.leaderId === null || this.forwardedReads.full()) {
      this.dropped.push(requestId);
      return;
    }
    this.forwardedReads.add(requestId);
    this.send({ type: 'readIndex', from: this.id, to: this.leaderId, term: this.term, requestId });
  }

  private leaderRead(req: ReadRequest): void {
    if (this.reads.full()) return this.refuseRead(req);
    // Until an entry of this term commits, our commit index may lag the real one (§6.4 step 1).
    if (!this.committedInTerm()) return this.reads.defer(req);
    this.reads.add(req, this.log.commitIndex);
    this.releaseConfirmedReads();
  }

  private releaseConfirmedReads(): void {
    for (const r of this.reads.takeConfirmed(this.voters(), this.id)) {
      if (r.from === this.id) this.readStates.push({ requestId: r.requestId, readIndex: r.readIndex });
      else this.answerRemoteRead(r.from, r.requestId, r.readIndex);
    }
  }

  private refuseRead(req: ReadRequest): void {
    if (req.from === this.id) this.dropped.push(req.requestId);
    else this.answerRemoteRead(req.from, req.requestId, null);
  }

  private answerRemoteRead(to: NodeId, requestId: number, readIndex: number | null): void {
    this.send({ type: 'readIndexResp', from: this.id, to, term: this.term, requestId, readIndex: readIndex ?? 0, ok: readIndex !== null });
  }

  private handleReadIndexResp(m: Msg<'readIndexResp'>): void {
    if (!this.forwardedReads.take(m.requestId)) return;
    if (m.ok) this.readStates.push({ requestId: m.requestId, readIndex: m.readIndex });
    else this.dropped.push(m.requestId);
  }

  /** Leadership or leader changed: nothing waiting can be confirmed any more. */
  private dropReads(): void {
    for (const r of this.reads.takeAll()) this.refuseRead(r);
    for (const id of this.forwardedReads.takeAll()) this.dropped.push(id);
  }

  // ---------------------------------------------------------------- Ready / advance

  hasReady(): boolean {
    if (this.outstanding !== null) return false;
    this.flushPending();
    return (
      this.msgs.length > 0 ||
      this.readStates.length > 0 ||
      this.dropped.length > 0 ||
      this.log.pendingSnapshot !== null ||
      this.log.stableIndex < this.log.lastIndex() ||
      !sameHardState(this.hardState(), this.prevHard) ||
      !sameSoftState(this.softState(), this.prevSoft) ||
      this.log.nextToApply(1).length > 0
    );
  }

  ready(): Ready {
    assert(this.outstanding === null, 'ready() called again before advance()');
    this.flushPending();
    const hard = this.hardState();
    const soft = this.softState();
    const rd: Ready = {
      softState: sameSoftState(soft, this.prevSoft) ? null : soft,
      hardState: sameHardState(hard, this.prevHard) ? null : hard,
      entries: this.log.unstableEntries(),
      snapshot: this.log.pendingSnapshot,
      messages: this.msgs,
      committedEntries: this.log.nextToApply(MAX_APPLY_BATCH),
      readStates: this.readStates,
      droppedReads: this.dropped,
    };
    const firstApply = rd.committedEntries[0];
    assert(firstApply === undefined || firstApply.index === this.log.appliedIndex + 1, 'committed entries do not follow the applied index');
    this.msgs = [];
    this.readStates = [];
    this.dropped = [];
    this.prevHard = hard;
    this.prevSoft = soft;
    this.outstanding = rd;
    return rd;
  }

  advance(rd: Ready): void {
    assert(rd === this.outstanding, 'advance() with a Ready that is not the outstanding one');
    this.outstanding = null;
    if (rd.snapshot !== null) this.log.snapshotPersisted(rd.snapshot.meta);
    const lastEntry = rd.entries.at(-1);
    if (lastEntry !== undefined) this.log.stableTo(lastEntry.index, lastEntry.term);
    const lastApplied = rd.committedEntries.at(-1);
    if (lastApplied !== undefined) this.log.appliedTo(lastApplied.index);
    if (this.rep !== null) {
      this.rep.selfPersisted();
      this.maybeCommit();
    }
    this.checkInvariants();
  }

  /** Leader: sends what proposals and commits since the last Ready call for, batched. */
  private flushPending(): void {
    if (this.rep === null) return;
    if (this.broadcastPending) {
      this.broadcastPending = false;
      this.rep.broadcastAppend();
    }
    if (this.reads.needsRound()) this.rep.broadcastHeartbeat(this.reads.startRound());
  }

  // ---------------------------------------------------------------- snapshots & status

  /** The SnapshotMeta for a snapshot of the state machine at `index` (<= applied). */
  snapshotMetaAt(index: number): SnapshotMeta {
    assert(index <= this.log.appliedIndex, () => `snapshot at ${index} beyond applied ${this.log.appliedIndex}`);
    const term = this.log.termAt(index);
    assert(term !== undefined, () => `no term for index ${index} (compacted)`);
    const members = this.log.configAt(index)?.members ?? this.bootstrapMembers;
    return { index, term, members };
  }

  compact(meta: SnapshotMeta, data: Uint8Array): void {
    if (meta.index <= this.log.snapshotIndex) return;
    const expected = this.snapshotMetaAt(meta.index);
    assert(expected.term === meta.term && sameMembers(expected.members, meta.members), () => `compact meta ${JSON.stringify(meta)} does not match the log`);
    this.log.compact(meta, data);
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
      members: this.config.members,
      hardState: this.hardState(),
    };
  }

  // ---------------------------------------------------------------- small helpers

  /** Cheap cross-field invariants, checked after every input. */
  private checkInvariants(): void {
    assert((this.role === 'leader') === (this.rep !== null), () => `role ${this.role} with replicator ${this.rep !== null}`);
    assert((this.role === 'leader') === (this.leaderId === this.id), () => `role ${this.role} but leaderId ${this.leaderId}`);
    assert(this.role !== 'candidate' || this.vote === this.id, 'a candidate votes for itself');
    assert(this.role !== 'candidate' && this.role !== 'precandidate' ? true : this.electable(), 'a non-voter campaigns');
    assert(this.role === 'leader' || this.transfer === null, 'a transfer outlived leadership');
    assert(this.log.lastTerm() <= this.term, () => `last log term ${this.log.lastTerm()} above current term ${this.term}`);
    assert(this.log.commitIndex <= this.log.lastIndex(), 'commit index beyond the log');
  }

  private send(m: Message): void {
    this.msgs.push(m);
  }

  private leaderRep(): Replicator {
    assert(this.rep !== null, () => `${this.id} is ${this.role}, not leader`);
    return this.rep;
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

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commitIndex === b.commitIndex;
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.role === b.role && a.leaderId === b.leaderId && a.term === b.term;
}
