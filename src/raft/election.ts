// Leader election (§5.2, §5.4.1), with Pre-Vote (thesis §9.6), the leader lease
// that keeps disruptive servers out (§4.2.3), and TimeoutNow campaigns (§3.10).
// The voter's rules are pure functions; Election runs one node's campaigns and
// asks the core for the role transitions.
import { assert } from './assert.js';
import type { RaftLog } from './log.js';
import { voteResult } from './quorum.js';
import { assertNever, type Message, type NodeId, type RaftConfig, type Role } from './types.js';

type Msg<T extends Message['type']> = Extract<Message, { type: T }>;
export type VoteRequest = Msg<'vote' | 'preVote'>;

/** 'preVote' asks first without raising the term (§9.6); 'transfer' follows a TimeoutNow (§3.10). */
export type CampaignKind = 'preVote' | 'vote' | 'transfer';

/** What a voter knows when it answers a (pre-)vote request. */
export interface VoterState {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly leaderId: NodeId | null;
  readonly log: RaftLog;
}

/**
 * §5.2: one vote per term, first come first served (a repeat gets the same
 * answer); not while we follow a leader of this term. §9.6: a pre-vote for a
 * later term is a hypothetical question and commits us to nothing. §5.4.1:
 * only to a log at least as up to date as ours.
 */
export function grantsVote(voter: VoterState, m: VoteRequest): boolean {
  const canVote =
    voter.vote === m.from || (voter.vote === null && voter.leaderId === null) || (m.type === 'preVote' && m.term > voter.term);
  return canVote && voter.log.isUpToDate(m.lastLogIndex, m.lastLogTerm);
}

/**
 * Heard from a leader within the election timeout: vote requests for a later
 * term are disruptions, not elections (§4.2.3). As in etcd, the lease only
 * holds with CheckQuorum: without it a leader cut off from the majority never
 * steps down, and its followers' leases would block the majority's elections.
 */
export function inLease(cfg: RaftConfig, leaderId: NodeId | null, electionElapsed: number): boolean {
  return cfg.checkQuorum && leaderId !== null && electionElapsed < cfg.electionTicks;
}

/** What a campaign needs from the core that owns it. */
export interface ElectionHost {
  readonly id: NodeId;
  readonly log: RaftLog;
  term(): number;
  role(): Role;
  voters(): readonly NodeId[];
  send(m: Message): void;
  promotable(): boolean;
  becomePreCandidate(): void;
  becomeCandidate(): void;
  becomeLeader(): void;
  /** Lost: back to follower in the same term, without a known leader. */
  becomeFollower(): void;
}

export class Election {
  /** Answers to the current (pre-)campaign. */
  private readonly votes = new Map<NodeId, boolean>();

  constructor(private readonly host: ElectionHost) {}

  /** Every role transition forgets the answers of the campaign before it. */
  reset(): void {
    this.votes.clear();
  }

  campaign(kind: CampaignKind): void {
    const h = this.host;
    assert(h.promotable(), 'campaign by a node that cannot be elected');
    if (kind === 'preVote') h.becomePreCandidate();
    else h.becomeCandidate();
    this.votes.set(h.id, true);
    if (this.poll()) return;
    const pre = h.role() === 'precandidate';
    for (const to of h.voters()) {
      if (to === h.id) continue;
      const base = { from: h.id, to, lastLogIndex: h.log.lastIndex(), lastLogTerm: h.log.lastTerm() };
      if (pre) h.send({ type: 'preVote', term: h.term() + 1, ...base });
      else h.send({ type: 'vote', term: h.term(), transfer: kind === 'transfer', ...base });
    }
  }

  onPreVoteResp(m: Msg<'preVoteResp'>): void {
    // A grant counts only for the term we would campaign in now.
    if (this.host.role() === 'precandidate' && (!m.granted || m.term === this.host.term() + 1)) this.tally(m.from, m.granted);
  }

  onVoteResp(m: Msg<'voteResp'>): void {
    if (this.host.role() === 'candidate') this.tally(m.from, m.granted);
  }

  private tally(from: NodeId, granted: boolean): void {
    this.votes.set(from, granted);
    this.poll();
  }

  /** Acts on the election result; true when the (pre-)campaign is over. */
  private poll(): boolean {
    const result = voteResult(this.host.voters(), this.votes);
    switch (result) {
      case 'won':
        if (this.host.role() === 'precandidate') this.campaign('vote');
        else this.host.becomeLeader();
        return true;
      case 'lost':
        this.host.becomeFollower();
        return true;
      case 'pending':
        return false;
      default:
        return assertNever(result);
    }
  }
}
