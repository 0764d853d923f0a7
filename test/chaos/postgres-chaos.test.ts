// PostgreSQL participants under node kills: the chaos runner (scripts/chaos) with
// `--participants postgres --kill-participants --faults kill`. Three `ratify node`
// processes, two databases of a throwaway PostgreSQL server, each served by a
// pg-bank-service process through the PostgreSQL participant adapter (PREPARE
// TRANSACTION). The leader (or a follower) is SIGKILLed every few seconds, and the
// participant processes themselves are SIGKILLed and restarted. Afterwards, read from
// the databases themselves (scripts/chaos/postgres-banks.ts): the sum of balances is
// unchanged, pg_prepared_xacts holds nothing, every transfer the API reported committed
// is in both databases and every one it reported aborted in neither; plus the runner's
// other invariants. Skips without PostgreSQL (fails under CI=true).
//
// RATIFY_CHAOS_SEEDS=1,2 runs other seeds; the report of each is printed.
import { afterAll, expect, it } from 'vitest';
import { DEFAULT_OPTIONS, type ChaosOptions } from '../../scripts/chaos/options.js';
import { createProgress } from '../../scripts/chaos/progress.js';
import { formatReport, type ChaosReport } from '../../scripts/chaos/report.js';
import { runChaos } from '../../scripts/chaos/runner.js';
import { seedListKnob } from '../helpers/env-knob.js';
import { describePostgres } from '../helpers/postgres.js';

const SEEDS = seedListKnob('RATIFY_CHAOS_SEEDS', [20261204]);
const DURATION_S = 35;
const RUN_TIMEOUT_MS = 6 * 60_000;

const abandon = new AbortController();
const running: Promise<unknown>[] = [];
afterAll(async () => {
  abandon.abort();
  await Promise.allSettled(running);
}, 120_000);

describePostgres('PostgreSQL participants under leader and participant SIGKILLs', () => {
  for (const seed of SEEDS) {
    it(
      `seed ${seed}: money conserved, nothing prepared, every transfer in both databases or neither`,
      { timeout: RUN_TIMEOUT_MS },
      async () => {
        const options: ChaosOptions = {
          ...DEFAULT_OPTIONS,
          target: 'local',
          seed,
          durationS: DURATION_S,
          faults: ['kill'],
          participants: 'postgres',
          killParticipants: true,
          concurrency: 6,
          // More accounts than the LevelDB run: a prepared transaction holds its rows until
          // the decision reaches it, and with few hot rows most transfers would only wait.
          accountsPerBank: 16,
          clientRetries: 2,
          resultsDir: null,
          dataDir: null,
        };
        const run = runChaos(options, {
          abort: abandon.signal,
          progress: createProgress(process.stderr, 'lines'),
          command: `RATIFY_CHAOS_SEEDS=${seed} vitest run test/chaos/postgres-chaos.test.ts`,
        });
        running.push(run);
        const report: ChaosReport = await run;
        const text = formatReport(report);
        console.log(text);
        expect(report.transactions.committed, text).toBeGreaterThan(0);
        expect(report.transactions.aborted, text).toBeGreaterThan(0);
        expect(report.faults.ofLeader, text).toBeGreaterThan(0);
        expect(report.faults.participantKills, text).toBeGreaterThan(0);
        expect(report.faults.failed, text).toBe(0);
        expect(report.outage.ran, text).toBe(true);
        expect(
          report.invariants.filter((i) => !i.pass).map((i) => `${i.name}: ${i.violations.slice(0, 5).join('; ')}`),
          text,
        ).toEqual([]);
        expect(report.ok, text).toBe(true);
      },
    );
  }
});
