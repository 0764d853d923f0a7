// Follower side of replication (§5.3, §7): the AppendEntries consistency check
// with conflict truncation, commit from heartbeats, and chunked InstallSnapshot.
// Every answer that acknowledges entries leaves in the Ready that persists them.
import type { RaftLog } from './log.js';
import { SnapshotReceiver } from './snapshot-receiver.js';
import type { Entry, Message, NodeId } from './types.js';

type Msg<T extends Message['type']> = Extract<Message, { type: T }>;

/** What follower replication needs from the core that owns it. */
export interface FollowerHost {
  readonly id: NodeId;
  readonly log: RaftLog;
  term(): number;
  send(m: Message): void;
  /** Entries were appended, maybe after a truncation: the config may have changed. */
  onAppended(entries: readonly Entry[]): void;
  /** A snapshot replaced the whole log: the config comes from it now. */
  onRestored(): void;
  /** The state machine can restore this snapshot data (RaftConfig.acceptSnapshot). */
  acceptSnapshot(data: Uint8Array): boolean;
}

export class FollowerReplication {
  private readonly receiver = new SnapshotReceiver();

  constructor(private readonly host: FollowerHost) {}

  /** §5.3: consistency check, conflict truncation, commit from the leader. */
  onAppend(m: Msg<'append'>): void {
    const log = this.host.log;
    if (m.prevLogIndex < log.commitIndex) {
      // Everything up to our commit index matches the leader already.
      this.receiver.dropCoveredBy(log.commitIndex);
      this.ack(m.from, log.commitIndex);
      return;
    }
    const lastNew = log.maybeAppend(m.prevLogIndex, m.prevLogTerm, m.leaderCommit, m.entries);
    if (lastNew !== null) {
      this.receiver.dropCoveredBy(lastNew);
      this.host.onAppended(m.entries);
      this.ack(m.from, lastNew);
      return;
    }
    const hint = log.findConflictByTerm(Math.min(m.prevLogIndex, log.lastIndex()), m.prevLogTerm);
    this.host.send({
      type: 'appendResp',
      from: this.host.id,
      to: m.from,
      term: this.host.term(),
      success: false,
      // On rejection matchIndex echoes the rejected prevLogIndex, so the leader can spot stale answers.
      matchIndex: m.prevLogIndex,
      rejectHint: hint.index,
      rejectTerm: hint.term,
    });
  }

  /** The leader never sends a commit index past what we acknowledged, so our log holds it. */
  onHeartbeat(m: Msg<'heartbeat'>): void {
    this.host.log.commitTo(m.leaderCommit);
    this.host.send({ type: 'heartbeatResp', from: this.host.id, to: m.from, term: this.host.term(), readSeq: m.readSeq });
  }

  /** §7: gathers chunks; installs the snapshot only if our log lacks its last entry. */
  onSnapshot(m: Msg<'snapshot'>): void {
    const log = this.host.log;
    const meta = m.meta;
    // Already covered (committed, or our log holds its last entry): no install
    // needed. Answer like an append so the leader resumes from our log (etcd does the same).
    if (meta.index <= log.commitIndex || log.matchTerm(meta.index, meta.term)) {
      log.commitTo(meta.index);
      this.receiver.reset();
      this.ack(m.from, log.commitIndex);
      return;
    }
    const r = this.receiver.accept(m);
    // Data the state machine cannot read would stop the node at restore: keep the log as it is.
    const usable = r.complete === null || this.host.acceptSnapshot(r.complete.data);
    if (r.complete !== null && usable) {
      log.restore(r.complete);
      this.host.onRestored();
    }
    this.host.send({
      type: 'snapshotResp',
      from: this.host.id,
      to: m.from,
      term: this.host.term(),
      snapshotIndex: meta.index,
      nextOffset: usable ? r.nextOffset : 0,
      installed: r.complete !== null && usable,
      success: usable,
    });
  }

  private ack(to: NodeId, matchIndex: number): void {
    this.host.send({
      type: 'appendResp',
      from: this.host.id,
      to,
      term: this.host.term(),
      success: true,
      matchIndex,
      rejectHint: 0,
      rejectTerm: 0,
    });
  }
}
