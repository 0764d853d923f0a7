// Checks what a restarting node read from disk before the core trusts it.
// A failure means the stored state is inconsistent: DATA_CORRUPT, refuse to start.
import { RatifyError } from '../errors.js';
import type { InitialState } from './types.js';

function corrupt(message: string): RatifyError {
  return new RatifyError('DATA_CORRUPT', `raft initial state: ${message}`);
}

export function validateInitialState(s: InitialState): void {
  const hs = s.hardState;
  const snapIndex = s.snapshot?.meta.index ?? 0;
  let prevTerm = s.snapshot?.meta.term ?? 0;
  s.entries.forEach((e, k) => {
    if (e.index !== snapIndex + 1 + k) throw corrupt(`entry ${e.index} at position ${k} is not contiguous after snapshot ${snapIndex}`);
    if (e.term < prevTerm) throw corrupt(`entry ${e.index} has term ${e.term} below the previous term ${prevTerm}`);
    prevTerm = e.term;
  });
  const lastIndex = snapIndex + s.entries.length;
  if (hs.term < prevTerm) throw corrupt(`hard state term ${hs.term} is below the last log term ${prevTerm}`);
  if (hs.commitIndex > lastIndex) throw corrupt(`commit index ${hs.commitIndex} is beyond the last index ${lastIndex}`);
  const commit = Math.max(hs.commitIndex, snapIndex);
  if (s.appliedIndex < snapIndex || s.appliedIndex > commit) {
    throw corrupt(`applied index ${s.appliedIndex} must be between the snapshot index ${snapIndex} and the commit index ${commit}`);
  }
  const ids = new Set(s.bootstrapMembers.map((m) => m.id));
  if (ids.size !== s.bootstrapMembers.length) throw corrupt('bootstrap members have duplicate ids');
}
