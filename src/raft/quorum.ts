// Majority arithmetic over a set of voters. Pure functions; the property test in
// test/raft/quorum.test.ts checks them against a naive model.
import type { NodeId } from './types.js';

/** Smallest number of voters that forms a majority of `n`. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * The highest index that a majority of `voters` has acknowledged.
 * With no voters nothing can commit, so the answer is 0.
 */
export function committedIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  // The majority-th largest value is held by at least a majority of voters.
  return matches[majority(voters.length) - 1] ?? 0;
}

export type VoteResult = 'won' | 'lost' | 'pending';

/** Outcome of an election given the answers so far (votes from non-voters are ignored). */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return 'lost';
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  const need = majority(voters.length);
  if (granted >= need) return 'won';
  if (voters.length - rejected < need) return 'lost';
  return 'pending';
}

/** True when a majority of `voters` satisfies `ok`. */
export function hasQuorum(voters: readonly NodeId[], ok: (id: NodeId) => boolean): boolean {
  if (voters.length === 0) return false;
  return voters.filter((id) => ok(id)).length >= majority(voters.length);
}
