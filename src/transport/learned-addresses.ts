// Addresses of senders that no configuration this node knows lists, learned from
// the sender's own word (the x-ratify-from-url header). Pure; the driver and the
// seeded simulation keep one each.
//
// WHY: a node only has addresses for the members of its configurations. A
// learner that joins knows the voters it was started with (--peers); when the
// leader is a node added after those, the learner could not answer it: the
// leader's probe is never acknowledged, so it never sends the entries that
// would teach the learner the leader's address, and the learner never catches
// up. The same holds for any node lagging behind a member's addition. So an
// admitted sender's address is kept, bounded, until a configuration lists it.
import type { Member, NodeId } from '../raft/types.js';

/** Learned addresses kept at most; the oldest goes first. A handful of unknown leaders is plenty. */
export const LEARNED_ADDRESSES_MAX = 16;

export class LearnedAddresses {
  private readonly byId = new Map<NodeId, string>();

  constructor(private readonly max: number = LEARNED_ADDRESSES_MAX) {}

  get size(): number {
    return this.byId.size;
  }

  /**
   * An admitted sender said where it listens. `known`: the addresses the node's
   * configurations give. Returns true when the address book changed.
   */
  note(id: NodeId, url: string, known: readonly Member[]): boolean {
    if (known.some((m) => m.id === id)) return false;
    if (this.byId.get(id) === url) return false;
    this.byId.delete(id);
    this.byId.set(id, url);
    if (this.byId.size > this.max) this.byId.delete(this.byId.keys().next().value as NodeId);
    return true;
  }

  /** The configurations' peers, then the learned addresses they do not list (and forgets those they now do). */
  addressBook(known: readonly Member[]): Member[] {
    const out = [...known];
    for (const [id, url] of [...this.byId]) {
      if (known.some((m) => m.id === id)) this.byId.delete(id);
      else out.push({ id, url, voter: false });
    }
    return out;
  }
}
