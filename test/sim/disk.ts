// Simulated disk of one node. Every write is synced but one: the commit index a
// graceful stop writes without an fsync (src/node/hard-state-writes.ts). That
// one survives the process (the OS has it) and is lost with the machine
// (powerLoss()), as LevelDB's unsynced writes are; a synced save makes it
// durable first. The harness never crashes a node in the middle of a synced
// write, so a crash keeps exactly the synced state (and, but for a power loss,
// the unsynced one).
//
// save() follows src/storage/raft-storage.ts: a snapshot from the leader replaces
// the log up to its index (keeping the suffix only if it matches, as in the
// paper's InstallSnapshot rule 6), then entries overwrite the stored suffix from
// entries[0].index. The Ready contract is checked here because only the disk
// knows what is already stored.
import type { Entry, HardState, InitialState, Member, Snapshot } from '../../src/raft/types.js';
import { violation } from './violation.js';

export interface SaveBatch {
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
}

export class SimDisk {
  private hard: HardState = { term: 0, vote: null, commitIndex: 0 };
  /** Written without an fsync, newer than `hard`. */
  private unsyncedHard: HardState | null = null;
  private snap: Snapshot | null = null;
  /** Contiguous entries after the snapshot (or from index 1). */
  private log: Entry[] = [];
  /** Number of synced writes; lets checks skip work when nothing changed. */
  writes = 0;

  /** What a reader sees: the unsynced write if there is one. */
  get hardState(): HardState {
    return this.unsyncedHard ?? this.hard;
  }

  /** A write without an fsync (only ever a hard state whose term and vote are on disk already). */
  saveUnsynced(hardState: HardState): void {
    this.writes++;
    this.unsyncedHard = hardState;
  }

  /** The machine lost power: what was not synced is gone. */
  powerLoss(): void {
    this.unsyncedHard = null;
  }

  get snapshot(): Snapshot | null {
    return this.snap;
  }

  get snapshotIndex(): number {
    return this.snap?.meta.index ?? 0;
  }

  get lastIndex(): number {
    return this.snapshotIndex + this.log.length;
  }

  entryAt(index: number): Entry | undefined {
    return this.log[index - this.snapshotIndex - 1];
  }

  /** Term at index, including the snapshot boundary and index 0; undefined if unknown. */
  termAt(index: number): number | undefined {
    if (index === 0) return 0;
    if (index === this.snapshotIndex) return this.snap?.meta.term;
    return this.entryAt(index)?.term;
  }

  /** One synced batch. Returns the entries it removed from the log (not those a snapshot covers). */
  save(batch: SaveBatch): Entry[] {
    this.writes++;
    // An fsync covers every write before it.
    if (this.unsyncedHard !== null) this.hard = this.unsyncedHard;
    this.unsyncedHard = null;
    const removed: Entry[] = [];
    if (batch.snapshot !== null) removed.push(...this.installSnapshot(batch.snapshot));
    if (batch.entries.length > 0) removed.push(...this.appendEntries(batch.entries));
    if (batch.hardState !== null) this.hard = batch.hardState;
    return removed;
  }

  private installSnapshot(snapshot: Snapshot): Entry[] {
    const { index, term } = snapshot.meta;
    if (index <= this.snapshotIndex) {
      violation('ready-contract', `Ready.snapshot index ${index} is not past the stored snapshot index ${this.snapshotIndex}`);
    }
    const keep = this.termAt(index) === term;
    const removed = keep ? [] : this.log.filter((e) => e.index > index);
    this.log = keep ? this.log.filter((e) => e.index > index) : [];
    this.snap = snapshot;
    return removed;
  }

  private appendEntries(entries: readonly Entry[]): Entry[] {
    const first = entries[0] as Entry;
    entries.forEach((e, i) => {
      if (e.index !== first.index + i) {
        violation('ready-contract', `Ready.entries not contiguous: index ${e.index} at position ${i} after ${first.index}`);
      }
    });
    if (first.index <= this.snapshotIndex) {
      violation('ready-contract', `Ready.entries start at ${first.index}, inside the snapshot (index ${this.snapshotIndex})`);
    }
    if (first.index > this.lastIndex + 1) {
      violation('ready-contract', `Ready.entries start at ${first.index}, leaving a gap after stored last index ${this.lastIndex}`);
    }
    const cut = first.index - this.snapshotIndex - 1;
    const removed = this.log.slice(cut);
    this.log = this.log.slice(0, cut).concat(entries);
    return removed;
  }

  /** A locally taken snapshot: drop log entries it covers. */
  compact(snapshot: Snapshot): void {
    this.writes++;
    const { index } = snapshot.meta;
    if (index <= this.snapshotIndex) throw new Error(`harness bug: compact to ${index} <= snapshot ${this.snapshotIndex}`);
    if (index > this.lastIndex) throw new Error(`harness bug: compact to ${index} beyond last index ${this.lastIndex}`);
    if (this.unsyncedHard !== null) this.hard = this.unsyncedHard; // a synced batch too
    this.unsyncedHard = null;
    this.log = this.log.filter((e) => e.index > index);
    this.snap = snapshot;
  }

  /** What a restarting node gets: exactly the synced state. */
  load(bootstrapMembers: readonly Member[]): InitialState & { readonly snapshot: Snapshot | null } {
    return {
      hardState: this.hardState,
      snapshot: this.snap,
      entries: this.log.slice(),
      bootstrapMembers,
      appliedIndex: this.snapshotIndex,
    };
  }

  entries(): readonly Entry[] {
    return this.log;
  }
}
