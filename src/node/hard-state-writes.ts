// Which hard states reach the disk, and when (etcd's MustSync, taken one step
// further). Pure, so the seeded simulation (test/sim/) writes exactly what the
// driver (raft-node.ts) writes, and loses exactly what it would lose.
//
// A Ready whose only change is the commit index needs no fsync (mustSync), nor
// a write of its own: Raft never needs the commit index back from disk (a
// restarted node relearns it from a leader; the stored one only lets it apply
// sooner). It goes with the next synced save, so the stored one trails by at
// most one save, or is written unsynced at a graceful stop. At low load every
// write had a commit-only save after it: a LevelDB write and a thread-pool round
// trip on every node, for nothing that is waited on.
import type { HardState, Ready } from '../raft/types.js';
import type { SaveBatch } from '../storage/raft-storage.js';
import { mustSync } from '../storage/save-plan.js';

export class HardStateWrites {
  /** Term and vote as the last save left them on disk; the commit index may be ahead of the disk's. */
  private persistedHard: HardState;
  /** A commit-index-only hard state not on disk yet. */
  private unwritten: HardState | null = null;

  constructor(stored: HardState) {
    this.persistedHard = stored;
  }

  get persisted(): HardState {
    return this.persistedHard;
  }

  /**
   * The synced save `rd` needs, or null when nothing is to be written now
   * (nothing changed, or only the commit index: kept until the next save).
   * Call saved(rd) once a returned batch is durable.
   */
  plan(rd: Ready): SaveBatch | null {
    if (rd.hardState === null && rd.entries.length === 0 && rd.snapshot === null) return null;
    const batch = { hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot };
    if (!mustSync(this.persistedHard, batch)) {
      this.unwritten = rd.hardState;
      if (rd.hardState !== null) this.persistedHard = rd.hardState;
      return null;
    }
    // A snapshot's Ready carries its own hard state; an older commit index would trail its index.
    if (batch.hardState === null && batch.snapshot === null) batch.hardState = this.unwritten;
    this.unwritten = null;
    return { ...batch, sync: true };
  }

  saved(rd: Ready): void {
    if (rd.hardState !== null) this.persistedHard = rd.hardState;
  }

  /** At a graceful stop: the commit index learned since the last save, to write unsynced. */
  takeUnwritten(): HardState | null {
    const hs = this.unwritten;
    this.unwritten = null;
    return hs;
  }
}
