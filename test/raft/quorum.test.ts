// Majority arithmetic against a naive model (etcd's quick-check tests of quorum/).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { committedIndex, hasQuorum, majority, SMALL_QUORUM_MAX, voteResult } from '../../src/raft/quorum.js';

const votersArb = fc.uniqueArray(fc.constantFrom<string>('a', 'b', 'c', 'd', 'e', 'f', 'g'), { minLength: 1, maxLength: 7 });

/** Naive: the largest index that at least a strict majority of voters has reached. */
function naiveCommitted(matches: readonly number[]): number {
  let best = 0;
  for (const candidate of matches) {
    if (matches.filter((m) => m >= candidate).length * 2 > matches.length) best = Math.max(best, candidate);
  }
  return best;
}

describe('quorum', () => {
  it('majority(n) is the smallest count that is more than half', () => {
    for (let n = 1; n <= 9; n++) {
      expect(majority(n) * 2).toBeGreaterThan(n);
      expect((majority(n) - 1) * 2).toBeLessThanOrEqual(n);
    }
  });

  it('committedIndex matches the naive model', () => {
    fc.assert(
      fc.property(votersArb, fc.array(fc.nat(20), { minLength: 7, maxLength: 7 }), (voters, raw) => {
        const match = new Map(voters.map((id, i) => [id, raw[i] ?? 0]));
        const got = committedIndex(voters, (id) => match.get(id) ?? 0);
        expect(got).toBe(naiveCommitted(voters.map((id) => match.get(id) ?? 0)));
      }),
    );
  });

  it('committedIndex matches the naive model on both sides of SMALL_QUORUM_MAX', () => {
    const ids = Array.from({ length: SMALL_QUORUM_MAX + 4 }, (_, i) => `n${i}`);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: ids.length }),
        fc.array(fc.nat(30), { minLength: ids.length, maxLength: ids.length }),
        (n, raw) => {
          const voters = ids.slice(0, n);
          const match = new Map(voters.map((id, i) => [id, raw[i] ?? 0]));
          const got = committedIndex(voters, (id) => match.get(id) ?? 0);
          expect(got).toBe(naiveCommitted(voters.map((id) => match.get(id) ?? 0)));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('voteResult matches the naive model: won iff granted is a majority, lost iff that is no longer possible', () => {
    fc.assert(
      fc.property(votersArb, fc.array(fc.constantFrom(true, false, undefined), { minLength: 7, maxLength: 7 }), (voters, raw) => {
        const votes = new Map<string, boolean>();
        voters.forEach((id, i) => {
          const v = raw[i];
          if (v !== undefined) votes.set(id, v);
        });
        votes.set('outsider', true); // votes from non-voters never count
        const granted = voters.filter((id) => votes.get(id) === true).length;
        const open = voters.filter((id) => !votes.has(id)).length;
        const expected = granted * 2 > voters.length ? 'won' : (granted + open) * 2 > voters.length ? 'pending' : 'lost';
        expect(voteResult(voters, votes)).toBe(expected);
      }),
    );
  });

  it('hasQuorum matches counting', () => {
    fc.assert(
      fc.property(votersArb, fc.func(fc.boolean()), (voters, ok) => {
        const count = voters.filter((id) => ok(id)).length;
        expect(hasQuorum(voters, ok)).toBe(count * 2 > voters.length);
      }),
    );
  });

  it('no voters: nothing commits and no election is won', () => {
    expect(committedIndex([], () => 5)).toBe(0);
    expect(voteResult([], new Map())).toBe('lost');
    expect(hasQuorum([], () => true)).toBe(false);
  });
});
