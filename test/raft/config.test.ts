// RaftConfig and InitialState validation: every bound is checked, and the
// message names the value and the limit.
import { describe, expect, it } from 'vitest';
import { isRatifyError } from '../../src/errors.js';
import { RaftCore, validateRaftConfig } from '../../src/raft/raft.js';
import type { RaftConfig } from '../../src/raft/types.js';
import { entriesWithTerms, initialState, testConfig, voters } from './helpers.js';

function configError(c: RaftConfig): string {
  try {
    validateRaftConfig(c);
  } catch (e) {
    expect(isRatifyError(e, 'CONFIG_INVALID')).toBe(true);
    return (e as Error).message;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('validateRaftConfig', () => {
  it('accepts the test defaults', () => {
    expect(() => validateRaftConfig(testConfig('a'))).not.toThrow();
  });

  it.each([
    [{ maxInflightAppends: 0 }, 'maxInflightAppends (0) must be an integer between 1 and 1024'],
    [{ electionTicks: 1 }, 'electionTicks (1) must be an integer between 2 and 100000'],
    [{ maxAppendBytes: 1.5 }, 'maxAppendBytes (1.5) must be an integer between 1 and 67108864'],
    [{ snapshotChunkBytes: 0 }, 'snapshotChunkBytes (0) must be an integer between 1 and 67108864'],
    [{ maxUncommittedEntries: -1 }, 'maxUncommittedEntries (-1) must be an integer between 1 and 10000000'],
    [{ heartbeatTicks: 10, electionTicks: 10 }, 'heartbeatTicks (10) must be less than electionTicks (10)'],
    [{ id: '' }, 'id ("") must be a string of 1 to 128 characters'],
  ] as const)('rejects %j', (override, message) => {
    expect(configError({ ...testConfig('a'), ...override })).toBe(message);
  });

  it('the core validates its config and its initial state', () => {
    expect(() => new RaftCore({ ...testConfig('a'), heartbeatTicks: 0 }, initialState(voters('a')))).toThrow(/heartbeatTicks \(0\)/);
    const gap = initialState(voters('a'), { entries: [...entriesWithTerms([1]), ...entriesWithTerms([1], 3)] });
    expect(() => new RaftCore(testConfig('a'), gap)).toThrow(/not contiguous/);
    const commitBeyond = initialState(voters('a'), { hardState: { term: 1, vote: null, commitIndex: 5 }, entries: entriesWithTerms([1]) });
    expect(() => new RaftCore(testConfig('a'), commitBeyond)).toThrow(/commit index 5 is beyond the last index 1/);
    const termBelow = initialState(voters('a'), { hardState: { term: 1, vote: null, commitIndex: 0 }, entries: entriesWithTerms([2]) });
    expect(() => new RaftCore(testConfig('a'), termBelow)).toThrow(/term 1 is below the last log term 2/);
  });
});
