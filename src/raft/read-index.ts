// Linearizable reads through ReadIndex (thesis §6.4), on every role: the leader
// confirms its leadership with a heartbeat round after the read arrived, and
// serves nothing before an entry of its own term committed; followers and
// learners forward their reads to the leader. The bookkeeping lives in
// read-only.ts; this file routes requests, answers and refusals.
import { ForwardedReads, ReadOnly, type ReadRequest } from './read-only.js';
import type { Outbox } from './outbox.js';
import type { Message, NodeId } from './types.js';

type Msg<T extends Message['type']> = Extract<Message, { type: T }>;

/** What the read path needs from the core that owns it. */
export interface ReadIndexHost {
  readonly id: NodeId;
  readonly outbox: Outbox;
  term(): number;
  isLeader(): boolean;
  leaderId(): NodeId | null;
  voters(): readonly NodeId[];
  commitIndex(): number;
  /** This leader's commit index is up to date: an entry of its term committed (§6.4 step 1). */
  committedInTerm(): boolean;
}

export class LinearizableReads {
  /** Leader side. Lives as long as the core: its round numbers never repeat, across terms too. */
  private readonly leaderReads = new ReadOnly();
  /** Follower side. */
  private readonly forwarded: ForwardedReads;

  constructor(
    private readonly host: ReadIndexHost,
    electionTicks: number,
  ) {
    // The leader answers within a heartbeat round unless messages were lost.
    this.forwarded = new ForwardedReads(2 * electionTicks);
  }

  /** readSeq of the latest heartbeat round sent; every heartbeat carries it. */
  get currentSeq(): number {
    return this.leaderReads.currentSeq;
  }

  /** A read waits for a heartbeat round that has not been sent yet. */
  needsRound(): boolean {
    return this.leaderReads.needsRound();
  }

  startRound(): number {
    return this.leaderReads.startRound();
  }

  /** A local read: served by the leader, forwarded by anyone else who knows one. */
  request(requestId: number): void {
    const h = this.host;
    if (h.isLeader()) return this.leaderRead({ requestId, from: h.id });
    const leaderId = h.leaderId();
    if (leaderId === null || this.forwarded.full()) return h.outbox.readDropped(requestId);
    this.forwarded.add(requestId);
    h.outbox.send({ type: 'readIndex', from: h.id, to: leaderId, term: h.term(), requestId });
  }

  /** A read forwarded to us; only a leader can serve it. */
  onForwarded(m: Msg<'readIndex'>): void {
    if (this.host.isLeader()) this.leaderRead({ requestId: m.requestId, from: m.from });
    else this.answer(m.from, m.requestId, null);
  }

  /** The leader's answer to a read we forwarded. */
  onAnswer(m: Msg<'readIndexResp'>): void {
    if (!this.forwarded.take(m.requestId)) return;
    if (m.ok) this.host.outbox.readConfirmed({ requestId: m.requestId, readIndex: m.readIndex });
    else this.host.outbox.readDropped(m.requestId);
  }

  /** Leader: `from` echoed heartbeat round `readSeq`. */
  onHeartbeatAck(from: NodeId, readSeq: number): void {
    this.leaderReads.ack(from, readSeq);
    this.releaseConfirmed();
  }

  /** Leader: an entry of its term committed; reads that waited for it may proceed. */
  releaseDeferred(): void {
    for (const r of this.leaderReads.takeDeferred()) this.leaderRead(r);
  }

  /** Leadership or leader changed: nothing waiting can be confirmed any more. */
  dropAll(): void {
    for (const r of this.leaderReads.takeAll()) this.refuse(r);
    for (const id of this.forwarded.takeAll()) this.host.outbox.readDropped(id);
  }

  /** Forwarded reads whose answer was lost expire. */
  tick(): void {
    for (const id of this.forwarded.tick()) this.host.outbox.readDropped(id);
  }

  private leaderRead(req: ReadRequest): void {
    if (this.leaderReads.full()) return this.refuse(req);
    // Until an entry of this term commits, our commit index may lag the real one (§6.4 step 1).
    if (!this.host.committedInTerm()) return this.leaderReads.defer(req);
    this.leaderReads.add(req, this.host.commitIndex());
    this.releaseConfirmed();
  }

  private releaseConfirmed(): void {
    for (const r of this.leaderReads.takeConfirmed(this.host.voters(), this.host.id)) {
      if (r.from === this.host.id) this.host.outbox.readConfirmed({ requestId: r.requestId, readIndex: r.readIndex });
      else this.answer(r.from, r.requestId, r.readIndex);
    }
  }

  private refuse(req: ReadRequest): void {
    if (req.from === this.host.id) this.host.outbox.readDropped(req.requestId);
    else this.answer(req.from, req.requestId, null);
  }

  private answer(to: NodeId, requestId: number, readIndex: number | null): void {
    const h = this.host;
    h.outbox.send({ type: 'readIndexResp', from: h.id, to, term: h.term(), requestId, readIndex: readIndex ?? 0, ok: readIndex !== null });
  }
}
