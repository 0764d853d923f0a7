// In-memory RaftStorage: the double for tests and simulation. It plans every
// write with the same functions as the LevelDB storage (save-plan.ts) and runs
// the same checks on load (verify-state.ts), so both behave identically.
//
// Everything is deep-copied in and out: callers can neither mutate stored state
// nor observe later writes through objects they got back. A "restart" is a new
// MemoryRaftStorage over the old instance's `backing`.
import { RatifyError } from '../errors.js';
import { assertNever } from '../util/assert-never.js';
import type { Entry, HardState, Member, Snapshot, SnapshotBytes, SnapshotMeta } from '../raft/types.js';
import type { RaftStorage, SaveBatch, SnapshotWriter, StoredState } from './raft-storage.js';
import { EMPTY_HARD_STATE, planCompact, planSave, termFromBounds, type LogBounds, type WritePlan } from './save-plan.js';
import { verifyStoredState } from './verify-state.js';

/** What survives a restart: the equivalent of the data directory. */
export interface MemoryStorageBacking {
  hardState: HardState;
  snapshot: Snapshot | null;
  readonly entries: Map<number, Entry>;
}

export function createMemoryBacking(): MemoryStorageBacking {
  return { hardState: EMPTY_HARD_STATE, snapshot: null, entries: new Map() };
}

export class MemoryRaftStorage implements RaftStorage {
  /** Null until load(), as with LevelDB: writes are planned from verified bounds only. */
  private bounds: LogBounds | null = null;
  private closed = false;

  constructor(readonly backing: MemoryStorageBacking = createMemoryBacking()) {}

  async load(): Promise<StoredState> {
    this.checkOpen();
    const { hardState, snapshot } = this.backing;
    const entries: Entry[] = [];
    // In index order; verifyStoredState reports a gap or a misplaced first entry.
    const indexes = [...this.backing.entries.keys()].sort((a, b) => a - b);
    for (const index of indexes) entries.push(cloneEntry(this.backing.entries.get(index)!));
    const state: StoredState = { hardState: { ...hardState }, snapshot: snapshot === null ? null : cloneSnapshot(snapshot), entries };
    this.bounds = verifyStoredState(state);
    return state;
  }

  async save(batch: SaveBatch): Promise<SnapshotBytes | null> {
    const bounds = this.requireLoaded('save');
    const term = batch.snapshot === null ? null : this.termAt(bounds, batch.snapshot.meta.index);
    const plan = planSave(bounds, this.backing.hardState, batch, term);
    this.applyDeletes(plan);
    if (batch.snapshot !== null) this.backing.snapshot = cloneSnapshot(batch.snapshot);
    for (const entry of batch.entries) this.backing.entries.set(entry.index, cloneEntry(entry));
    this.backing.hardState = { ...plan.hardState };
    this.bounds = plan.bounds;
    // Kept in memory here anyway: the core keeps the received array.
    return batch.snapshot?.data ?? null;
  }

  async compact(snapshot: Snapshot): Promise<SnapshotBytes> {
    const bounds = this.requireLoaded('compact');
    const plan = planCompact(bounds, this.backing.hardState, snapshot.meta, this.termAt(bounds, snapshot.meta.index));
    this.applyDeletes(plan);
    this.backing.snapshot = cloneSnapshot(snapshot);
    this.bounds = plan.bounds;
    // Kept in memory here anyway: the core keeps the caller's array.
    return snapshot.data;
  }

  snapshotWriter(meta: SnapshotMeta): SnapshotWriter {
    this.requireLoaded('snapshotWriter');
    // The pieces are copied (the caller reuses its buffer) and joined at commit().
    const pieces: Uint8Array[] = [];
    let open = true;
    const usable = (op: string): void => {
      if (!open) throw new RatifyError('INTERNAL', `snapshot writer of ${meta.index}: ${op} after commit() or abort()`);
    };
    return {
      write: async (piece) => {
        usable('write()');
        this.checkOpen();
        pieces.push(piece.slice());
      },
      commit: async () => {
        usable('commit()');
        open = false;
        // A plain Uint8Array, as compact() is given elsewhere (a Buffer compares unequal in the tests).
        return this.compact({ meta, data: new Uint8Array(Buffer.concat(pieces)) });
      },
      abort: async () => {
        open = false;
        pieces.length = 0;
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new RatifyError('SHUTTING_DOWN', 'memory storage is closed');
  }

  private requireLoaded(op: string): LogBounds {
    this.checkOpen();
    if (this.bounds === null) throw new RatifyError('INTERNAL', `storage: load() must be called before ${op}()`);
    return this.bounds;
  }

  private termAt(bounds: LogBounds, index: number): number | null {
    const known = termFromBounds(bounds, index);
    return known === 'read' ? (this.backing.entries.get(index)?.term ?? null) : known;
  }

  private applyDeletes(plan: WritePlan): void {
    for (const { from, to } of plan.deletes) {
      for (let i = from; i <= to; i++) this.backing.entries.delete(i);
    }
  }
}

function cloneMembers(members: readonly Member[]): Member[] {
  return members.map((m) => ({ id: m.id, url: m.url, voter: m.voter }));
}

export function cloneEntry(entry: Entry): Entry {
  switch (entry.kind) {
    case 'normal':
      return { kind: entry.kind, index: entry.index, term: entry.term, data: new Uint8Array(entry.data) };
    case 'noop':
      return { kind: entry.kind, index: entry.index, term: entry.term };
    case 'config':
      return { kind: entry.kind, index: entry.index, term: entry.term, members: cloneMembers(entry.members) };
    default:
      return assertNever(entry);
  }
}

function cloneSnapshot(s: Snapshot): Snapshot {
  return { meta: { index: s.meta.index, term: s.meta.term, members: cloneMembers(s.meta.members) }, data: new Uint8Array(s.data) };
}
