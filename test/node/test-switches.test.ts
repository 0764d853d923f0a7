// Test-only switches that break a guarantee on purpose are honoured only with
// NODE_ENV=test, and always announced in the log.
import { describe, expect, it } from 'vitest';
import { NO_TEST_SWITCHES, readTestSwitches, STALE_FOLLOWER_READS_ENV } from '../../src/node/test-switches.js';

describe('test switches', () => {
  it('are off by default', () => {
    expect(readTestSwitches({ NODE_ENV: 'test' })).toEqual({ switches: NO_TEST_SWITCHES, warnings: [] });
  });

  it('turn stale follower reads on only under NODE_ENV=test, with a warning', () => {
    const on = readTestSwitches({ NODE_ENV: 'test', [STALE_FOLLOWER_READS_ENV]: '1' });
    expect(on.switches.staleFollowerReads).toBe(true);
    expect(on.warnings).toEqual([
      `UNSAFE test switch ${STALE_FOLLOWER_READS_ENV}: followers answer KV reads without ReadIndex (stale reads)`,
    ]);
  });

  it('are ignored, saying so, anywhere else', () => {
    for (const env of [{ NODE_ENV: 'production' }, {}]) {
      const r = readTestSwitches({ ...env, [STALE_FOLLOWER_READS_ENV]: '1' });
      expect(r.switches.staleFollowerReads).toBe(false);
      expect(r.warnings).toEqual([`${STALE_FOLLOWER_READS_ENV} is ignored: test switches need NODE_ENV=test`]);
    }
  });
});
