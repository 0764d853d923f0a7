// Everything a node does only while it leads, and forgets when it stops: driving
// replication (replication.ts), the commit rule of Figure 8, CheckQuorum,
// heartbeats, proposals and configuration changes, and leadership transfer.
// One Leader object lives exactly as long as one term of leadership.
import { RaftInvariantError } from './assert.js';
import type { ConfigState, CurrentConfig } from './config-state.js';
import type { RaftLog } from './log.js';
import { applyConfChange } from './membership.js';
import type { LinearizableReads } from './read-index.js';
import { Replicator } from './replication.js';
import { LeadershipTransfer } from './transfer.js';
import {
  assertNever,
  type ConfChange,
  type Entry,
  type Member,
  type Message,
  type NodeId,
  type ProposeRefusal,
  type ProposeResult,
  type RaftConfig,
} from './types.js';

type Msg<T extends Message['type']> = Extract<Message, { type: T }>;

/** What a leader needs from the core that owns it. */
export interface LeaderHost {
  readonly id: NodeId;
  readonly cfg: RaftConfig;
  readonly log: RaftLog;
  readonly config: ConfigState;
  readonly reads: LinearizableReads;
  term(): number;
  send(m: Message): void;
  /** Adopt a config this leader appended; the core calls back onMembersChanged. */
  adoptConfig(next: CurrentConfig): void;
  /** Stop leading (CheckQuorum failed, or our own removal committed). */
  stepDown(): void;
  /** An entry of the current term is committed. */
  committedInTerm(): boolean;
}

export class Leader {
  private readonly rep: Replicator;
  private transfer: LeadershipTransfer | null = null;
  /** Entries were appended since the last broadcast. */
  private broadcastPending = false;
  /**
   * The commit index moved and no append has carried it to the followers yet.
   * The next broadcast of new entries carries it, or else the next tick does; not
   * an append of its own at once. Such an append costs every follower a message,
   * a storage write and an answer, which at low load doubled the messages per
   * write; under load the next proposal's append carries the commit anyway.
   * Followers learn a commit at most a tick later than before. Nothing waits on
   * that but their own apply (clients are answered by the leader, and follower
   * reads wait for their read index to apply, a tick at most), and no safety
   * argument depends on when a follower learns the commit index.
   */
  private commitUnannounced = false;
  private heartbeatElapsed = 0;
  /** Ticks since the last CheckQuorum round. */
  private quorumElapsed = 0;

  constructor(private readonly host: LeaderHost) {
    this.rep = new Replicator(
      { id: host.id, config: host.cfg, log: host.log, term: () => host.term(), send: (m) => host.send(m) },
      host.config.members,
    );
    // A no-op of the new term: once it commits, so does everything before it
    // (Figure 8), and reads and membership changes may proceed.
    this.appendLocal({ kind: 'noop', index: host.log.lastIndex() + 1, term: host.term() });
  }

  /** See Replicator.lowestPeerMatch. */
  lowestPeerMatch(): number | null {
    return this.rep.lowestPeerMatch();
  }

  tick(): void {
    const { cfg } = this.host;
    this.heartbeatElapsed++;
    this.quorumElapsed++;
    if (this.quorumElapsed >= cfg.electionTicks) {
      this.quorumElapsed = 0;
      // CheckQuorum (thesis §6.2): a leader cut off from a quorum steps down
      // instead of accepting proposals that can never commit.
      const active = this.rep.takeQuorumActive(this.host.config.voters());
      if (cfg.checkQuorum && !active) return this.host.stepDown();
    }
    if (this.transfer?.expiredAfterTick(cfg.electionTicks) === true) this.transfer = null;
    this.rep.tick();
    if (this.commitUnannounced) this.broadcast();
    if (this.heartbeatElapsed >= cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.rep.broadcastHeartbeat(this.host.reads.currentSeq);
    }
  }

  step(m: Exclude<Message, Msg<'vote' | 'preVote'>>): void {
    switch (m.type) {
      case 'appendResp':
        return this.onAppendResp(m);
      case 'heartbeatResp':
        this.rep.onHeartbeatResp(m);
        return this.host.reads.onHeartbeatAck(m.from, m.readSeq);
      case 'snapshotResp':
        return this.rep.onSnapshotResp(m);
      case 'readIndex':
        return this.host.reads.onForwarded(m);
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        throw new RaftInvariantError(`two leaders in term ${m.term}: ${this.host.id} and ${m.from}`);
      case 'preVoteResp':
      case 'voteResp':
      case 'timeoutNow':
      case 'readIndexResp':
        return; // answers to a campaign or a forwarded read that no longer matter
      default:
        return assertNever(m);
    }
  }

  /** The driver persisted our entries up to the log's stable index: they count now. */
  onPersisted(): void {
    this.rep.selfPersisted();
    this.maybeCommit();
  }

  /** Sends what proposals since the last Ready call for, batched, with the commit index; starts a pending read round. */
  flush(): void {
    if (this.broadcastPending) this.broadcast();
    const reads = this.host.reads;
    if (reads.needsRound()) this.rep.broadcastHeartbeat(reads.startRound());
  }

  private broadcast(): void {
    this.broadcastPending = false;
    this.commitUnannounced = false;
    this.rep.broadcastAppend();
  }

  /** The config changed (we appended a config entry): track new members, forget removed ones. */
  onMembersChanged(members: readonly Member[]): void {
    this.rep.syncMembers(members);
    if (this.transfer !== null && !this.host.config.isVoter(this.transfer.target)) this.transfer = null;
  }

  // ---------------------------------------------------------------- proposals

  propose(data: Uint8Array): ProposeResult {
    return this.proposalRefusal() ?? this.appendLocal({ kind: 'normal', index: this.nextIndex(), term: this.host.term(), data });
  }

  proposeConfChange(change: ConfChange): ProposeResult {
    const refused = this.proposalRefusal();
    if (refused !== null) return refused;
    const { config, log } = this.host;
    // Thesis §4.1 with the fix of its errata: one uncommitted change at a time,
    // and only after this leader committed an entry of its own term.
    if (!this.host.committedInTerm() || config.index > log.commitIndex) return this.refuse('CONFIG_CHANGE_IN_PROGRESS');
    const r = applyConfChange(config.members, change);
    if (!r.ok) return this.refuse('INVALID_CONFIG_CHANGE');
    return this.appendLocal({ kind: 'config', index: this.nextIndex(), term: this.host.term(), members: r.members });
  }

  /** §3.10: catch `to` up, then send TimeoutNow. */
  transferLeadership(to: NodeId): ProposeResult {
    if (to === this.host.id) return this.accepted(this.host.log.lastIndex());
    if (!this.host.config.isVoter(to)) return this.refuse('INVALID_CONFIG_CHANGE');
    if (this.transfer !== null && this.transfer.target !== to) return this.refuse('TRANSFER_IN_PROGRESS');
    if (this.transfer === null) {
      this.transfer = new LeadershipTransfer(to);
      this.maybeHandOver(to);
      // Not caught up yet: replication continues and onAppendResp hands over.
      if (!this.transfer.handedOver) this.rep.sendAppend(to, true);
    }
    return this.accepted(this.host.log.lastIndex());
  }

  private proposalRefusal(): ProposeResult | null {
    if (this.transfer !== null) return this.refuse('TRANSFER_IN_PROGRESS');
    const log = this.host.log;
    if (log.lastIndex() - log.commitIndex >= this.host.cfg.maxUncommittedEntries) return this.refuse('TOO_MANY_PENDING');
    return null;
  }

  private appendLocal(entry: Entry): ProposeResult {
    this.host.log.append([entry]);
    // Sent at the next ready(): proposals made before it share one append per follower.
    this.broadcastPending = true;
    if (entry.kind === 'config') this.host.adoptConfig({ index: entry.index, term: entry.term, members: entry.members });
    return this.accepted(entry.index);
  }

  private nextIndex(): number {
    return this.host.log.lastIndex() + 1;
  }

  private accepted(index: number): ProposeResult {
    return { ok: true, index, term: this.host.term() };
  }

  private refuse(reason: ProposeRefusal): ProposeResult {
    return { ok: false, reason, leaderId: this.host.id };
  }

  // ---------------------------------------------------------------- replication and commit

  private onAppendResp(m: Msg<'appendResp'>): void {
    if (!this.rep.onAppendResp(m)) return;
    if (!this.maybeCommit()) return; // the commit removed us and we stepped down
    this.rep.sendMore(m.from);
    this.maybeHandOver(m.from);
  }

  /**
   * §5.3/§5.4.2: commit the highest index a quorum holds, if it is of our term
   * (Figure 8). Our own entries count once persisted (Replicator.selfPersisted).
   * Returns false when the commit removed us and we stepped down.
   */
  private maybeCommit(): boolean {
    const { log } = this.host;
    const index = this.rep.committedIndex(this.host.config.voters());
    if (index <= log.commitIndex || log.termAt(index) !== this.host.term()) return true;
    log.commitTo(index);
    this.commitUnannounced = true;
    this.host.reads.releaseDeferred();
    return !this.maybeStepDownRemoved();
  }

  /** §4.2.2: a leader that is not in the configuration steps down once that configuration commits. */
  private maybeStepDownRemoved(): boolean {
    const { config, log } = this.host;
    if (config.isVoter(this.host.id) || config.index > log.commitIndex) return false;
    this.rep.broadcastAppend(); // let the others learn the commit before we go quiet
    this.host.stepDown();
    return true;
  }

  private maybeHandOver(peer: NodeId): void {
    const t = this.transfer;
    if (t === null || !t.takeHandOver(peer, this.rep.matchOf(peer), this.host.log.lastIndex())) return;
    this.host.send({ type: 'timeoutNow', from: this.host.id, to: peer, term: this.host.term() });
  }
}
