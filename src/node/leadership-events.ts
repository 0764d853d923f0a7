// What this node tells the layers above about leadership, and when.
//
// It follows the core's soft state (role, leader, term) as the Ready loop
// (raft-node.ts) hands it over. A node that loses leadership says so at once;
// a new leader says so only once its term's no-op is applied, so that a listener
// (the transaction coordinator) that acts on it sees a state machine holding
// everything committed before the term. Listeners hear each change once.
// It also keeps the highest commit index a leader has told this node, for
// readiness (a follower is ready once it has applied up to it).
import type { Logger } from '../logger.js';
import type { RaftMetrics } from '../metrics.js';
import type { Message, SoftState } from '../raft/types.js';
import { electionOutcome } from './election-outcome.js';
import type { PendingProposals } from './pending-proposals.js';
import type { LeadershipEvent } from './replicated-log.js';

export interface LeadershipEventsDeps {
  readonly log: Logger;
  readonly metrics: RaftMetrics | undefined;
  /** Proposals of a leader that lost its term: those above the commit index fail. */
  readonly proposals: Pick<PendingProposals, 'rejectLostAbove'>;
  readonly commitIndex: () => number;
}

export class LeadershipEvents {
  private soft: SoftState;
  /** Term whose no-op must be applied before we announce leadership. */
  private announcePendingTerm: number | null = null;
  private lastEvent: LeadershipEvent;
  private readonly listeners = new Set<(e: LeadershipEvent) => void>();
  // Invariant: never decreases.
  private leaderCommitSeenIndex = 0;

  constructor(
    initial: SoftState,
    private readonly deps: LeadershipEventsDeps,
  ) {
    this.soft = initial;
    this.lastEvent = { isLeader: false, term: initial.term };
  }

  /** The core's soft state as of the last Ready. */
  get current(): SoftState {
    return this.soft;
  }

  /** The highest commit index a leader has sent this node (appends, heartbeats, snapshots). */
  get leaderCommitSeen(): number {
    return this.leaderCommitSeenIndex;
  }

  subscribe(listener: (event: LeadershipEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** At stop: nobody hears anything more. */
  clear(): void {
    this.listeners.clear();
  }

  /** A Ready carried a new soft state. */
  changed(next: SoftState): void {
    const { metrics, log, proposals, commitIndex } = this.deps;
    const prev = this.soft;
    this.soft = next;
    const election = electionOutcome(prev, next);
    if (election !== null) metrics?.elections.inc({ result: election });
    if (prev.leaderId !== next.leaderId) {
      metrics?.leaderChanges.inc();
      log.info({ leaderId: next.leaderId, role: next.role, term: next.term }, 'leader changed');
    }
    // Entries up to the commit index are committed: their proposals resolve once applied (a
    // leader that committed its own removal steps down before it applies it). Above it, the
    // fate is unknown.
    if (prev.role === 'leader' && (next.role !== 'leader' || next.term !== prev.term)) proposals.rejectLostAbove(commitIndex());
    if (next.role === 'leader') {
      if (prev.role !== 'leader' || prev.term !== next.term) this.announcePendingTerm = next.term;
      return;
    }
    this.announcePendingTerm = null;
    this.emit({ isLeader: false, term: next.term });
  }

  /** A no-op of `term` was applied, and the state machine is at `appliedIndex`. */
  noopApplied(term: number, appliedIndex: number): void {
    if (term !== this.announcePendingTerm) return;
    this.announcePendingTerm = null;
    if (this.soft.role !== 'leader' || this.soft.term !== term) return;
    this.deps.log.info({ appliedIndex }, 'became leader; state machine is up to date');
    this.emit({ isLeader: true, term });
  }

  /** This node stopped serving (it was removed): whatever it led, it leads no more. */
  withdraw(): void {
    this.emit({ isLeader: false, term: this.soft.term });
  }

  /** An admitted inbound message: what it says of the leader's commit index. */
  noteLeaderCommit(m: Message): void {
    if (m.type === 'append' || m.type === 'heartbeat') this.leaderCommitSeenIndex = Math.max(this.leaderCommitSeenIndex, m.leaderCommit);
    else if (m.type === 'snapshot') this.leaderCommitSeenIndex = Math.max(this.leaderCommitSeenIndex, m.meta.index);
  }

  private emit(event: LeadershipEvent): void {
    if (event.isLeader === this.lastEvent.isLeader && event.term === this.lastEvent.term) return;
    this.lastEvent = event;
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch (err) {
        this.deps.log.error({ err }, 'leadership listener threw');
      }
    }
  }
}
