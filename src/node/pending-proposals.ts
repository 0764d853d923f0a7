// Local proposals waiting for their log index to be applied.
//
// A proposal is identified by (index, term) as the core assigned it. When the entry
// at that index is applied, the waiter resolves only if the terms match; another
// term at that index means a new leader overwrote it (LEADERSHIP_LOST).
import { RatifyError } from '../errors.js';

interface Waiter {
  readonly term: number;
  readonly resolve: (result: unknown) => void;
  readonly reject: (err: RatifyError) => void;
  readonly timer: NodeJS.Timeout;
}

export type ProposalOutcome = 'ok' | 'timeout' | 'lost' | 'shutdown';

export class PendingProposals {
  private readonly waiters = new Map<number, Waiter>();

  constructor(
    private readonly limit: number,
    private readonly onSettled: (outcome: ProposalOutcome) => void = () => {},
  ) {}

  get size(): number {
    return this.waiters.size;
  }

  hasRoom(): boolean {
    return this.waiters.size < this.limit;
  }

  /** Wait for (index, term) to be applied. Invariant: one waiter per index (the core never reuses an index within a term). */
  add(index: number, term: number, timeoutMs: number): Promise<unknown> {
    if (this.waiters.has(index)) throw new Error(`two local proposals at index ${index}`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(index);
        this.onSettled('timeout');
        reject(new RatifyError('TIMEOUT', `proposal at index ${index} was not applied within ${timeoutMs} ms; its fate is unknown`));
      }, timeoutMs);
      timer.unref();
      this.waiters.set(index, { term, resolve, reject, timer });
    });
  }

  /** The entry (index, term) was applied with `result`. */
  applied(index: number, term: number, result: unknown): void {
    const w = this.waiters.get(index);
    if (w === undefined) return;
    this.waiters.delete(index);
    clearTimeout(w.timer);
    if (w.term === term) {
      this.onSettled('ok');
      w.resolve(result);
    } else {
      this.onSettled('lost');
      w.reject(lostError(index));
    }
  }

  /** A snapshot replaced the log up to `index`: those proposals' fate is unknown here. */
  rejectUpTo(index: number): void {
    for (const i of [...this.waiters.keys()]) {
      if (i <= index) this.rejectOne(i, lostError(i), 'lost');
    }
  }

  /**
   * Leadership was lost, or the node was removed. Entries above `commitIndex` may
   * still commit under a new leader, or not. Those up to it are committed and
   * keep waiting: applying them settles them (a term mismatch there still means lost).
   */
  rejectLostAbove(commitIndex: number): void {
    for (const i of [...this.waiters.keys()]) if (i > commitIndex) this.rejectOne(i, lostError(i), 'lost');
  }

  rejectAllShutdown(): void {
    for (const i of [...this.waiters.keys()]) {
      this.rejectOne(i, new RatifyError('SHUTTING_DOWN', 'the node is stopping; the proposal fate is unknown'), 'shutdown');
    }
  }

  private rejectOne(index: number, err: RatifyError, outcome: ProposalOutcome): void {
    const w = this.waiters.get(index);
    if (w === undefined) return;
    this.waiters.delete(index);
    clearTimeout(w.timer);
    this.onSettled(outcome);
    w.reject(err);
  }
}

function lostError(index: number): RatifyError {
  return new RatifyError('LEADERSHIP_LOST', `leadership changed before the entry at index ${index} was applied; its fate is unknown`);
}
