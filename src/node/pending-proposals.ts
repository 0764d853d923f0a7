// Local proposals waiting for their log index to be applied.
//
// A proposal is identified by (index, term) as the core assigned it. When the entry
// at that index is applied, the waiter resolves only if the terms match; another
// term at that index means a new leader overwrote it (LEADERSHIP_LOST).
import { RatifyError } from '../errors.js';

interface Waiter {
  readonly term: number;
  /** When it times out, on `now`'s clock. */
  readonly deadline: number;
  readonly timeoutMs: number;
  readonly resolve: (result: unknown) => void;
  readonly reject: (err: RatifyError) => void;
}

export type ProposalOutcome = 'ok' | 'timeout' | 'lost' | 'shutdown';

/**
 * WHY one timer for all waiters: a timer per proposal was a Timeout object and a
 * closure that lived as long as the proposal (so the leader promoted them to the
 * old generation under load), plus a setTimeout and a clearTimeout on every
 * entry, for timeouts that almost never fire. The one timer is armed for the
 * earliest deadline it knows of; when it fires it times out every waiter past
 * its deadline and arms itself for the next (scripts/bench/results/README.md,
 * "Fewer cuts per transaction").
 */
export class PendingProposals {
  private readonly waiters = new Map<number, Waiter>();
  private timer: NodeJS.Timeout | null = null;
  /** The deadline `timer` is armed for; Infinity when none is. */
  private armedFor = Number.POSITIVE_INFINITY;

  constructor(
    private readonly limit: number,
    private readonly onSettled: (outcome: ProposalOutcome) => void = () => {},
    /** A monotonic clock in ms (tests pass their own). */
    private readonly now: () => number = () => performance.now(),
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
    const deadline = this.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      this.waiters.set(index, { term, deadline, timeoutMs, resolve, reject });
      if (deadline < this.armedFor) this.arm(deadline);
    });
  }

  /** The entry (index, term) was applied with `result`. */
  applied(index: number, term: number, result: unknown): void {
    const w = this.waiters.get(index);
    if (w === undefined) return;
    this.waiters.delete(index);
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
    this.disarm();
  }

  private rejectOne(index: number, err: RatifyError, outcome: ProposalOutcome): void {
    const w = this.waiters.get(index);
    if (w === undefined) return;
    this.waiters.delete(index);
    this.onSettled(outcome);
    w.reject(err);
  }

  private arm(deadline: number): void {
    this.disarm();
    this.armedFor = deadline;
    // At least 1 ms: a timer that fires a little early finds nothing due and arms again.
    this.timer = setTimeout(() => this.expire(), Math.max(1, Math.ceil(deadline - this.now())));
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.armedFor = Number.POSITIVE_INFINITY;
  }

  /** Times out every waiter past its deadline, in index order, and arms for the earliest left. */
  private expire(): void {
    this.timer = null;
    this.armedFor = Number.POSITIVE_INFINITY;
    const now = this.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [index, w] of this.waiters) {
      if (w.deadline > now) {
        next = Math.min(next, w.deadline);
        continue;
      }
      this.waiters.delete(index);
      this.onSettled('timeout');
      w.reject(new RatifyError('TIMEOUT', `proposal at index ${index} was not applied within ${w.timeoutMs} ms; its fate is unknown`));
    }
    if (next !== Number.POSITIVE_INFINITY) this.arm(next);
  }
}

function lostError(index: number): RatifyError {
  return new RatifyError('LEADERSHIP_LOST', `leadership changed before the entry at index ${index} was applied; its fate is unknown`);
}
