// One chaos scenario, start to finish: a fresh cluster in containers, the chaos library's
// transfer workload (scripts/chaos; one-shot and interactive transfers, aborts racing
// commits, and readers of views on every node, all recorded for the linearizability
// check), the scenario's faults, then recovery, settling, evidence and the canonical
// invariants, linearizability included. The scenario itself supplies only its faults
// (and what it asserts about leadership along the way).
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BankBook } from '../../scripts/chaos/bank.js';
import { LeaderTracker } from '../../scripts/chaos/cluster-view.js';
import { listEveryNode, rereadOutcomes, waitQuiescent } from '../../scripts/chaos/collect.js';
import { type BankSnapshot, type ChaosEvidence, IN_DOUBT_STATES, type Outcome } from '../../scripts/chaos/evidence.js';
import { Prng } from '../../src/util/random.js';
import type { NodeEndpoint } from '../../scripts/chaos/target.js';
import { TransferWorkload } from '../../scripts/chaos/workload.js';
import { waitFor, waitForLeader, type Leader } from './cluster-status.js';
import { fetchParticipantRecords } from './bank-records.js';
import { BANK_RECORDS_TOKEN, ContainerCluster, type BankSpec } from './container-cluster.js';
import { scenarioVerdict, verdictLines, type ScenarioVerdict } from './scenario-verdict.js';

export const NODE_IDS = ['n1', 'n2', 'n3'] as const;
const BANKS: readonly BankSpec[] = [
  { name: 'A', alias: 'bank-a', port: 8001 },
  { name: 'B', alias: 'bank-b', port: 8002 },
];
/** The example bank enlists at {bank}/ratify. */
const PARTICIPANT_PREFIX = '/ratify';
/** Small against the largest transfer, so insufficient funds now and then abort one: aborts happen too. */
const OPENING_BALANCE = 100;
const AMOUNT_MAX = 20;
const TX_TIMEOUT_MS = 5_000;
/** As the chaos runner's defaults: some transfers create then commit, some race an abort, two loops read views. */
const INTERACTIVE_SHARE = 0.3;
const ABORT_SHARE = 0.3;
const READERS = 2;
/** Bounds on the liveness waits: generous, because a 2-core CI box is shared. */
const PROGRESS_TIMEOUT_MS = 90_000;
const RESEND_TIMEOUT_MS = 60_000;
const SETTLE_TIMEOUT_MS = 120_000;
/** This run's transactions: the cluster is fresh, so all of them. */
const SINCE_MS = 0;

export interface ScenarioContext {
  readonly cluster: ContainerCluster;
  /** The nodes as the chaos library addresses them (host ports stay fixed across restarts). */
  readonly nodes: readonly NodeEndpoint[];
  /** The leader when the workload had made progress, just before the faults. */
  readonly leader: Leader;
  log(message: string): void;
  /** Waits for `more` further committed transfers: the cluster makes progress. */
  progress(more?: number): Promise<void>;
}

export interface FaultResult {
  /** Outcomes read before a full-cluster outage; read again at the end and compared. */
  readonly decidedBeforeOutage?: ReadonlyMap<string, Outcome>;
}

export interface ScenarioReport {
  readonly verdict: ScenarioVerdict;
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
  const cluster = await ContainerCluster.start({ image, runId, nodeIds: NODE_IDS, banks: BANKS, nodeEnv: { RATIFY_LOG_LEVEL: 'info' } });
  let tracker: LeaderTracker | null = null;
  let workload: TransferWorkload | null = null;
  let failed = true;
  try {
    log(`cluster up (run ${runId})`);
    const first = await waitForLeader(cluster);
    log(`leader ${first.id} in term ${first.term}`);
    const nodes: NodeEndpoint[] = NODE_IDS.map((id) => ({ id, url: cluster.nodeUrl(id) }));
    const book = new BankBook(
      BANKS.map((b) => ({
        name: b.name,
        url: cluster.bankUrl(b.name),
        participantUrl: `${cluster.bankNetworkUrl(b.name)}${PARTICIPANT_PREFIX}`,
      })),
      runId,
      1,
    );
    await book.open(OPENING_BALANCE);
    const banksBefore = await book.snapshot();
    tracker = new LeaderTracker(nodes).start();
    const wl = new TransferWorkload({
      nodeUrls: nodes.map((n) => n.url),
      book,
      rng: new Prng(parseInt(runId, 16)).fork('workload'),
      concurrency: 3,
      keyPrefix: `${name}-${runId}`,
      txTimeoutMs: TX_TIMEOUT_MS,
      threePcShare: 0,
      amountMax: AMOUNT_MAX,
      clientRetries: 10,
      interactiveShare: INTERACTIVE_SHARE,
      abortShare: ABORT_SHARE,
      readers: READERS,
    }).start();
    workload = wl;
    const summary = (): string => {
      const c = wl.snapshot();
      return `${c.attempted} transfers: ${c.committed} committed, ${c.aborted} aborted, ${c.unknown} unknown, ${c.inFlight} in flight`;
    };
    const progress = async (more = 10): Promise<void> => {
      const target = wl.snapshot().committed + more;
      await waitFor(
        `${more} more committed transfers (${summary()})`,
        PROGRESS_TIMEOUT_MS,
        async () => (wl.snapshot().committed >= target ? true : undefined),
        200,
      );
    };
    await progress();
    const leader = await waitForLeader(cluster);
    log(`workload running (${summary()}); faults start, leader ${leader.id} term ${leader.term}`);

    const result = (await faults({ cluster, nodes, leader, log, progress })) ?? {};

    log('faults over; waiting for progress');
    await waitForLeader(cluster);
    await progress();
    await wl.stop();
    await tracker.stop();
    log(`workload stopped: ${summary()}`);
    const resolved = await wl.resendUnknown(RESEND_TIMEOUT_MS);
    const quiescent = await waitQuiescent(nodes, book, SINCE_MS, SETTLE_TIMEOUT_MS, undefined, () => noRecordInDoubt(cluster, book));
    log(`${resolved} unknown transfers resolved by resending; quiescent: ${quiescent}`);
    const evidence: ChaosEvidence = {
      transfers: wl.transfers,
      ...(await listEveryNode(nodes, SINCE_MS).then(({ byNode, unlisted }) => ({ coordinatorByNode: byNode, unlistedNodes: unlisted }))),
      banksBefore,
      banksAfter: await banksAfter(cluster, book),
      outage: await outageEvidence(nodes, wl, result.decidedBeforeOutage),
      leadersByTerm: tracker.leadersByTerm(),
      history: wl.history(),
    };
    const verdict = scenarioVerdict(evidence);
    log(
      `settled: ${summary()}; leaders by term: ${[...evidence.leadersByTerm].map(([t, ls]) => `${t}:${ls.join('+')}`).join(' ')} (${tracker.samples} samples)`,
    );
    for (const l of verdictLines(verdict)) log(l);
    failed = verdict.failed.length > 0;
    return { verdict, lines };
  } finally {
    await workload?.close().catch(() => undefined);
    await tracker?.stop().catch(() => undefined);
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

/**
 * Balances, then each bank's participant records over HTTP. A bank whose records cannot
 * be read gets none (and the reason): the atomicity invariant then fails the scenario.
 */
/** True once every bank's records read, and none of them is still preparing, prepared or precommitted. */
async function noRecordInDoubt(cluster: ContainerCluster, book: BankBook): Promise<boolean> {
  const balances = await book.snapshot();
  for (const b of balances) {
    const r = await fetchParticipantRecords(cluster.bankUrl(b.bank), BANK_RECORDS_TOKEN, SINCE_MS);
    if (r.kind !== 'records' || r.records.some((x) => IN_DOUBT_STATES.includes(x.state))) return false;
  }
  return true;
}

async function banksAfter(cluster: ContainerCluster, book: BankBook): Promise<BankSnapshot[]> {
  const balances = await book.snapshot();
  return Promise.all(
    balances.map(async (b) => {
      const r = await fetchParticipantRecords(cluster.bankUrl(b.bank), BANK_RECORDS_TOKEN, SINCE_MS);
      return r.kind === 'records'
        ? { bank: b.bank, accounts: b.accounts, records: r.records }
        : { bank: b.bank, accounts: b.accounts, records: null, recordsNote: r.reason };
    }),
  );
}

/**
 * Outcomes read before the scenario's full-cluster outage, and the same ones (plus every
 * outcome the API reported) read again now. Null when the scenario had no outage.
 */
async function outageEvidence(
  nodes: readonly NodeEndpoint[],
  wl: TransferWorkload,
  before: ReadonlyMap<string, Outcome> | undefined,
): Promise<ChaosEvidence['outage']> {
  if (before === undefined) return null;
  const ids = new Set<string>(before.keys());
  for (const t of wl.transfers) {
    const id = t.txIds.at(-1);
    if (id !== undefined && (t.apiOutcome ?? t.resolvedOutcome) !== null) ids.add(id);
  }
  return { before, after: await rereadOutcomes(nodes, ids, SINCE_MS) };
}
