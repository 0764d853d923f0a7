// Leader-side replication metrics, read off the Raft traffic around the node:
//   ratify_raft_replication_lag_entries{peer}   the leader's last log index minus the
//       highest index the peer acknowledged (set only while this node leads);
//   ratify_raft_append_rtt_seconds{peer}        from sending an AppendEntries that carries
//       entries to the peer's success answer covering them (the follower's synced write
//       included, since it answers only once the entries are durable).
//
// The pure core tracks match indexes too but does not expose them (see peer-match.ts);
// watching the messages keeps the driver and the core as they are. Peers are member
// ids, a label set bounded by the membership.
import { Gauge, Histogram, type Registry } from 'prom-client';
import type { CoreStatus } from '../raft/api.js';
import type { Message, NodeId } from '../raft/types.js';
import type { Transport } from '../transport/transport.js';

/** Appends awaiting an answer, per peer; beyond this (a peer that never answers) new ones are not timed. */
const PENDING_APPENDS_PER_PEER_MAX = 256;

interface Acked {
  readonly term: number;
  readonly matchIndex: number;
}

export class ReplicationMetrics {
  private readonly acked = new Map<NodeId, Acked>();
  /** Per peer: the last entry index of an append in flight -> when it was sent (ms), for one term. */
  private readonly pending = new Map<NodeId, { term: number; sentAt: Map<number, number> }>();
  private readonly rtt: Histogram<'peer'>;

  constructor(
    registry: Registry,
    status: () => CoreStatus | null,
    private readonly now: () => number = () => performance.now(),
  ) {
    const acked = this.acked;
    this.rtt = new Histogram({
      name: 'ratify_raft_append_rtt_seconds',
      help: 'Leader side: from sending AppendEntries with entries to the peer acknowledging them (its synced write included), by peer.',
      labelNames: ['peer'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
    new Gauge({
      name: 'ratify_raft_replication_lag_entries',
      help: "Leader side: the leader's last log index minus the highest index each peer acknowledged (0 when caught up); no series on followers.",
      labelNames: ['peer'],
      registers: [registry],
      collect() {
        this.reset();
        const st = status();
        if (st === null || st.role !== 'leader') return;
        for (const m of st.members) {
          if (m.id === st.id) continue;
          const matchIndex = acked.get(m.id)?.matchIndex ?? 0;
          this.set({ peer: m.id }, Math.max(0, st.lastIndex - matchIndex));
        }
      },
    });
  }

  /** The transport the node sends through, timing appends on their way out. */
  wrap(transport: Transport): Transport {
    return {
      send: (messages) => {
        this.sent(messages);
        transport.send(messages);
      },
      setMembers: (members) => transport.setMembers(members),
      close: () => transport.close(),
    };
  }

  sent(messages: readonly Message[]): void {
    const at = this.now();
    for (const m of messages) {
      if (m.type !== 'append' || m.entries.length === 0) continue;
      const last = m.entries[m.entries.length - 1]!.index;
      let peer = this.pending.get(m.to);
      if (peer === undefined || peer.term !== m.term) {
        peer = { term: m.term, sentAt: new Map() };
        this.pending.set(m.to, peer);
      }
      // A resend of the same entries keeps the first send time: the wait is what it is.
      if (!peer.sentAt.has(last) && peer.sentAt.size < PENDING_APPENDS_PER_PEER_MAX) peer.sentAt.set(last, at);
    }
  }

  /** Inbound messages, before the node steps them. */
  received(messages: readonly Message[]): void {
    for (const m of messages) {
      if (m.type === 'appendResp' && m.success) {
        this.record(m.from, m.term, m.matchIndex);
        this.answered(m.from, m.term, m.matchIndex);
      } else if (m.type === 'snapshotResp' && m.success && m.installed) {
        this.record(m.from, m.term, m.snapshotIndex);
      }
    }
  }

  private answered(peer: NodeId, term: number, matchIndex: number): void {
    const p = this.pending.get(peer);
    if (p === undefined || p.term !== term) return;
    const at = this.now();
    for (const [last, sentAt] of p.sentAt) {
      if (last > matchIndex) continue;
      this.rtt.observe({ peer }, (at - sentAt) / 1000);
      p.sentAt.delete(last);
    }
  }

  private record(peer: NodeId, term: number, matchIndex: number): void {
    const prev = this.acked.get(peer);
    if (prev !== undefined && (prev.term > term || (prev.term === term && prev.matchIndex >= matchIndex))) return;
    this.acked.set(peer, { term, matchIndex });
  }
}
