// One chaos scenario, start to finish: a fresh cluster in containers, a transfer workload,
// the scenario's faults, then recovery, settling, evidence and the invariants. The scenario
// itself supplies only its faults (and what it asserts about leadership along the way).
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BANKS, readBank, setupBank, transferShape } from './bank-adapter.js';
import { LeaderObserver, waitForLeader, type Leader } from './cluster-status.js';
import { ContainerCluster } from './container-cluster.js';
import { collectCoordinator, resendUnresolved, waitUntilSettled } from './evidence.js';
import { checkInvariants, summarize, type BankState, type Outcome, type Violation } from './invariants.js';
import { TransferWorkload } from './transfer-workload.js';

export const NODE_IDS = ['n1', 'n2', 'n3'] as const;
const TX_TIMEOUT_MS = 5_000;
/** Bounds on the liveness waits: generous, because a 2-core CI box is shared. */
const PROGRESS_TIMEOUT_MS = 90_000;
const SETTLE_TIMEOUT_MS = 120_000;

export interface ScenarioContext {
  readonly cluster: ContainerCluster;
  readonly workload: TransferWorkload;
  /** The leader when the workload had made progress, just before the faults. */
  readonly leader: Leader;
  log(message: string): void;
  /** Waits for `more` further committed transfers: the cluster makes progress. */
  progress(more?: number): Promise<void>;
}

export interface FaultResult {
  /** Outcomes read before a full-cluster outage, to be compared after it. */
  readonly decidedBeforeOutage?: ReadonlyMap<string, Outcome>;
}

export interface ScenarioReport {
  readonly violations: Violation[];
  readonly splitBrains: Array<{ term: number; leaders: string[] }>;
  readonly lines: string[];
}

export async function runScenario(
  name: string,
  image: string,
  faults: (ctx: ScenarioContext) => Promise<FaultResult | void>,
): Promise<ScenarioReport> {
  const runId = randomBytes(3).toString('hex');
  const started = Date.now();
  const lines: string[] = [];
  // Collected and printed once at the end (vitest prints a header per console call).
  const log = (m: string) => {
    lines.push(`[chaos ${name} ${((Date.now() - started) / 1000).toFixed(1)}s] ${m}`);
  };
  const cluster = await ContainerCluster.start({
    image,
    runId,
    nodeIds: NODE_IDS,
    banks: BANKS,
    nodeEnv: { RATIFY_LOG_LEVEL: 'info' },
  });
  let observer: LeaderObserver | null = null;
  let workload: TransferWorkload | null = null;
  let failed = true;
  try {
    log(`cluster up (run ${runId})`);
    const first = await waitForLeader(cluster);
    log(`leader ${first.id} in term ${first.term}`);
    for (const b of BANKS) await setupBank(cluster.bankUrl(b.name), b.name);
    const readBanks = () => Promise.all(BANKS.map((b) => readBank(cluster.bankUrl(b.name), b.name)));
    const banksBefore = await readBanks();
    observer = new LeaderObserver(cluster).start();
    const shape = transferShape((bank) => cluster.bankNetworkUrl(bank));
    const wl = new TransferWorkload({
      nodeUrls: () => NODE_IDS.map((id) => cluster.nodeUrl(id)),
      shape,
      keyPrefix: `${name}-${runId}`,
      workers: 3,
      maxTransfers: 5_000,
      txTimeoutMs: TX_TIMEOUT_MS,
      attemptTimeoutMs: TX_TIMEOUT_MS + 3_000,
      transferDeadlineMs: 60_000,
      pauseMs: 20,
      seed: parseInt(runId, 16),
    }).start();
    workload = wl;
    const progress = async (more = 10) => wl.waitForCommits(more, PROGRESS_TIMEOUT_MS);
    await progress();
    const leader = await waitForLeader(cluster);
    log(`workload running (${wl.summary()}); faults start, leader ${leader.id} term ${leader.term}`);

    const result = (await faults({ cluster, workload: wl, leader, log, progress })) ?? {};

    log('faults over; waiting for progress');
    await waitForLeader(cluster);
    await progress();
    await wl.stop();
    await observer.stop();
    log(`workload stopped: ${wl.summary()}`);
    await resendUnresolved(cluster, wl.transfers, shape, TX_TIMEOUT_MS);
    await waitUntilSettled(cluster, readBanks, SETTLE_TIMEOUT_MS);
    const banksAfter = await readBanks();
    const knownIds = new Set<string>([
      ...wl.transfers.flatMap((t) => [...t.txIdsSeen]),
      ...banksAfter.flatMap((b) => (b.records ?? []).map((r) => r.txId)),
    ]);
    const { coordinator, outcomesByNode } = await collectCoordinator(cluster, knownIds);
    const violations = checkInvariants({
      transfers: wl.transfers,
      coordinator,
      banksBefore,
      banksAfter,
      outcomesByNode,
      ...(result.decidedBeforeOutage === undefined ? {} : { decidedBeforeOutage: result.decidedBeforeOutage }),
    });
    const splitBrains = observer.splitBrains();
    log(`settled: ${wl.summary()}; ${coordinator.size} transactions checked; money ${total(banksBefore)} -> ${total(banksAfter)}`);
    log(`leaders by term: ${observer.history().map((h) => `${h.term}:${h.leaders.join('+')}`).join(' ')} (${observer.samples} samples)`);
    for (const l of summarize(violations)) log(l);
    log(splitBrains.length === 0 ? '  ok    no two leaders in one term' : `  FAIL  split brain: ${JSON.stringify(splitBrains)}`);
    failed = violations.length > 0 || splitBrains.length > 0;
    return { violations, splitBrains, lines };
  } finally {
    await workload?.stop().catch(() => undefined);
    await observer?.stop().catch(() => undefined);
    // RATIFY_CHAOS_KEEP_LOGS=1 keeps the logs of passing scenarios too.
    if (failed || process.env['RATIFY_CHAOS_KEEP_LOGS'] === '1') {
      const dir = join(tmpdir(), `ratify-chaos-${name}-${runId}`);
      const files = await cluster.saveLogs(dir).catch((err: unknown) => [String(err)]);
      log(`container logs kept in ${dir}: ${files.length} files`);
    }
    await cluster.stop();
    console.log(lines.join('\n'));
  }
}

function total(banks: readonly BankState[]): number {
  return banks.reduce((s, b) => s + [...b.accounts.values()].reduce((t, a) => t + a.balance, 0), 0);
}
