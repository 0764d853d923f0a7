// Changes an operator asks of the cluster through this node: add a learner,
// promote it to voter, remove a member, move leadership. Each goes through the
// core (which refuses what the configuration does not allow) and resolves once
// it took effect here. What this needs of the node that runs it comes in
// MembershipChangesDeps (raft-node.ts passes its request plumbing).
import { RatifyError } from '../errors.js';
import type { RaftCoreApi } from '../raft/api.js';
import type { ConfChange, Member, NodeId, ProposeRefusal, ProposeResult, SoftState } from '../raft/types.js';
import type { PeerMatch } from './peer-match.js';

export interface MembershipChangesDeps {
  readonly self: NodeId;
  readonly core: Pick<RaftCoreApi, 'status' | 'proposeConfChange' | 'transferLeadership'>;
  /** What followers and learners acknowledged to this node as leader. */
  readonly peerMatch: Pick<PeerMatch, 'matchIndex'>;
  readonly limits: { readonly promoteLagEntriesMax: number; readonly proposalTimeoutMs: number; readonly electionTimeoutMs: number };
  /** The core's soft state as of the last Ready. */
  readonly soft: () => SoftState;
  /** Throws SHUTTING_DOWN or MEMBER_REMOVED unless the node serves. */
  readonly assertServing: () => void;
  /** Runs a core call; a throw there fails the node, and is rethrown as INTERNAL. */
  readonly guard: <T>(fn: () => T) => T;
  /** Waits for a proposed entry to be applied here; throws the refusal if the core refused it. */
  readonly track: (res: ProposeResult, timeoutMs: number) => Promise<unknown>;
  readonly refusal: (reason: ProposeRefusal, leaderId: NodeId | null) => RatifyError;
  /** Resolves once `predicate` holds after a Ready; rejects with TIMEOUT, or SHUTTING_DOWN at stop. */
  readonly waitFor: (predicate: () => boolean, timeoutMs: number, what: string) => Promise<void>;
  readonly scheduleKick: () => void;
}

export class MembershipChanges {
  constructor(private readonly deps: MembershipChangesDeps) {}

  /** Membership changes resolve with the new member list once the config entry is applied here. */
  addLearner(id: NodeId, url: string, opts?: { timeoutMs?: number }): Promise<readonly Member[]> {
    return this.change({ type: 'addLearner', id, url }, opts);
  }

  /** Refused with LEARNER_NOT_CAUGHT_UP unless the learner's log is within promoteLagEntriesMax of the leader's. */
  async promote(id: NodeId, opts?: { timeoutMs?: number }): Promise<readonly Member[]> {
    this.deps.assertServing();
    this.assertCaughtUp(id);
    return this.change({ type: 'promote', id }, opts);
  }

  remove(id: NodeId, opts?: { timeoutMs?: number }): Promise<readonly Member[]> {
    return this.change({ type: 'remove', id }, opts);
  }

  /** Resolves once `to` is the known leader (in a later term), or rejects with TIMEOUT. */
  async transferLeadership(to: NodeId, opts?: { timeoutMs?: number }): Promise<void> {
    const { assertServing, guard, core, refusal, scheduleKick, waitFor, soft, self, limits } = this.deps;
    assertServing();
    const startTerm = soft().term;
    const res = guard(() => core.transferLeadership(to));
    if (!res.ok) throw refusal(res.reason, res.leaderId);
    scheduleKick();
    const timeoutMs = opts?.timeoutMs ?? limits.electionTimeoutMs * 4;
    // To the node that already leads: the core accepts it as a no-op, and no new term will come.
    const done = (): boolean => soft().leaderId === to && (soft().term > startTerm || to === self);
    await waitFor(done, timeoutMs, `leadership did not move to ${to}`);
  }

  /**
   * A learner promoted while far behind becomes a voter that cannot acknowledge new
   * entries until it has caught up: in a 3-node cluster going to 4 the quorum grows to
   * 3, so one slow or dead node then stalls every commit (thesis §4.2.1). Checked
   * only where the answer is known, on the leader; elsewhere the core refuses with
   * NOT_LEADER and the request is forwarded to the leader, which checks it.
   */
  private assertCaughtUp(id: NodeId): void {
    const st = this.deps.core.status();
    if (st.role !== 'leader') return;
    if (st.members.find((m) => m.id === id)?.voter !== false) return; // not a learner: the core judges the change
    const matchIndex = this.deps.peerMatch.matchIndex(id, st.term);
    const lagMax = this.deps.limits.promoteLagEntriesMax;
    if (matchIndex !== null && st.lastIndex - matchIndex <= lagMax) return;
    const where =
      matchIndex === null ? 'has not acknowledged any entry to this leader yet' : `matches the leader's log up to index ${matchIndex}`;
    throw new RatifyError(
      'LEARNER_NOT_CAUGHT_UP',
      `learner ${id} ${where}; the leader's last index is ${st.lastIndex} and promoteLagEntriesMax is ${lagMax}; retry once it has caught up`,
      { details: { id, matchIndex, lastIndex: st.lastIndex, promoteLagEntriesMax: lagMax } },
    );
  }

  private async change(change: ConfChange, opts?: { timeoutMs?: number }): Promise<readonly Member[]> {
    const { assertServing, guard, core, track, limits } = this.deps;
    assertServing();
    const res = guard(() => core.proposeConfChange(change));
    return (await track(res, opts?.timeoutMs ?? limits.proposalTimeoutMs)) as readonly Member[];
  }
}
