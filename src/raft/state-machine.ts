// The interface the replicated application (the transaction coordinator) implements.
//
// apply() must be deterministic: it may read neither the wall clock nor a random
// source. Values like that travel inside the entry (the proposer stamps them).

export interface AppliedEntry {
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array;
}

export interface StateMachine {
  /** Apply one committed normal entry. The return value goes back to the proposer, if it is local. */
  apply(entry: AppliedEntry): unknown;
  /** Serialize the whole state as of the last applied entry. */
  snapshot(): Uint8Array;
  /** Replace the whole state with a snapshot's. */
  restore(data: Uint8Array): void;
  /**
   * Whether restore(data) would succeed, without changing any state: null if so,
   * else what is wrong. Asked before a snapshot received from a leader replaces the
   * log (RaftConfig.acceptSnapshot); without it every snapshot is accepted.
   */
  checkSnapshot?(data: Uint8Array): string | null;
}
