// Retry pacing for phase 2, and a sleep that a deposed leader can cut short.
import { onAbort, type CancelSignal } from '../util/abort-registry.js';

/**
 * Smallest delay returned. Full jitter draws from [0, ceiling), and a 0 ms
 * sleep against a participant that refuses connections at once would retry at
 * event-loop speed; 1 ms caps such a loop at about a thousand calls a second
 * while leaving the distribution (and its spreading effect) intact.
 */
export const BACKOFF_FLOOR_MS = 1;

/**
 * Exponential backoff with full jitter (AWS architecture blog): a uniform draw
 * from [0, min(capMs, baseMs * 2^attempt)), never below BACKOFF_FLOOR_MS. The
 * jitter spreads the retries of many transactions to one participant, so a
 * participant coming back is not met by all of them at the same instant.
 * `attempt` counts from 0; `random` returns values in [0, 1).
 */
export function backoffDelayMs(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  const ceilingMs = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return Math.max(BACKOFF_FLOOR_MS, Math.floor(random() * ceilingMs));
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts; the timer keeps no process alive. */
export function sleep(ms: number, signal: CancelSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      unregister();
      resolve(); // aborted or not: the caller re-checks its epoch
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    const unregister = onAbort(signal, done);
  });
}
