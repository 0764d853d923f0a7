// What this node, as leader, has heard about each peer's log: the highest index a
// peer acknowledged as matching ours, per term.
//
// The pure core tracks this too (its replication progress) but does not expose it,
// so the driver reads the same facts off the responses it hands to the core. A
// successful appendResp of term T says the peer's log matches the leader of T up to
// matchIndex; an installed snapshotResp says the same for the snapshot index. The
// leader of T only ever appends, so within T such a fact stays true. Facts of an
// older term say nothing about the current leader's log and are ignored.
import type { Message, NodeId } from '../raft/types.js';

interface Acked {
  readonly term: number;
  readonly matchIndex: number;
}

export class PeerMatch {
  // Invariant: at most one record per peer, for the latest term heard from it.
  private readonly byPeer = new Map<NodeId, Acked>();

  /** Look at one inbound message (addressed to this node). */
  observe(m: Message): void {
    if (m.type === 'appendResp' && m.success) this.record(m.from, m.term, m.matchIndex);
    else if (m.type === 'snapshotResp' && m.success && m.installed) this.record(m.from, m.term, m.snapshotIndex);
  }

  /** The highest index `peer` acknowledged in `term`, or null if it acknowledged nothing in that term. */
  matchIndex(peer: NodeId, term: number): number | null {
    const a = this.byPeer.get(peer);
    return a !== undefined && a.term === term ? a.matchIndex : null;
  }

  /** Keep only the given peers (membership changed). */
  retain(peers: ReadonlySet<NodeId>): void {
    for (const id of [...this.byPeer.keys()]) if (!peers.has(id)) this.byPeer.delete(id);
  }

  private record(peer: NodeId, term: number, matchIndex: number): void {
    const prev = this.byPeer.get(peer);
    if (prev !== undefined && (prev.term > term || (prev.term === term && prev.matchIndex >= matchIndex))) return;
    this.byPeer.set(peer, { term, matchIndex });
  }
}
