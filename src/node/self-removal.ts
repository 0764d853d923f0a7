// Whether this node is still in the cluster, as far as it can know.
//
// It learns that it was removed in one of two ways: it applies a committed
// configuration without itself (a leader that removed itself, or a follower
// that heard of the commit), or a peer that applied its removal refuses it
// with MEMBER_REMOVED (a removed follower hears nothing more from the leader;
// it learns when it campaigns, as an etcd member does from its peers' 410).
// A removed node stops ticking, so it never campaigns again, and stops serving.
// It keeps taking inbound messages: if its id is added back, it catches up and
// becomes a member again. Pure: the driver and the simulation share it.
import type { Member, NodeId } from '../raft/types.js';
import { removalNoticeHolds, type RemovalNotice } from '../transport/peer-admission.js';

export type RemovalState =
  | { readonly kind: 'member' }
  | { readonly kind: 'removed'; readonly how: 'applied' }
  | { readonly kind: 'removed'; readonly how: 'told'; readonly notice: RemovalNotice };

/** The node's own view, for judging a notice. */
export interface SelfView {
  readonly id: NodeId;
  /** The latest configuration in the node's log, and the index that set it. */
  readonly latest: readonly Member[];
  readonly latestConfigIndex: number;
}

const MEMBER: RemovalState = { kind: 'member' };

/** The log line for a change of state (the warning says what the operator should do). */
export function describeRemoval(state: RemovalState): { readonly fields: Record<string, unknown>; readonly message: string } {
  if (state.kind === 'member') return { fields: {}, message: 'this node is a member of the cluster again' };
  const advice = 'it stops campaigning and serving: stop the process';
  if (state.how === 'applied') return { fields: {}, message: `this node was removed from the cluster (it applied its removal); ${advice}` };
  return {
    fields: { by: state.notice.by, peerAppliedIndex: state.notice.appliedIndex },
    message: `this node was removed from the cluster (peer ${state.notice.by} refused it as removed); ${advice}`,
  };
}

export class SelfRemoval {
  private current: RemovalState = MEMBER;

  get state(): RemovalState {
    return this.current;
  }

  get removed(): boolean {
    return this.current.kind === 'removed';
  }

  /**
   * After entries were applied or the log changed. `appliedRemoval`: the
   * applied configuration dropped this node (AppliedMembership.selfRemoved).
   * `self` is asked for only while a peer's notice holds the node removed (the
   * driver runs this on every Ready). Returns true when the state changed.
   */
  update(appliedRemoval: boolean, self: () => SelfView): boolean {
    const c = this.current;
    let next: RemovalState = c;
    if (appliedRemoval) next = c.kind === 'removed' && c.how === 'applied' ? c : { kind: 'removed', how: 'applied' };
    else if (c.kind === 'removed' && c.how === 'applied')
      next = MEMBER; // added back
    else if (c.kind === 'removed' && c.how === 'told' && !removalNoticeHolds(c.notice, self())) next = MEMBER;
    this.current = next;
    return next !== c;
  }

  /** A peer refused this node as removed. Returns true when this made it removed. */
  told(notice: RemovalNotice, self: SelfView): boolean {
    if (this.current.kind === 'removed' || !removalNoticeHolds(notice, self)) return false;
    this.current = { kind: 'removed', how: 'told', notice };
    return true;
  }
}
