// Many waiters on one cancellation without one EventTarget listener each, and a
// cancellation that is no EventTarget at all.
//
// Why: the leader's term signal has a waiter per participant call and per
// transaction phase in flight (hundreds at 64 concurrent transactions). An
// EventTarget listener each costs an allocation and a walk of the listener list
// on every add and remove; here a signal gets ONE listener and a Set of aborts.
//
// And a phase of a transaction (prepare, precommit) needs a cancellation of its
// own for its calls. An AbortController made per phase was about 4 % of what
// the leader promotes to the old generation at 64 concurrent transactions (an
// AbortSignal is an EventTarget with maps of its own, and it lives as long as
// the phase) and 1 % of its CPU (scripts/bench/results/README.md, "Fewer cuts
// per transaction"). A Cancel is a plain object that keeps its waiters itself.
export type Abort = (reason: Error) => void;

/** What a call can be cancelled by: the term's AbortSignal, or a phase's Cancel. */
export type CancelSignal = AbortSignal | Cancel;

/** A cancellation owned by its maker, who calls abort(); calls register with onAbort(). */
export class Cancel {
  private done = false;
  private why: unknown = undefined;
  /** An array, not a Set: a phase has a waiter or two per participant, and a Set's table is rebuilt as it shrinks. */
  private waiters: Abort[] | null = null;

  get aborted(): boolean {
    return this.done;
  }

  /** As AbortSignal's: what abort() was given (an AbortError when nothing). */
  get reason(): unknown {
    return this.why;
  }

  /** Runs every waiter registered (once); later calls do nothing. */
  abort(reason?: unknown): void {
    if (this.done) return;
    this.done = true;
    this.why = reason === undefined ? new DOMException('This operation was aborted', 'AbortError') : reason;
    const waiters = this.waiters;
    this.waiters = null;
    if (waiters === null) return;
    const err = abortReason(this);
    // A copy: a waiter may unregister itself (or another) as it runs.
    for (const a of waiters.slice()) a(err);
  }

  /** onAbort() for a Cancel: the waiters live on the object, no WeakMap entry. */
  register(abort: Abort): () => void {
    let list = this.waiters;
    if (list === null) {
      list = [];
      this.waiters = list;
    }
    const calls = list;
    calls.push(abort);
    return () => {
      const i = calls.indexOf(abort);
      if (i < 0) return;
      calls[i] = calls[calls.length - 1]!;
      calls.pop();
    };
  }

  /** How many aborts wait on it (tests). */
  get waiting(): number {
    return this.waiters?.length ?? 0;
  }
}

/** Per AbortSignal, the aborts of the calls in flight under it. */
const inFlightBySignal = new WeakMap<AbortSignal, Set<Abort>>();

/**
 * Runs `abort` when `signal` aborts (one listener per AbortSignal, whatever the
 * number of calls); returns the unregister. Check `signal.aborted` first: a
 * signal that has already aborted fires no more events.
 */
export function onAbort(signal: CancelSignal, abort: Abort): () => void {
  if (signal instanceof Cancel) return signal.register(abort);
  let set = inFlightBySignal.get(signal);
  if (set === undefined) {
    const calls = new Set<Abort>();
    set = calls;
    inFlightBySignal.set(signal, calls);
    signal.addEventListener(
      'abort',
      () => {
        const reason = abortReason(signal);
        for (const a of [...calls]) a(reason);
        calls.clear();
      },
      { once: true },
    );
  }
  const calls = set;
  calls.add(abort);
  return () => calls.delete(abort);
}

/** What a call cancelled by `signal` rejects with. */
export function abortReason(signal: CancelSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('the call was cancelled', 'AbortError');
}

/** How many aborts wait on `signal` (tests: a finished phase must leave none behind). */
export function waiting(signal: CancelSignal): number {
  if (signal instanceof Cancel) return signal.waiting;
  return inFlightBySignal.get(signal)?.size ?? 0;
}
