// The interface the replicated application (the transaction coordinator) implements.
//
// apply() must be deterministic: it may read neither the wall clock nor a random
// source. Values like that travel inside the entry (the proposer stamps them).

export interface AppliedEntry {
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array;
}

/**
 * A snapshot of the state as it was when captured, encoded a bounded piece at a
 * time so the driver can spread a large state over several turns of its event
 * loop while apply() goes on (the captured state does not change under it).
 */
export interface SnapshotEncoding {
  /** Encodes the next piece (a fraction of a millisecond of work); false once the encoding is complete. */
  step(): boolean;
  /** The bytes the last step() encoded, to append to the ones before: a view valid until the next step(). */
  piece(): Uint8Array;
}

export interface StateMachine {
  /** Apply one committed normal entry. The return value goes back to the proposer, if it is local. */
  apply(entry: AppliedEntry): unknown;
  /** Serialize the whole state as of the last applied entry. */
  snapshot(): Uint8Array;
  /**
   * The state as of the last applied entry, captured now, cheaply, to be encoded
   * later: its pieces, end to end, are exactly the bytes snapshot() would have
   * returned at the capture. Without it the driver uses snapshot().
   */
  captureSnapshot?(): SnapshotEncoding;
  /** Replace the whole state with a snapshot's. */
  restore(data: Uint8Array): void;
  /**
   * Whether restore(data) would succeed, without changing any state: null if so,
   * else what is wrong. Asked before a snapshot received from a leader replaces the
   * log (RaftConfig.acceptSnapshot); without it every snapshot is accepted. It may
   * keep what it decoded for the restore(data) that usually follows, but not for long.
   */
  checkSnapshot?(data: Uint8Array): string | null;
}
