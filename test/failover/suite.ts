// The lifecycle every failover suite shares: one 3-node tx cluster per file,
// participants and watchers closed after each test (logs dumped when it failed),
// and the cluster brought back to full strength before the next test.
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { TestCluster } from '../helpers/cluster.js';
import { GatedParticipant, type GatedParticipantOptions } from './gated-participant.js';
import { ensureFullCluster, startTxCluster, ViewWatcher } from './harness.js';

export interface FailoverSuite {
  /** The running cluster; throws before beforeAll has started it. */
  readonly c: () => TestCluster;
  /** A gated participant that knows every node, closed after the test. */
  readonly participant: (name: string, o?: Partial<GatedParticipantOptions>) => Promise<GatedParticipant>;
  readonly twoParticipants: () => Promise<[GatedParticipant, GatedParticipant]>;
  /** Linearizability watch on `txId` from every node for the rest of the test. */
  readonly watch: (txId: string) => ViewWatcher;
  /** Runs after the test, newest first, before participants close. */
  readonly onCleanup: (f: () => Promise<void>) => void;
}

/** Registers the vitest hooks; call once at the top of a test file. */
export function useFailoverSuite(): FailoverSuite {
  let cluster: TestCluster | null = null;
  const participants: GatedParticipant[] = [];
  const cleanups: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    cluster = await startTxCluster();
  });

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail' && cluster !== null) {
      console.error(cluster.dumpLogs());
      for (const p of participants) console.error(`---- participant ${p.name} ----\n${p.logs.join('\n')}`);
    }
    for (const f of cleanups.splice(0).reverse()) await f().catch(() => undefined);
    await Promise.all(participants.splice(0).map((p) => p.close()));
    if (cluster !== null) await ensureFullCluster(cluster);
  });

  afterAll(async () => {
    await cluster?.cleanup();
  });

  const c = (): TestCluster => {
    if (cluster === null) throw new Error('cluster not started');
    return cluster;
  };
  const participant = async (name: string, o: Partial<GatedParticipantOptions> = {}): Promise<GatedParticipant> => {
    const p = await GatedParticipant.start({ name, coordinatorUrls: c().nodes.map((n) => n.url), ...o });
    participants.push(p);
    return p;
  };
  return {
    c,
    participant,
    twoParticipants: async () => [await participant('a'), await participant('b')],
    watch: (txId) => {
      const w = new ViewWatcher(c(), txId);
      cleanups.push(() => w.cancel());
      return w;
    },
    onCleanup: (f) => {
      cleanups.push(f);
    },
  };
}
