// Chaos in containers: three coordinator containers and two bank participants on a Docker
// network, a transfer workload, and real faults: docker kill, docker pause, a network
// disconnect, a full-cluster kill, a rolling restart. After each scenario the chaos
// library's invariants (scripts/chaos/invariants.ts: atomicity, conservation, nothing in
// doubt, API outcomes = participants' state, one transaction per idempotency key, no
// decision lost, nodes agree, one leader per term, and every recorded client call
// linearizable) must all hold.
//
// Needs a Docker engine and the image (scripts/docker/ensure-docker.sh, then
// scripts/docker/build-image.sh); skipped, saying why, when either is missing.
// TESTCONTAINERS_RYUK_DISABLED=true where the reaper image cannot be pulled; the suite
// removes its own containers and network, and .ci/run sweeps anything left by label.
import { describe, expect, it } from 'vitest';
import { NODE_IDS, runScenario, type ScenarioReport } from './chaos-harness.js';
import { waitForLeader, waitForRejoin, waitForStatus } from './cluster-status.js';
import { probeContainerSupport } from './container-support.js';
import { decidedOutcomes } from '../../scripts/chaos/collect.js';
import { sleep } from '../../scripts/chaos/http.js';

const support = await probeContainerSupport();
if (support.kind === 'unavailable') {
  console.warn(`[chaos.containers] container chaos suite ${support.required ? 'CANNOT RUN' : 'SKIPPED'}: ${support.reason}`);
} else {
  for (const w of support.warnings) console.warn(`[chaos.containers] warning: ${w}`);
}
const ready = support.kind === 'ready';
const image = support.kind === 'ready' ? support.image : '';
/** Per scenario: cluster start, workload, faults, settling; bounded, generous for 2 cores. */
const SCENARIO_TIMEOUT_MS = 8 * 60_000;
/** Longer than any election timeout the nodes use (default 300-600 ms), with margin. */
const PAUSE_MS = 4_000;

function expectClean(report: ScenarioReport): void {
  expect(report.verdict.failed, report.lines.join('\n')).toEqual([]);
  // Linearizable, and proven so: a pruned search ("unknown") is not a pass here.
  const linearizable = report.verdict.results.find((r) => r.name === 'linearizable');
  expect(linearizable?.linearizability?.verdict, report.lines.join('\n')).toBe('yes');
}

function others(id: string): string[] {
  return NODE_IDS.filter((n) => n !== id);
}

describe('container chaos', () => {
  if (support.kind === 'unavailable' && support.required) {
    it('has a Docker engine and the image (required under CI=true or RATIFY_CONTAINERS_REQUIRED=1)', () => {
      throw new Error(support.reason);
    });
  }

  describe.skipIf(!ready).sequential('scenarios', () => {
    it(
      'kill the leader (docker kill) and restart it: a new leader takes over, the old one rejoins',
      { timeout: SCENARIO_TIMEOUT_MS },
      async () => {
        const report = await runScenario('kill-leader', image, async ({ cluster, leader, log, progress }) => {
          await cluster.kill(leader.id);
          log(`killed leader ${leader.id}`);
          const next = await waitForLeader(cluster, { among: others(leader.id) });
          log(`new leader ${next.id} in term ${next.term}`);
          expect(next.id).not.toBe(leader.id);
          expect(next.term).toBeGreaterThan(leader.term);
          await progress(20);
          await cluster.restart(leader.id);
          const rejoined = await waitForRejoin(cluster, leader.id, next.term);
          log(`${leader.id} restarted: ${rejoined.role} in term ${rejoined.term}, leader ${String(rejoined.leaderId)}`);
        });
        expectClean(report);
      },
    );

    it('kill a follower and restart it: the cluster keeps deciding', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
      const report = await runScenario('kill-follower', image, async ({ cluster, leader, log, progress }) => {
        const follower = others(leader.id)[0]!;
        await cluster.kill(follower);
        log(`killed follower ${follower}`);
        await progress(20);
        await cluster.restart(follower);
        const rejoined = await waitForRejoin(cluster, follower, leader.term);
        log(`${follower} restarted: ${rejoined.role} in term ${rejoined.term}, leader ${String(rejoined.leaderId)}`);
      });
      expectClean(report);
    });

    it(
      'pause the leader past the election timeout: it steps down on unpause, no split brain',
      { timeout: SCENARIO_TIMEOUT_MS },
      async () => {
        const report = await runScenario('pause-leader', image, async ({ cluster, leader, log, progress }) => {
          await cluster.pause(leader.id);
          log(`paused leader ${leader.id}`);
          const next = await waitForLeader(cluster, { among: others(leader.id) });
          log(`new leader ${next.id} in term ${next.term} while ${leader.id} is frozen`);
          await progress();
          await sleep(PAUSE_MS);
          await cluster.unpause(leader.id);
          log(`unpaused ${leader.id}`);
          // Stepping down = learning the newer term: from then on it cannot act as leader of
          // the old one. (It may win a later election; that is a new term, not split brain.)
          const after = await waitForRejoin(cluster, leader.id, next.term);
          expect(after.term).toBeGreaterThan(leader.term);
          log(`${leader.id} stepped down: ${after.role} in term ${after.term}, leader ${String(after.leaderId)}`);
        });
        expectClean(report);
      },
    );

    it('disconnect the leader from the network and reconnect it: a real partition heals', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
      const report = await runScenario('partition-leader', image, async ({ cluster, leader, log, progress }) => {
        await cluster.disconnect(leader.id);
        log(`disconnected leader ${leader.id}`);
        const next = await waitForLeader(cluster, { among: others(leader.id) });
        log(`majority side elected ${next.id} in term ${next.term}`);
        expect(next.id).not.toBe(leader.id);
        await progress();
        await cluster.reconnect(leader.id);
        log(`reconnected ${leader.id}`);
        const after = await waitForRejoin(cluster, leader.id, next.term);
        expect(after.term).toBeGreaterThan(leader.term);
        log(`${leader.id} rejoined: ${after.role} in term ${after.term}, leader ${String(after.leaderId)}`);
      });
      expectClean(report);
    });

    it('kill all three and restart them: no decided outcome is lost', { timeout: SCENARIO_TIMEOUT_MS }, async () => {
      const report = await runScenario('kill-all', image, async ({ cluster, nodes, log, progress }) => {
        await progress(10);
        const decided = await decidedOutcomes(nodes, 0);
        if (decided === null) throw new Error('no node could list the decided transactions before the outage');
        log(`${decided.size} decided transactions recorded before the outage`);
        await Promise.all(NODE_IDS.map((id) => cluster.kill(id)));
        log('killed n1, n2, n3');
        await sleep(1_000);
        await Promise.all(NODE_IDS.map((id) => cluster.restart(id)));
        const leader = await waitForLeader(cluster);
        log(`restarted all; leader ${leader.id} in term ${leader.term}`);
        return { decidedBeforeOutage: decided };
      });
      expectClean(report);
      expect(report.verdict.notApplicable).toEqual([]);
    });

    it(
      'rolling restart (docker stop/start, one node at a time): the cluster keeps deciding',
      { timeout: SCENARIO_TIMEOUT_MS },
      async () => {
        const report = await runScenario('rolling-restart', image, async ({ cluster, log, progress }) => {
          for (const id of NODE_IDS) {
            const exitCode = await cluster.stopGracefully(id);
            // 137: SIGTERM did not stop the node within docker's grace period, SIGKILL did.
            log(`stopped ${id} (exit code ${exitCode}${exitCode === 137 ? ': did not stop on SIGTERM within 10 s' : ''})`);
            await cluster.restart(id);
            await waitForStatus(cluster, id, 'to know a leader', (s) => s.leaderId !== null);
            await waitForLeader(cluster);
            await progress(3);
            log(`${id} is back`);
          }
        });
        expectClean(report);
      },
    );
  });
});
