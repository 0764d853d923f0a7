// Keeps the node in step with the configurations in its log: the transport's
// address book follows them (transport-membership.ts), match indexes of peers
// that left are forgotten, and the node tracks whether it was itself removed
// (self-removal.ts) and what that does to pending calls. The Ready loop
// (raft-node.ts) calls sync() and update() at fixed points; what this needs of
// the node comes in MembershipTrackingDeps.
import { RatifyError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RaftCoreApi } from '../raft/api.js';
import type { NodeId } from '../raft/types.js';
import type { RemovalNotice } from '../transport/peer-admission.js';
import type { LeadershipEvents } from './leadership-events.js';
import type { PeerMatch } from './peer-match.js';
import type { PendingProposals } from './pending-proposals.js';
import type { PendingReads } from './pending-reads.js';
import { describeRemoval, type SelfRemoval, type SelfView } from './self-removal.js';
import type { TransportMembership } from './transport-membership.js';

export interface MembershipTrackingDeps {
  readonly self: NodeId;
  readonly core: Pick<RaftCoreApi, 'members' | 'status'>;
  readonly membership: TransportMembership;
  readonly removal: SelfRemoval;
  readonly peerMatch: Pick<PeerMatch, 'retain'>;
  readonly leadership: Pick<LeadershipEvents, 'current' | 'withdraw'>;
  readonly proposals: Pick<PendingProposals, 'rejectLostAbove'>;
  readonly reads: Pick<PendingReads, 'rejectAll'>;
  readonly appliedIndex: () => number;
  readonly log: Logger;
}

export class MembershipTracking {
  constructor(private readonly deps: MembershipTrackingDeps) {}

  /** The transport's address book follows the configurations (transport-membership.ts). */
  sync(): void {
    const latest = this.deps.core.members();
    if (this.deps.membership.sync(latest)) this.deps.peerMatch.retain(new Set(latest.map((m) => m.id)));
  }

  /** After entries were applied or the log changed: whether this node is (still) removed. */
  update(): void {
    if (this.deps.removal.update(this.deps.membership.applied.selfRemoved, () => this.selfView())) this.onRemovalChanged();
  }

  /** The transport heard MEMBER_REMOVED from a peer. */
  removedByPeer(notice: RemovalNotice): void {
    if (this.deps.removal.told(notice, this.selfView())) this.onRemovalChanged();
  }

  private selfView(): SelfView {
    const st = this.deps.core.status();
    return { id: this.deps.self, latest: st.members, latestConfigIndex: st.configIndex };
  }

  private onRemovalChanged(): void {
    const { removal, leadership, log, proposals, reads, core, self } = this.deps;
    const state = removal.state;
    const { fields, message } = describeRemoval(state);
    const line = { ...fields, appliedIndex: this.deps.appliedIndex(), role: leadership.current.role };
    if (state.kind === 'member') return log.info(line, message);
    log.warn(line, message);
    // Committed proposals still resolve as they are applied; the fate of the others is unknown.
    proposals.rejectLostAbove(core.status().commitIndex);
    reads.rejectAll(new RatifyError('MEMBER_REMOVED', `this node (${self}) was removed from the cluster`));
    leadership.withdraw();
  }
}
