// Many waiters on one AbortSignal without one EventTarget listener each.
//
// Why: the leader's term signal has a waiter per participant call and per
// transaction phase in flight (hundreds at 64 concurrent transactions). An
// EventTarget listener each costs an allocation and a walk of the listener list
// on every add and remove; here a signal gets ONE listener and a Set of aborts.
export type Abort = (reason: Error) => void;

/** Per signal, the aborts of the calls in flight under it. */
const inFlightBySignal = new WeakMap<AbortSignal, Set<Abort>>();

/**
 * Runs `abort` when `signal` aborts (one listener per signal, whatever the number
 * of calls); returns the unregister. Check `signal.aborted` first: a signal that
 * has already aborted fires no more events.
 */
export function onAbort(signal: AbortSignal, abort: Abort): () => void {
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
export function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('the call was cancelled', 'AbortError');
}

/** How many aborts wait on `signal` (tests: a finished phase must leave none behind). */
export function waiting(signal: AbortSignal): number {
  return inFlightBySignal.get(signal)?.size ?? 0;
}
