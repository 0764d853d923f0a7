// Consecutive call failures per (transaction, participant) on this leader, and
// when to report one as failing. Reports come at the threshold and then at
// every doubling (5, 10, 20, 40, ...), so a participant that stays down for
// days adds a logarithmic, not linear, number of entries to the log.
//
// Counting only: how many participants are failing is read from the
// replicated table (failingSince), so every leader reports the same.

export interface FailingReport {
  /** The message to replicate as the participant's lastError. */
  readonly error: string;
  /** When this run of failures began on this leader (ms). */
  readonly failingSince: number;
}

export interface FailingTracker {
  /** A report to replicate, or null if none is due. */
  failed(key: string, error: string): FailingReport | null;
  succeeded(key: string): void;
  /** The term ended: this leader no longer tracks anything. */
  clear(): void;
}

export function createFailingTracker(threshold: number, now: () => number): FailingTracker {
  const streaks = new Map<string, { failures: number; nextReportAt: number; sinceMs: number }>();
  return {
    failed(key, error) {
      const streak = streaks.get(key) ?? { failures: 0, nextReportAt: threshold, sinceMs: now() };
      streak.failures += 1;
      streaks.set(key, streak);
      if (streak.failures < streak.nextReportAt) return null;
      streak.nextReportAt = streak.failures * 2;
      return { error: `${streak.failures} calls failed in a row; last: ${error}`, failingSince: streak.sinceMs };
    },
    succeeded(key) {
      streaks.delete(key);
    },
    clear() {
      streaks.clear();
    },
  };
}
