// Consecutive call failures per (transaction, participant) on this leader, and
// when to report one as failing. Reports come at the threshold and then at
// every doubling (5, 10, 20, 40, ...), so a participant that stays down for
// days adds a logarithmic, not linear, number of entries to the log.

export interface FailingTracker {
  /** Returns the message to replicate as the participant's lastError, or null if no report is due. */
  failed(key: string, error: string): string | null;
  succeeded(key: string): void;
  /** The term ended: this leader no longer tracks anything. */
  clear(): void;
  failingCount(): number;
}

export function createFailingTracker(threshold: number, onCountChange: (failing: number) => void): FailingTracker {
  const streaks = new Map<string, { failures: number; nextReportAt: number }>();
  let failing = 0;
  const setFailing = (n: number): void => {
    if (n !== failing) onCountChange((failing = n));
  };
  return {
    failed(key, error) {
      const streak = streaks.get(key) ?? { failures: 0, nextReportAt: threshold };
      streak.failures += 1;
      streaks.set(key, streak);
      if (streak.failures === threshold) setFailing(failing + 1);
      if (streak.failures < streak.nextReportAt) return null;
      streak.nextReportAt = streak.failures * 2;
      return `${streak.failures} calls failed in a row; last: ${error}`;
    },
    succeeded(key) {
      const streak = streaks.get(key);
      if (streak === undefined) return;
      streaks.delete(key);
      if (streak.failures >= threshold) setFailing(failing - 1);
    },
    clear() {
      streaks.clear();
      setFailing(0);
    },
    failingCount: () => failing,
  };
}
