// Bounded polling for liveness conditions. Tests never assert on timing: they
// wait generously for a condition and fail with a description (and the last
// value seen) when it never holds.

export interface WaitOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  /** Shown in the failure message. */
  readonly what?: string;
}

/**
 * Polls `probe` until it returns a value other than undefined/false, and returns it.
 * Exceptions from `probe` count as "not yet" (a node may be down or restarting).
 */
export async function waitUntil<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'condition'} (last: ${detail})`);
    }
    await sleep(intervalMs);
  }
}

/**
 * Repeats `check` (a block of expect() calls) until it passes; past the bound the
 * last assertion error is thrown as it is, so the test shows what was expected.
 */
export async function eventually(check: () => void, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(20);
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
