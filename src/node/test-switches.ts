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
//   RATIFY_TEST_LOSE_APPLY=1   the node silently loses the effect of the first normal
//       entry it applies: it applies it, answers its proposer, then puts its state back
//       as it was, as a lost disk write or a flipped bit would leave a replica. Its state
//       then differs from the other replicas' (test/cli/check.test.ts: the consistency
//       check must name it).
import type { AppliedEntry, StateMachine } from '../raft/state-machine.js';

export interface TestSwitches {
  readonly staleFollowerReads: boolean;
  readonly loseApply: boolean;
  /** Log writes wait while this file exists (stall-switch.ts); null: off. */
  readonly stallStorageFile: string | null;
}

export const STALE_FOLLOWER_READS_ENV = 'RATIFY_TEST_STALE_FOLLOWER_READS';
export const LOSE_APPLY_ENV = 'RATIFY_TEST_LOSE_APPLY';
export const STALL_STORAGE_FILE_ENV = 'RATIFY_TEST_STALL_STORAGE_FILE';
export const NO_TEST_SWITCHES: TestSwitches = { staleFollowerReads: false, loseApply: false, stallStorageFile: null };

/** The switches that are on or off ("1"). */
const SWITCHES = [
  { env: STALE_FOLLOWER_READS_ENV, key: 'staleFollowerReads', what: 'followers answer KV reads without ReadIndex (stale reads)' },
  { env: LOSE_APPLY_ENV, key: 'loseApply', what: 'this node loses the effect of the first entry it applies (its state diverges)' },
] as const satisfies readonly { env: string; key: keyof TestSwitches; what: string }[];

/** The switches `env` turns on, and a warning for each one (honoured or ignored). */
export function readTestSwitches(env: NodeJS.ProcessEnv): { switches: TestSwitches; warnings: string[] } {
  const on = SWITCHES.filter((s) => env[s.env] === '1');
  const stallFile = env[STALL_STORAGE_FILE_ENV] ?? '';
  const asked = [...on.map((s) => s.env), ...(stallFile !== '' ? [STALL_STORAGE_FILE_ENV] : [])];
  if (asked.length === 0) return { switches: NO_TEST_SWITCHES, warnings: [] };
  if (env['NODE_ENV'] !== 'test')
    return { switches: NO_TEST_SWITCHES, warnings: asked.map((name) => `${name} is ignored: test switches need NODE_ENV=test`) };
  const switches = { ...NO_TEST_SWITCHES, stallStorageFile: stallFile === '' ? null : stallFile };
  for (const s of on) switches[s.key] = true;
  const warnings = on.map((s) => `UNSAFE test switch ${s.env}: ${s.what}`);
  if (stallFile !== '') warnings.push(`test switch ${STALL_STORAGE_FILE_ENV}: log writes stall while ${stallFile} exists`);
  return { switches, warnings };
}

/** RATIFY_TEST_LOSE_APPLY: `sm`, except that the first normal entry's effect is rolled back after it is applied. */
export function loseFirstApply(sm: StateMachine): StateMachine {
  let lost = false;
  return {
    apply(entry: AppliedEntry): unknown {
      if (lost) return sm.apply(entry);
      lost = true;
      const before = sm.snapshot();
      const result = sm.apply(entry);
      sm.restore(before);
      return result;
    },
    snapshot: () => sm.snapshot(),
    restore: (data) => sm.restore(data),
    ...(sm.checkSnapshot === undefined ? {} : { checkSnapshot: (data: Uint8Array) => sm.checkSnapshot!(data) }),
  };
}
