// Transaction decisions as this node applies them, for the dashboard: each one
// goes into the activity series (throughput and latency charts) and into a short
// list of recent outcomes.
//
// Every node applies every entry, so every node sees every decision, whoever led
// when it was made; the dashboard of any node draws the whole cluster's traffic.
//
// Nothing runs per change but remembering the id: the table calls its listeners
// inside apply(), on the path of every entry, and copying a record there (the
// table hands out copies only) cost as much again as the apply itself. The
// changed ids are read in flush(), once per sampler tick and before an answer
// that shows them. A changed transaction that is now decided is a decision to
// count when
//   - it was undecided when last read (the feed remembers those), or
//   - it is newer than every record read before (its seq, the Raft index of its
//     created entry, is above the highest seen): created and decided between two
//     flushes. Transactions are created in seq order, so an older one was read
//     before, undecided (and remembered) or decided (and counted then).
// So each decision counts exactly once (the first decision applied wins and never
// changes); later changes (acknowledgements, failures, completion, retention) do
// not count again. The memory is bounded by the transactions in flight; a table
// restored from a snapshot notifies every id, which clears what left it.
import type { TxDecisionView, TxStateMachine } from '../tx/types.js';
import type { ActivitySeries } from './activity-series.js';

/** The part of the replicated transaction table the dashboard reads. */
export type TxTableReader = Pick<TxStateMachine, 'get' | 'decisionOf' | 'onChange' | 'inFlight'>;

export interface DecisionFeedOptions {
  readonly table: TxTableReader;
  readonly series: ActivitySeries;
  /** Ids of recent decisions kept for the list of recent outcomes. */
  readonly recentMax: number;
  /**
   * Undecided transactions remembered at most. Above maxActiveTransactions a
   * valid table never reaches it; if it does, the oldest are forgotten and their
   * decisions may go uncounted.
   */
  readonly trackedMax: number;
  /** Changed ids held between flushes; reaching it flushes at once. Default 100,000. */
  readonly changedMax?: number;
  readonly now?: () => number;
}

const CHANGED_MAX_DEFAULT = 100_000;

export class DecisionFeed {
  // Invariant: holds only ids whose record, when last read, had no decision.
  private readonly undecided = new Set<string>();
  /** Ids the table changed since the last flush. */
  private readonly changed = new Set<string>();
  /** The highest seq of any record read (a Raft index; 0 before any). */
  private seqMax = 0;
  /** Recently decided ids, oldest first, at most recentMax. */
  private readonly recent: string[] = [];
  private readonly unsubscribe: () => void;
  private readonly now: () => number;
  private readonly changedMax: number;

  constructor(private readonly opts: DecisionFeedOptions) {
    for (const [name, v] of [
      ['recentMax', opts.recentMax],
      ['trackedMax', opts.trackedMax],
      ['changedMax', opts.changedMax ?? CHANGED_MAX_DEFAULT],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} (${v}) must be a positive integer`);
    }
    this.now = opts.now ?? Date.now;
    this.changedMax = opts.changedMax ?? CHANGED_MAX_DEFAULT;
    // What is in flight when the feed starts (a node that restarted): decided ones were decided before.
    for (const tx of opts.table.inFlight()) {
      this.seqMax = Math.max(this.seqMax, tx.seq);
      if (tx.decidedAt === null) this.track(tx.id);
    }
    this.unsubscribe = opts.table.onChange((id) => {
      this.changed.add(id);
      if (this.changed.size >= this.changedMax) this.flush();
    });
  }

  /** Reads what changed since the last flush and counts the decisions among it. */
  flush(): void {
    if (this.changed.size === 0) return;
    const seenBefore = this.seqMax;
    // Rows, not copies (decisionOf): read within this call, before any apply can change them.
    const decided: TxDecisionView[] = [];
    for (const id of this.changed) {
      const tx = this.opts.table.decisionOf(id);
      if (tx === null) {
        this.undecided.delete(id);
        continue;
      }
      if (tx.seq > this.seqMax) this.seqMax = tx.seq;
      if (tx.decidedAt === null) this.track(id);
      else if (this.undecided.delete(id) || tx.seq > seenBefore) decided.push(tx);
    }
    this.changed.clear();
    // In the order they were decided, for the list of recent outcomes.
    decided.sort((a, b) => (a.decidedAt ?? 0) - (b.decidedAt ?? 0) || a.seq - b.seq);
    for (const tx of decided) this.count(tx, tx.decidedAt ?? 0);
  }

  /** Ids of the most recent decisions this node applied, newest first (call flush() first for the latest). */
  recentIds(): string[] {
    return [...this.recent].reverse();
  }

  close(): void {
    this.unsubscribe();
    this.undecided.clear();
    this.changed.clear();
  }

  private count(tx: TxDecisionView, decidedAt: number): void {
    const outcome = tx.decision === 'commit' ? 'committed' : 'aborted';
    this.opts.series.recordDecision({ outcome, decidedAtMs: decidedAt, latencyMs: Math.max(0, decidedAt - tx.createdAt) }, this.now());
    this.recent.push(tx.id);
    if (this.recent.length > this.opts.recentMax) this.recent.shift();
  }

  private track(id: string): void {
    if (this.undecided.has(id)) return;
    if (this.undecided.size >= this.opts.trackedMax) {
      const oldest = this.undecided.values().next();
      if (oldest.done !== true) this.undecided.delete(oldest.value);
    }
    this.undecided.add(id);
  }
}
