// Durable storage of participant records: the edge interface, with a LevelDB
// implementation (level-store.ts) and an in-memory one (memory-store.ts) that a
// shared contract test (test/sdk/participant-store.test.ts) holds to the same rules.
// Records are addressed by recordKey(txId, participant) from record.ts.
import type { FenceEntry } from './fence.js';
import type { ParticipantTxRecord } from './types.js';

export interface StoreWrite {
  /** Records to put. A finished record also enters the prune index under its updatedAtMs. */
  readonly records?: readonly ParticipantTxRecord[];
  /** The highest coordinator term seen from any cluster (the legacy fence, fence.ts); callers only ever raise it. */
  readonly highestTerm?: number;
  /** The highest term per cluster incarnation (fence.ts); callers only ever raise them. */
  readonly fences?: readonly FenceEntry[];
  /** Finished records to forget (as returned by finishedBefore). */
  readonly prune?: readonly FinishedRef[];
}

export interface FinishedRef {
  readonly key: string;
  readonly finishedAtMs: number;
}

export interface LoadedState {
  readonly highestTerm: number;
  /** Per cluster incarnation; a store from before scopes (or a custom one that keeps none) may leave it out. */
  readonly fences?: readonly FenceEntry[];
  /** Every record still preparing, prepared or precommitted. */
  readonly inDoubt: readonly ParticipantTxRecord[];
}

export interface ParticipantStore {
  open(): Promise<LoadedState>;
  get(key: string): Promise<ParticipantTxRecord | undefined>;
  /** Resolves once the write is durable (synced); all of one write lands atomically. */
  write(w: StoreWrite): Promise<void>;
  /** Oldest finished records, up to `limit`, finished strictly before `cutoffMs`. */
  finishedBefore(cutoffMs: number, limit: number): Promise<FinishedRef[]>;
  close(): Promise<void>;
}
