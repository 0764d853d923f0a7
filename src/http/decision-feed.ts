// Transaction decisions as this node applies them, for the dashboard: each one
// goes into the activity series (throughput and latency charts) and into a short
// list of recent outcomes.
//
// Every node applies every entry, so every node sees every decision, whoever led
// when it was made; the dashboard of any node draws the whole cluster's traffic.
// The table tells only *which* transaction changed, so the feed remembers which
// ones it has seen undecided: a change that finds one of them decided is that
// transaction's decision, seen exactly once (the first decision applied wins and
// never changes). The memory is bounded by the transactions in flight; a table
// restored from a snapshot notifies every id, which clears what left it.
import type { TxRecord, TxStateMachine } from '../tx/types.js';
import type { ActivitySeries } from './activity-series.js';

/** The part of the replicated transaction table the dashboard reads. */
export type TxTableReader = Pick<TxStateMachine, 'get' | 'onChange' | 'inFlight'>;

export interface DecisionFeedOptions {
  readonly table: TxTableReader;
  readonly series: ActivitySeries;
  /** Ids of recent decisions kept for the list of recent outcomes. */
  readonly recentMax: number;
  /**
   * Undecided transactions remembered at most. Above maxActiveTransactions a
   * valid table never reaches it; if it does, the oldest are forgotten and their
   * decisions go uncounted.
   */
  readonly trackedMax: number;
  readonly now?: () => number;
}

export class DecisionFeed {
  // Invariant: holds only ids whose record, when last seen, had no decision.
  private readonly undecided = new Set<string>();
  /** Recently decided ids, oldest first, at most recentMax. */
  private readonly recent: string[] = [];
  private readonly unsubscribe: () => void;
  private readonly now: () => number;

  constructor(private readonly opts: DecisionFeedOptions) {
    if (!Number.isInteger(opts.recentMax) || opts.recentMax < 1) throw new RangeError(`recentMax (${opts.recentMax}) must be a positive integer`);
    if (!Number.isInteger(opts.trackedMax) || opts.trackedMax < 1) throw new RangeError(`trackedMax (${opts.trackedMax}) must be a positive integer`);
    this.now = opts.now ?? Date.now;
    // Transactions already in flight when the feed starts (a node that restarted).
    for (const tx of opts.table.inFlight()) if (tx.decidedAt === null) this.track(tx.id);
    this.unsubscribe = opts.table.onChange((id) => this.changed(id));
  }

  /** Ids of the most recent decisions this node applied, newest first. */
  recentIds(): string[] {
    return [...this.recent].reverse();
  }

  close(): void {
    this.unsubscribe();
    this.undecided.clear();
  }

  /** Runs inside the table's apply(): cheap, and never throws (the table swallows it anyway). */
  private changed(id: string): void {
    const tx = this.opts.table.get(id);
    if (tx === null) {
      this.undecided.delete(id);
      return;
    }
    if (tx.decidedAt === null) {
      this.track(id);
      return;
    }
    if (this.undecided.delete(id)) this.decided(tx, tx.decidedAt);
  }

  private decided(tx: TxRecord, decidedAt: number): void {
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
