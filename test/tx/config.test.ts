import { describe, expect, it } from 'vitest';
import { isRatifyError } from '../../src/errors.js';
import { txConfigDefaults, validateTxConfig, type TxConfig } from '../../src/tx/config.js';

function errorOf(c: TxConfig): string {
  try {
    validateTxConfig(c);
  } catch (e) {
    expect(isRatifyError(e, 'CONFIG_INVALID')).toBe(true);
    return (e as Error).message;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('validateTxConfig', () => {
  it('accepts the defaults', () => {
    expect(() => validateTxConfig(txConfigDefaults)).not.toThrow();
  });

  it('names the value and the limit of an out-of-range field', () => {
    expect(errorOf({ ...txConfigDefaults, maxParticipants: 0 })).toBe('maxParticipants (0) must be an integer between 1 and 1024');
    expect(errorOf({ ...txConfigDefaults, phase2BackoffBaseMs: 1.5 })).toMatch(/^phase2BackoffBaseMs \(1\.5\)/);
    expect(errorOf({ ...txConfigDefaults, retainFinishedMax: -1 })).toMatch(/retainFinishedMax \(-1\) must be an integer between 0 and/);
  });

  it('checks the relations between fields', () => {
    expect(errorOf({ ...txConfigDefaults, defaultTimeoutMs: 700_000 })).toBe(
      'defaultTimeoutMs (700000) cannot be larger than maxTimeoutMs (600000)',
    );
    expect(errorOf({ ...txConfigDefaults, phase2BackoffBaseMs: 20_000 })).toMatch(
      /phase2BackoffBaseMs \(20000\) cannot be larger than phase2BackoffCapMs \(10000\)/,
    );
    expect(errorOf({ ...txConfigDefaults, listLimitDefault: 5_000 })).toMatch(/listLimitDefault \(5000\)/);
    expect(errorOf({ ...txConfigDefaults, forwardTimeoutMs: 1_000 })).toMatch(/forwardTimeoutMs \(1000\) must be larger than/);
    expect(errorOf({ ...txConfigDefaults, participantHostAllowlist: [''] })).toMatch(/participantHostAllowlist entry/);
  });
});
