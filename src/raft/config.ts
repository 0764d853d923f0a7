// Validation of RaftConfig. Every bound is checked up front and the message
// names the offending value and the limit it broke.
import { RatifyError } from '../errors.js';
import type { RaftConfig } from './types.js';

const MAX_NODE_ID_LENGTH = 128;

/** [min, max] for every numeric option. */
const RANGES = {
  electionTicks: [2, 100_000],
  heartbeatTicks: [1, 100_000],
  maxInflightAppends: [1, 1024],
  maxAppendBytes: [1, 64 * 1024 * 1024],
  snapshotChunkBytes: [1, 64 * 1024 * 1024],
  maxUncommittedEntries: [1, 10_000_000],
  snapshotCatchUpEntries: [0, 10_000_000],
} as const satisfies Partial<Record<keyof RaftConfig, readonly [number, number]>>;

function invalid(message: string): RatifyError {
  return new RatifyError('CONFIG_INVALID', message);
}

/** Throws RatifyError('CONFIG_INVALID') naming the value and the limit it broke. */
export function validateRaftConfig(c: RaftConfig): void {
  if (typeof c.id !== 'string' || c.id.length === 0 || c.id.length > MAX_NODE_ID_LENGTH) {
    throw invalid(`id (${JSON.stringify(c.id)}) must be a string of 1 to ${MAX_NODE_ID_LENGTH} characters`);
  }
  for (const [key, [min, max]] of Object.entries(RANGES)) {
    const value = c[key as keyof typeof RANGES];
    if (!Number.isInteger(value) || value < min || value > max) {
      throw invalid(`${key} (${String(value)}) must be an integer between ${min} and ${max}`);
    }
  }
  // Followers must hear a heartbeat well inside their election timeout, or they
  // campaign against a healthy leader.
  if (c.heartbeatTicks >= c.electionTicks) {
    throw invalid(`heartbeatTicks (${c.heartbeatTicks}) must be less than electionTicks (${c.electionTicks})`);
  }
  if (typeof c.preVote !== 'boolean') throw invalid(`preVote (${String(c.preVote)}) must be a boolean`);
  if (typeof c.checkQuorum !== 'boolean') throw invalid(`checkQuorum (${String(c.checkQuorum)}) must be a boolean`);
  if (typeof c.random !== 'function') throw invalid('random must be a function returning numbers in [0, 1)');
}
