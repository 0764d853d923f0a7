// What the driver tells its transport about membership, and what the transport's
// routes ask back: the peers to keep addresses for (the union of the latest and
// the applied configuration, plus addresses learned from admitted senders) and
// whether to take a sender's messages. The rules are peer-admission.ts's and
// learned-addresses.ts's; this class only holds the driver's state for them.
import type { Member, NodeId } from '../raft/types.js';
import { LearnedAddresses } from '../transport/learned-addresses.js';
import { admitPeer, reachablePeers, type PeerAdmission } from '../transport/peer-admission.js';
import type { Transport } from '../transport/transport.js';
import { AppliedMembership } from './applied-membership.js';

export class TransportMembership {
  /** Membership as of the applied index, and the members it dropped. */
  readonly applied: AppliedMembership;
  private readonly learned = new LearnedAddresses();
  /**
   * The configurations last handed to the transport. The core and AppliedMembership
   * keep one array per configuration, so identity tells a change.
   */
  private handed: { readonly latest: readonly Member[]; readonly applied: readonly Member[] } | null = null;

  constructor(
    private readonly self: NodeId,
    private readonly transport: Transport,
    bootstrap: readonly Member[],
    restored: readonly Member[] | null,
  ) {
    this.applied = new AppliedMembership(self, bootstrap, restored);
  }

  /**
   * Hands the transport its address book if a configuration changed. Runs twice per
   * Ready: compared by identity, not by serializing the lists; a new array with the
   * same members (a restore) only costs one idempotent setMembers(). Returns true
   * when it handed a new one.
   */
  sync(latest: readonly Member[]): boolean {
    const applied = this.applied.members;
    if (this.handed?.latest === latest && this.handed.applied === applied) return false;
    this.handed = { latest, applied };
    this.transport.setMembers(this.learned.addressBook(reachablePeers({ latest, applied }, this.self)));
    return true;
  }

  admit(latest: readonly Member[], appliedIndex: number, from: NodeId): PeerAdmission {
    return admitPeer({ latest, applied: this.applied.members, removed: this.applied.removed, appliedIndex }, from);
  }

  /** An admitted sender said where it listens. Returns true when that was news (and the transport has it now). */
  noteSenderUrl(latest: readonly Member[], from: NodeId, url: string): boolean {
    if (from === this.self) return false;
    if (!this.learned.note(from, url, reachablePeers({ latest, applied: this.applied.members }, this.self))) return false;
    this.handed = null;
    this.sync(latest);
    return true;
  }
}
