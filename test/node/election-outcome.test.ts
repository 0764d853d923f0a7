import { describe, expect, it } from 'vitest';
import { electionOutcome } from '../../src/node/election-outcome.js';
import type { SoftState } from '../../src/raft/types.js';
import { ParticipantLabels, OTHER_PARTICIPANTS } from '../../src/tx/participant-label.js';

const s = (role: SoftState['role'], term: number, leaderId: string | null = null): SoftState => ({ role, term, leaderId });

describe('elections won and lost', () => {
  it('a candidate that becomes leader won; one that falls back or times out into a new term lost', () => {
    expect(electionOutcome(s('candidate', 3), s('leader', 3, 'n1'))).toBe('won');
    expect(electionOutcome(s('candidate', 3), s('follower', 3, 'n2'))).toBe('lost');
    expect(electionOutcome(s('candidate', 3), s('follower', 4))).toBe('lost');
    expect(electionOutcome(s('candidate', 3), s('candidate', 4))).toBe('lost');
  });

  it('a one-node cluster wins without ever showing as candidate; pre-votes and followers are no campaign', () => {
    expect(electionOutcome(s('follower', 0), s('leader', 1, 'n1'))).toBe('won');
    expect(electionOutcome(s('precandidate', 2), s('follower', 2))).toBeNull();
    expect(electionOutcome(s('follower', 2), s('follower', 3, 'n2'))).toBeNull();
    expect(electionOutcome(s('leader', 3, 'n1'), s('leader', 3, 'n1'))).toBeNull();
    expect(electionOutcome(s('candidate', 3), s('candidate', 3))).toBeNull();
  });
});

describe('participant names as a bounded label', () => {
  it('keeps the first N distinct names and counts every later one as other', () => {
    const labels = new ParticipantLabels(2);
    expect(['a', 'b', 'a', 'c', 'b', 'd'].map((n) => labels.label(n))).toEqual([
      'a',
      'b',
      'a',
      OTHER_PARTICIPANTS,
      'b',
      OTHER_PARTICIPANTS,
    ]);
  });
});
