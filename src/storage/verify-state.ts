// Integrity checks on a loaded state, shared by both storage implementations.
// Record-level checks (checksums, decoding) happen in the LevelDB reader; these
// are the log-level invariants that save-plan.ts asserted before writing.
import type { StoredState } from './raft-storage.js';
import { dataCorrupt } from './record.js';
import { entryKey } from './level-keys.js';
import { hardStateProblem, type LogBounds } from './save-plan.js';

/** Returns the log's bounds, or throws DATA_CORRUPT naming the index and the failed check. */
export function verifyStoredState(state: StoredState): LogBounds {
  const snapshotIndex = state.snapshot?.meta.index ?? 0;
  const snapshotTerm = state.snapshot?.meta.term ?? 0;
  let lastIndex = snapshotIndex;
  let lastTerm = snapshotTerm;
  for (const entry of state.entries) {
    const where = `${entryKey(entry.index)} (index ${entry.index})`;
    if (entry.index !== lastIndex + 1) {
      const check =
        lastIndex === snapshotIndex
          ? `first entry must be at index ${snapshotIndex + 1} (snapshot index + 1)`
          : `gap in the log: expected index ${lastIndex + 1} after ${lastIndex}`;
      throw dataCorrupt(where, check);
    }
    if (entry.term < lastTerm) {
      throw dataCorrupt(where, `term ${entry.term} decreases (previous term ${lastTerm})`);
    }
    lastIndex = entry.index;
    lastTerm = entry.term;
  }
  const bounds = { snapshotIndex, snapshotTerm, lastIndex, lastTerm };
  const problem = hardStateProblem(state.hardState, bounds);
  if (problem !== null) throw dataCorrupt('hard state', problem);
  return bounds;
}
