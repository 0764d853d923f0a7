// Leader-side log replication (§5.3): one Progress per peer, appends with
// fast backtracking, pipelining in replicate state, chunked snapshots for
// peers whose next entry was compacted away, and heartbeats.
import { assert } from './assert.js';
import type { RaftLog } from './log.js';
import { Progress } from './progress.js';
import { committedIndex, hasQuorum } from './quorum.js';
import type { Member, Message, NodeId, RaftConfig } from './types.js';

/** Entries per append regardless of bytes, so tiny entries cannot make a message huge. */
export const MAX_ENTRIES_PER_APPEND = 4096;

type Msg<T extends Message['type']> = Extract<Message, { type: T }>;

/** What the replicator needs from the core that owns it. */
export interface ReplicationHost {
  readonly id: NodeId;
  readonly config: RaftConfig;
  readonly log: RaftLog;
  term(): number;
  send(m: Message): void;
}

export class Replicator {
  /** Every member but the leader itself, voters and learners alike. */
  private readonly peers = new Map<NodeId, Progress>();
  // Invariant: selfMatch <= log.stableIndex: the leader counts only entries it
  // has persisted itself towards a quorum.
  private selfMatch = 0;

  constructor(
    private readonly host: ReplicationHost,
    members: readonly Member[],
  ) {
    this.syncMembers(members);
    this.selfPersisted();
  }

  /** The leader's own entries up to the log's stable index are durable. */
  selfPersisted(): void {
    assert(this.host.log.stableIndex >= this.selfMatch, 'leader stable index went backwards');
    this.selfMatch = this.host.log.stableIndex;
  }

  /** Adds progress for new members (probing from our last index) and drops removed ones. */
  syncMembers(members: readonly Member[]): void {
    const ids = new Set(members.map((m) => m.id));
    for (const id of this.peers.keys()) if (!ids.has(id)) this.peers.delete(id);
    for (const id of ids) {
      if (id === this.host.id || this.peers.has(id)) continue;
      this.peers.set(id, new Progress(this.host.log.lastIndex() + 1, this.host.config.maxInflightAppends));
    }
  }

  progress(id: NodeId): Progress | undefined {
    return this.peers.get(id);
  }

  peerIds(): NodeId[] {
    return [...this.peers.keys()];
  }

  /** An arrow, made once: committedIndex runs on every acknowledgement and should not allocate. */
  readonly matchOf = (id: NodeId): number => (id === this.host.id ? this.selfMatch : (this.peers.get(id)?.match ?? 0));

  committedIndex(voters: readonly NodeId[]): number {
    return committedIndex(voters, this.matchOf);
  }

  /** The lowest match of any peer, voter or learner (0 for one not heard from yet); null without peers. */
  lowestPeerMatch(): number | null {
    let lowest: number | null = null;
    for (const pr of this.peers.values()) if (lowest === null || pr.match < lowest) lowest = pr.match;
    return lowest;
  }

  /** CheckQuorum: a quorum of voters was heard from since the last call; resets the marks. */
  takeQuorumActive(voters: readonly NodeId[]): boolean {
    const ok = hasQuorum(voters, (id) => id === this.host.id || this.peers.get(id)?.recentActive === true);
    for (const pr of this.peers.values()) pr.recentActive = false;
    return ok;
  }

  /**
   * Sends one append (or starts a snapshot) to `to` unless its progress is
   * paused. With sendIfEmpty=false an append without entries is not sent.
   */
  sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.mustGet(to);
    if (pr.isPaused()) return false;
    const log = this.host.log;
    assert(pr.next <= log.lastIndex() + 1, () => `next ${pr.next} for ${to} beyond last ${log.lastIndex()}`);
    const prevIndex = pr.next - 1;
    const prevTerm = log.termAt(prevIndex);
    if (prevTerm === undefined) return this.startSnapshot(to, pr);
    const entries = log.slice(pr.next, this.host.config.maxAppendBytes, MAX_ENTRIES_PER_APPEND);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.host.send({
      type: 'append',
      from: this.host.id,
      to,
      term: this.host.term(),
      prevLogIndex: prevIndex,
      prevLogTerm: prevTerm,
      entries,
      leaderCommit: log.commitIndex,
    });
    pr.sentAppend(entries.at(-1)?.index ?? prevIndex);
    return true;
  }

  /** Streams as many appends as the progress allows (replicate state pipelines). */
  sendMore(to: NodeId): void {
    while (this.sendAppend(to, false)) {
      /* each call sends one message; the loop ends when paused or nothing is left */
    }
  }

  /** One append (possibly empty, to carry the commit index) to every peer, then pipeline the rest. */
  broadcastAppend(): void {
    for (const id of this.peers.keys()) {
      this.sendAppend(id, true);
      this.sendMore(id);
    }
  }

  broadcastHeartbeat(readSeq: number): void {
    for (const [to, pr] of this.peers) {
      this.host.send({
        type: 'heartbeat',
        from: this.host.id,
        to,
        term: this.host.term(),
        // A follower may not yet hold our committed entries; it must not commit past its match.
        leaderCommit: Math.min(this.host.log.commitIndex, pr.match),
        readSeq,
      });
    }
  }

  /** Returns true when the peer's match advanced or it left probing (worth trying to commit/send). */
  onAppendResp(m: Msg<'appendResp'>): boolean {
    const pr = this.peers.get(m.from);
    if (pr === undefined) return false;
    pr.recentActive = true;
    if (!m.success) {
      this.onReject(m, pr);
      return false;
    }
    const advanced = pr.maybeUpdate(m.matchIndex);
    const probeConfirmed = pr.state === 'probe' && pr.match === m.matchIndex;
    if (!advanced && !probeConfirmed) return false;
    switch (pr.state) {
      case 'probe':
        pr.becomeReplicate();
        break;
      case 'snapshot':
        // The follower has the log up to match: stream from there if we still
        // hold it (the trail included), else start over with our current snapshot.
        if (pr.match >= this.host.log.firstIndex() - 1) pr.becomeReplicate();
        else pr.becomeProbe();
        break;
      case 'replicate':
        pr.inflights.freeLE(m.matchIndex);
        break;
    }
    return true;
  }

  private onReject(m: Msg<'appendResp'>, pr: Progress): void {
    const log = this.host.log;
    let hint = m.rejectHint;
    // The follower's entry at rejectHint has rejectTerm: skip our entries of
    // later terms too, they cannot match either (etcd's findConflictByTerm).
    if (m.rejectTerm > 0) hint = log.findConflictByTerm(Math.min(m.rejectHint, log.lastIndex()), m.rejectTerm).index;
    if (!pr.maybeDecrTo(m.matchIndex, hint)) return;
    if (pr.state === 'replicate') pr.becomeProbe();
    this.sendAppend(m.from, true);
  }

  onHeartbeatResp(m: Msg<'heartbeatResp'>): void {
    const pr = this.peers.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    // The probe may have been lost; the peer is alive, so probe again.
    pr.probeSent = false;
    // A full pipeline may consist of lost appends; let one more through to find out.
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.host.log.lastIndex()) this.sendAppend(m.from, true);
  }

  onSnapshotResp(m: Msg<'snapshotResp'>): void {
    const pr = this.peers.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    const s = pr.snapshotSend;
    if (pr.state !== 'snapshot' || s === null || m.snapshotIndex !== s.snapshot.meta.index) return;
    if (!m.success || m.installed) {
      if (m.success) pr.maybeUpdate(m.snapshotIndex);
      pr.becomeProbe();
      this.sendAppend(m.from, true);
      return;
    }
    // The chunk in flight is exactly what the follower asks for (a duplicate answer): wait for it.
    if (s.inflight && m.nextOffset === s.offset) return;
    s.offset = Math.min(m.nextOffset, s.snapshot.data.byteLength);
    s.inflight = false;
    this.sendChunk(m.from, pr);
  }

  /** Resends a snapshot chunk whose answer has not come back within an election timeout. */
  tick(): void {
    for (const [id, pr] of this.peers) {
      const s = pr.snapshotSend;
      if (s === null || !s.inflight) continue;
      s.idleTicks += 1;
      if (s.idleTicks >= this.host.config.electionTicks) this.sendChunk(id, pr);
    }
  }

  private startSnapshot(to: NodeId, pr: Progress): boolean {
    const snap = this.host.log.snapshot;
    assert(snap !== null && snap.meta.index >= pr.next, () => `no snapshot to send to ${to} at next ${pr.next}`);
    pr.becomeSnapshot(snap);
    this.sendChunk(to, pr);
    return true;
  }

  private sendChunk(to: NodeId, pr: Progress): void {
    const s = pr.snapshotSend;
    assert(s !== null, 'sending a snapshot chunk outside snapshot state');
    const data = s.snapshot.data;
    const end = Math.min(s.offset + this.host.config.snapshotChunkBytes, data.byteLength);
    this.host.send({
      type: 'snapshot',
      from: this.host.id,
      to,
      term: this.host.term(),
      meta: s.snapshot.meta,
      offset: s.offset,
      chunk: data.subarray(s.offset, end),
      done: end >= data.byteLength,
    });
    s.inflight = true;
    s.idleTicks = 0;
  }

  private mustGet(id: NodeId): Progress {
    const pr = this.peers.get(id);
    assert(pr !== undefined, () => `no progress for ${id}`);
    return pr;
  }
}
