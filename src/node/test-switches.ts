// Switches that break a guarantee on purpose, so a test can show that a checker catches
// the breakage (a checker that cannot fail proves nothing). They are honoured only when
// NODE_ENV is "test"; anywhere else a node ignores them and says so in its log.
//
//   RATIFY_TEST_STALE_FOLLOWER_READS=1   in --state-machine kv, a follower answers
//       GET /v1/kv/{key} from its own state without the ReadIndex round, so a follower
//       cut off from the leader serves stale values (test/linearizability/stale-read.test.ts).

export interface TestSwitches {
  readonly staleFollowerReads: boolean;
}

export const STALE_FOLLOWER_READS_ENV = 'RATIFY_TEST_STALE_FOLLOWER_READS';
export const NO_TEST_SWITCHES: TestSwitches = { staleFollowerReads: false };

/** The switches `env` turns on, and a warning for each one (honoured or ignored). */
export function readTestSwitches(env: NodeJS.ProcessEnv): { switches: TestSwitches; warnings: string[] } {
  if (env[STALE_FOLLOWER_READS_ENV] !== '1') return { switches: NO_TEST_SWITCHES, warnings: [] };
  if (env['NODE_ENV'] !== 'test') {
    return { switches: NO_TEST_SWITCHES, warnings: [`${STALE_FOLLOWER_READS_ENV} is ignored: test switches need NODE_ENV=test`] };
  }
  return { switches: { staleFollowerReads: true }, warnings: [`UNSAFE test switch ${STALE_FOLLOWER_READS_ENV}: followers answer KV reads without ReadIndex (stale reads)`] };
}
