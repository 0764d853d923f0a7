// Switches that break a guarantee on purpose, so a test can show that a checker catches
// the breakage (a checker that cannot fail proves nothing). They are honoured only when
// NODE_ENV is "test"; anywhere else a node ignores them and says so in its log.
//
//   RATIFY_TEST_STALE_FOLLOWER_READS=1   in --state-machine kv, a follower answers
//       GET /v1/kv/{key} from its own state without the ReadIndex round, so a follower
//       cut off from the leader serves stale values (test/linearizability/stale-read.test.ts).
//   RATIFY_TEST_STALL_STORAGE_FILE=path  while that file exists, every log write waits
//       (never failing), so the Raft loop and storage stop making progress: a wedged node
//       that /healthz must report (test/node/healthz-wedge.test.ts).

export interface TestSwitches {
  readonly staleFollowerReads: boolean;
  /** Log writes wait while this file exists (stall-switch.ts); null: off. */
  readonly stallStorageFile: string | null;
}

export const STALE_FOLLOWER_READS_ENV = 'RATIFY_TEST_STALE_FOLLOWER_READS';
export const STALL_STORAGE_FILE_ENV = 'RATIFY_TEST_STALL_STORAGE_FILE';
export const NO_TEST_SWITCHES: TestSwitches = { staleFollowerReads: false, stallStorageFile: null };

/** The switches `env` turns on, and a warning for each one (honoured or ignored). */
export function readTestSwitches(env: NodeJS.ProcessEnv): { switches: TestSwitches; warnings: string[] } {
  const stale = env[STALE_FOLLOWER_READS_ENV] === '1';
  const stallFile = env[STALL_STORAGE_FILE_ENV] ?? '';
  const asked = [...(stale ? [STALE_FOLLOWER_READS_ENV] : []), ...(stallFile !== '' ? [STALL_STORAGE_FILE_ENV] : [])];
  if (asked.length === 0) return { switches: NO_TEST_SWITCHES, warnings: [] };
  if (env['NODE_ENV'] !== 'test') {
    return { switches: NO_TEST_SWITCHES, warnings: asked.map((name) => `${name} is ignored: test switches need NODE_ENV=test`) };
  }
  const warnings: string[] = [];
  if (stale) warnings.push(`UNSAFE test switch ${STALE_FOLLOWER_READS_ENV}: followers answer KV reads without ReadIndex (stale reads)`);
  if (stallFile !== '') warnings.push(`test switch ${STALL_STORAGE_FILE_ENV}: log writes stall while ${stallFile} exists`);
  return { switches: { staleFollowerReads: stale, stallStorageFile: stallFile === '' ? null : stallFile }, warnings };
}
