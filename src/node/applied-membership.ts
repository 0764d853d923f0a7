// Membership as the applied (committed) log sees it, and who was removed.
//
// The core acts on the latest configuration in its log, committed or not
// (thesis §4.1). The transport must not (see src/transport/peer-admission.ts):
// it refuses a peer only once the peer's removal is committed and applied here.
// This class follows the applied configurations to know which those are. Pure:
// the driver (raft-node.ts) and the simulation (test/sim/) feed it the same way.
import type { Member, NodeId } from '../raft/types.js';

export class AppliedMembership {
  private current: readonly Member[];
  // Invariant: disjoint from `current`.
  private readonly removedIds = new Set<NodeId>();
  /** This node was in an applied configuration (or the bootstrap voters). */
  private wasMember: boolean;

  /**
   * `restored`: the membership of the snapshot the node starts from, if any.
   * Ids of the bootstrap voters (--peers) missing from it were removed: that
   * much survives a restart. Removals of members added later are learned again
   * only from configurations applied after the restart.
   */
  constructor(
    private readonly self: NodeId,
    bootstrap: readonly Member[],
    restored: readonly Member[] | null,
  ) {
    this.current = bootstrap;
    this.wasMember = bootstrap.some((m) => m.id === self);
    if (restored !== null) this.apply(restored);
  }

  get members(): readonly Member[] {
    return this.current;
  }

  get removed(): ReadonlySet<NodeId> {
    return this.removedIds;
  }

  /**
   * This node left an applied configuration it was in. A node that joins as a
   * learner applies older configurations without itself first: that is not a
   * removal.
   */
  get selfRemoved(): boolean {
    return this.wasMember && !this.current.some((m) => m.id === this.self);
  }

  /** A config entry was applied, or a snapshot restored, with `members`. */
  apply(members: readonly Member[]): void {
    const next = new Set(members.map((m) => m.id));
    for (const m of this.current) if (!next.has(m.id)) this.removedIds.add(m.id);
    for (const id of next) this.removedIds.delete(id);
    if (next.has(this.self)) this.wasMember = true;
    this.current = members;
  }
}
