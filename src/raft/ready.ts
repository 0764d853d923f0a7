// Ready assembly: what the core hands the driver, and what the driver's
// advance() tells the log (see the Ready contract in types.ts).
//
// A Ready is a consistent cut. Messages queued before ready() depend only on
// state that is in memory at that moment, and this Ready carries all of it that
// is not durable yet: the current hard state and every unstable entry (or the
// pending snapshot). One exception is harmless by Raft's term rule: a message
// queued in an older term (say an ack of entries that a newer leader then
// truncated) may describe state this Ready replaces. Its receiver acts on it
// only while still in that older term, and this Ready makes our newer term
// durable, so we never act in that term again (etcd behaves the same).
import { assert } from './assert.js';
import type { RaftLog } from './log.js';
import type { Outbox } from './outbox.js';
import type { HardState, Ready, SoftState } from './types.js';

/** Committed entries handed out per Ready, so a restart does not build one giant batch. */
export const MAX_APPLY_BATCH = 4096;

export class ReadyTracker {
  /** What the last Ready told the driver (so only changes are repeated). */
  private prevHard: HardState;
  private prevSoft: SoftState;
  // Invariant: at most one Ready is outstanding; ready() waits for advance().
  private outstanding: Ready | null = null;

  constructor(hard: HardState, soft: SoftState) {
    this.prevHard = hard;
    this.prevSoft = soft;
  }

  /** A Ready is with the driver. */
  get busy(): boolean {
    return this.outstanding !== null;
  }

  /** Something to persist, send, apply or report. */
  pending(hard: HardState, soft: SoftState, log: RaftLog, outbox: Outbox): boolean {
    return (
      !outbox.isEmpty() ||
      log.pendingSnapshot !== null ||
      log.stableIndex < log.lastIndex() ||
      !sameHardState(hard, this.prevHard) ||
      !sameSoftState(soft, this.prevSoft) ||
      log.nextToApply(1).length > 0
    );
  }

  take(hard: HardState, soft: SoftState, log: RaftLog, outbox: Outbox): Ready {
    assert(this.outstanding === null, 'ready() called again before advance()');
    const out = outbox.take();
    const rd: Ready = {
      softState: sameSoftState(soft, this.prevSoft) ? null : soft,
      hardState: sameHardState(hard, this.prevHard) ? null : hard,
      entries: log.unstableEntries(),
      snapshot: log.pendingSnapshot,
      messages: out.messages,
      committedEntries: log.nextToApply(MAX_APPLY_BATCH),
      readStates: out.readStates,
      droppedReads: out.droppedReads,
    };
    const firstApply = rd.committedEntries[0];
    assert(firstApply === undefined || firstApply.index === log.appliedIndex + 1, 'committed entries do not follow the applied index');
    this.prevHard = hard;
    this.prevSoft = soft;
    this.outstanding = rd;
    return rd;
  }

  /** The driver persisted, sent and applied `rd`: record what is now durable and applied. */
  finish(rd: Ready, log: RaftLog): void {
    assert(rd === this.outstanding, 'advance() with a Ready that is not the outstanding one');
    this.outstanding = null;
    if (rd.snapshot !== null) log.snapshotPersisted(rd.snapshot.meta);
    const lastEntry = rd.entries.at(-1);
    if (lastEntry !== undefined) log.stableTo(lastEntry.index, lastEntry.term);
    const lastApplied = rd.committedEntries.at(-1);
    if (lastApplied !== undefined) log.appliedTo(lastApplied.index);
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commitIndex === b.commitIndex;
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.role === b.role && a.leaderId === b.leaderId && a.term === b.term;
}
