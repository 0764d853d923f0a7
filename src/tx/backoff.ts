// Retry pacing for phase 2, and a sleep that a deposed leader can cut short.
import { setTimeout as delay } from 'node:timers/promises';

/**
 * Exponential backoff with full jitter (AWS architecture blog), above a floor
 * of `baseMs`: the floor bounds the call rate of every retry loop even when the
 * participant refuses connections instantly; the jitter spreads the retries of
 * many transactions to one participant.
 */
export function backoffDelayMs(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return baseMs + Math.floor(random() * Math.max(0, ceiling - baseMs));
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  try {
    await delay(ms, undefined, { signal, ref: false });
  } catch {
    // aborted: the caller re-checks its epoch
  }
}
