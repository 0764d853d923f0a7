// One chaos run, start to finish. Control flow only; each step lives in its own module:
//   set up (target) -> open accounts (bank) -> workload + faults + live progress for the
//   duration -> stop faults, heal, drain -> resend unknowns -> wait for quiescence ->
//   full-cluster SIGKILL and restart, re-read decisions -> gather evidence -> check
//   invariants -> report. Every process or container the target started is stopped in
//   `finally`, whatever happened.
import { randomBytes } from 'node:crypto';
import { BankBook } from './bank.js';
import { LeaderTracker, fetchStatus, waitForLeader } from './cluster-view.js';
import { decidedOutcomes, listEveryNode, rereadOutcomes, waitQuiescent } from './collect.js';
import type { BankSnapshot, ChaosEvidence, Outcome, RereadOutcome } from './evidence.js';
import { FaultScheduler, failoverStats, freezeRangeMs } from './faults.js';
import { sleep, pollUntil } from './http.js';
import { checkInvariants } from './invariants.js';
import { bankTiming, LocalTarget } from './local-target.js';
import { ComposeTarget } from './compose-target.js';
import { FAULT_KINDS, type ChaosOptions, type FaultKind } from './options.js';
import { createProgress, type ProgressSink } from './progress.js';
import type { ChaosReport } from './report.js';
import { SeededRandom } from './rng.js';
import type { ChaosTarget } from './target.js';
import { TransferWorkload } from './workload.js';

export interface RunControls {
  /** Use this target instead of the one the options name (tests). */
  readonly target?: ChaosTarget;
  readonly progress?: ProgressSink;
  /** Ends the fault window early; recovery and the checks still run (first Ctrl-C). */
  readonly finishEarly?: AbortSignal;
  /** Abandons the run: straight to tear-down (second Ctrl-C). */
  readonly abort?: AbortSignal;
  /** Extra flags for local node processes. */
  readonly nodeArgs?: readonly string[];
  /** The command line to print in the report. */
  readonly command?: string;
}

/** How long a clean start may take before the run gives up. */
const FIRST_LEADER_TIMEOUT_MS = 60_000;
/** Clock slack between the runner and the nodes when scoping "this run's" transactions. */
const CLOCK_SLACK_MS = 2_000;

export class RunAborted extends Error {
  constructor() {
    super('chaos run aborted');
  }
}

export function createTarget(o: ChaosOptions, runId: string, nodeArgs?: readonly string[]): ChaosTarget {
  if (o.target === 'local') {
    return new LocalTarget({
      nodes: o.nodes,
      dataDir: o.dataDir,
      runId,
      nodeLogLevel: o.nodeLogLevel,
      bankTiming: bankTiming(o.participantThreePcTimeoutMs),
      ...(nodeArgs === undefined ? {} : { nodeArgs }),
    });
  }
  return new ComposeTarget({ composeFile: o.composeFile, project: o.composeProject, nodes: o.nodes });
}

export async function runChaos(o: ChaosOptions, c: RunControls = {}): Promise<ChaosReport> {
  const startedMs = Date.now();
  const runId = `${o.seed.toString(36)}-${randomBytes(3).toString('hex')}`;
  const rng = new SeededRandom(o.seed);
  const target = c.target ?? createTarget(o, runId, c.nodeArgs);
  const progress = c.progress ?? createProgress();
  const abort = c.abort ?? new AbortController().signal;
  const say = (line: string): void => progress.log(line);
  const checkAbort = (): void => {
    if (abort.aborted) throw new RunAborted();
  };
  let report: ChaosReport | null = null;
  let workload: TransferWorkload | null = null;
  let tracker: LeaderTracker | null = null;
  let faults: FaultScheduler | null = null;
  let phase = 'starting';
  try {
    say(`chaos: seed ${o.seed}, target ${o.target}, ${o.durationS} s, faults ${o.faults.join(',') || 'none'}, concurrency ${o.concurrency}, protocol ${o.protocol} (run ${runId})`);
    await target.setUp(abort);
    checkAbort();
    const first = await waitForLeader(target.nodes, FIRST_LEADER_TIMEOUT_MS, abort);
    if (first === null) throw new Error(`no leader within ${FIRST_LEADER_TIMEOUT_MS} ms; logs: ${target.logsHint()}`);
    say(`cluster up: ${target.nodes.map((n) => `${n.id}=${n.url}`).join(' ')}; leader ${first.id}; banks ${target.banks.map((b) => b.url).join(' ')}`);
    const book = new BankBook(target.banks, runId, o.accountsPerBank);
    await book.open(o.openingBalance);
    const sinceMs = startedMs - CLOCK_SLACK_MS;
    const banksBefore = await book.snapshot();

    tracker = new LeaderTracker(target.nodes).start();
    workload = new TransferWorkload({
      nodeUrls: target.nodes.map((n) => n.url),
      book,
      rng: rng.fork('workload'),
      concurrency: o.concurrency,
      keyPrefix: `chaos-${runId}`,
      txTimeoutMs: o.txTimeoutMs,
      protocol: o.protocol,
      threePcShare: o.threePcShare,
      amountMax: o.amountMax,
      clientRetries: o.clientRetries,
    }).start();
    faults = new FaultScheduler({
      target,
      tracker,
      rng: rng.fork('faults'),
      kinds: o.faults,
      quorumLossChance: o.quorumLossChance,
      gapMinMs: o.faultGapMinMs,
      gapMaxMs: o.faultGapMaxMs,
      freezeMs: freezeRangeMs(bankTiming(o.participantThreePcTimeoutMs), o.nodes),
      log: say,
    }).start();
    const wl = workload;
    const fs = faults;
    const tr = tracker;
    progress.start(() => ({
      elapsedMs: Date.now() - startedMs,
      counts: wl.snapshot(),
      faults: Object.fromEntries(FAULT_KINDS.filter((k) => o.faults.includes(k)).map((k) => [k, fs.countBy(k)])),
      leader: tr.current(),
      down: fs.down(),
      phase,
    }));

    phase = 'faults';
    const faultStartMs = Date.now();
    await sleep(o.durationS * 1000, anySignal(abort, c.finishEarly));
    checkAbort();
    const faultWindowS = (Date.now() - faultStartMs) / 1000;

    phase = 'healing';
    say(`faults stop after ${faultWindowS.toFixed(1)} s; healing every node and draining the workload`);
    await Promise.all([fs.stop(), wl.stop()]);
    checkAbort();
    const notes: string[] = [];
    phase = 'settling';
    const settle = await settleAfterFaults(target, wl, book, sinceMs, o.settleTimeoutMs, abort, say, notes);
    await tr.stop();
    checkAbort();

    phase = 'outage';
    const outage = await fullClusterOutage(target, wl, sinceMs, o.settleTimeoutMs, abort, say, notes);
    checkAbort();

    phase = 'checking';
    const { byNode, unlisted } = await listEveryNode(target.nodes, sinceMs);
    const banksAfter = await readBanksAfter(target, book, sinceMs, notes);
    const evidence: ChaosEvidence = {
      transfers: wl.transfers,
      coordinatorByNode: byNode,
      unlistedNodes: unlisted,
      banksBefore,
      banksAfter,
      outage: outage.evidence,
      leadersByTerm: tr.leadersByTerm(),
    };
    report = buildReport({ o, c, target, startedMs, faultWindowS, workload: wl, faults: fs, settle, outage: outage.summary, evidence, notes });
    return report;
  } finally {
    progress.stop();
    await faults?.stop().catch(() => undefined);
    await workload?.close().catch(() => undefined);
    await tracker?.stop().catch(() => undefined);
    // Kept for a post-mortem: a failed run, or one that broke down (but not one abandoned on purpose).
    const keep = o.dataDir !== null || (report !== null ? !report.ok : !abort.aborted);
    await target.tearDown(keep);
    if (keep && o.target === 'local') progress.log(`data and logs kept under ${target.logsHint()}`);
  }
}

/** After healing: a leader, every unknown transfer resent with its key, then quiescence. */
async function settleAfterFaults(
  target: ChaosTarget,
  wl: TransferWorkload,
  book: BankBook,
  sinceMs: number,
  timeoutMs: number,
  abort: AbortSignal,
  say: (l: string) => void,
  notes: string[],
): Promise<{ resolved: number; quiescent: boolean; waitedMs: number }> {
  const t0 = Date.now();
  const leader = await waitForLeader(target.nodes, timeoutMs, abort);
  if (leader === null) notes.push(`no leader within ${timeoutMs} ms after healing`);
  const unknown = wl.transfers.filter((t) => t.apiOutcome === null && t.rejected === null).length;
  let resolved = 0;
  if (unknown > 0) {
    say(`resending ${unknown} transfers that ended in a client error (same Idempotency-Key)`);
    resolved = await wl.resendUnknown(timeoutMs);
  }
  const quiescent = await waitQuiescent(target.nodes, book, sinceMs, timeoutMs, abort);
  if (!quiescent) notes.push(`not quiescent within ${timeoutMs} ms after healing`);
  const waitedMs = Date.now() - t0;
  say(`settled in ${(waitedMs / 1000).toFixed(1)} s: leader ${leader?.id ?? 'none'}, ${resolved}/${unknown} unknown transfers resolved, quiescent: ${quiescent}`);
  return { resolved, quiescent, waitedMs };
}

/** SIGKILL every node at once, restart them all, and read every decision again. */
async function fullClusterOutage(
  target: ChaosTarget,
  wl: TransferWorkload,
  sinceMs: number,
  timeoutMs: number,
  abort: AbortSignal,
  say: (l: string) => void,
  notes: string[],
): Promise<{ evidence: ChaosEvidence['outage']; summary: ChaosReport['outage'] }> {
  const before = await decidedOutcomes(target.nodes, sinceMs);
  if (before === null) {
    const note = 'no node could list the decided transactions before the outage';
    notes.push(note);
    return { evidence: null, summary: { ran: false, decidedBefore: 0, leaderAfterMs: null, note } };
  }
  say(`full-cluster outage: SIGKILL of all ${target.nodes.length} nodes with ${before.size} decided transactions, then restart`);
  await Promise.all(target.nodes.map((n) => target.kill(n.id)));
  const t0 = Date.now();
  await Promise.all(target.nodes.map((n) => target.revive(n.id)));
  const leader = await waitForLeader(target.nodes, timeoutMs, abort);
  const leaderAfterMs = leader === null ? null : Date.now() - t0;
  if (leader === null) notes.push(`no leader within ${timeoutMs} ms after the full-cluster restart`);
  // Every node should be back and following before the final listing of each.
  const following = await pollUntil(timeoutMs, async () => ((await Promise.all(target.nodes.map((n) => fetchStatus(n.url)))).every((s) => s?.leaderId != null) ? true : undefined), 250, abort);
  if (following === null) notes.push('not every node follows a leader after the full-cluster restart');
  const ids = new Set<string>(before.keys());
  for (const t of wl.transfers) {
    const id = t.txIds.at(-1);
    if (id !== undefined && (t.apiOutcome ?? t.resolvedOutcome) !== null) ids.add(id);
  }
  const after: Map<string, RereadOutcome> = await rereadOutcomes(target.nodes, ids, sinceMs);
  say(`after the restart: leader ${leader?.id ?? 'none'} after ${leaderAfterMs ?? '-'} ms; ${after.size} outcomes re-read`);
  return { evidence: { before: before as Map<string, Outcome>, after }, summary: { ran: true, decidedBefore: before.size, leaderAfterMs, note: null } };
}

/** Balances over HTTP (banks up), then the participant records (which may stop the banks). */
async function readBanksAfter(target: ChaosTarget, book: BankBook, sinceMs: number, notes: string[]): Promise<BankSnapshot[]> {
  const balances = await book.snapshot();
  const records = await target.readParticipantRecords(sinceMs);
  return balances.map((b) => {
    const r = records.get(b.bank);
    if (r?.kind === 'records') return { bank: b.bank, accounts: b.accounts, records: r.records };
    const reason = r?.reason ?? 'the target returned nothing';
    notes.push(`participant records of ${b.bank} unavailable: ${reason}`);
    return { bank: b.bank, accounts: b.accounts, records: null, recordsNote: reason };
  });
}

function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal {
  return AbortSignal.any(signals.filter((s): s is AbortSignal => s !== undefined));
}

interface ReportInputs {
  readonly o: ChaosOptions;
  readonly c: RunControls;
  readonly target: ChaosTarget;
  readonly startedMs: number;
  readonly faultWindowS: number;
  readonly workload: TransferWorkload;
  readonly faults: FaultScheduler;
  readonly settle: { resolved: number; quiescent: boolean; waitedMs: number };
  readonly outage: ChaosReport['outage'];
  readonly evidence: ChaosEvidence;
  readonly notes: string[];
}

/** The invariants' verdicts and the run's numbers, in the report's shape. */
function buildReport(r: ReportInputs): ChaosReport {
  const { o, workload: wl, faults: fs, notes } = r;
  const invariants = checkInvariants(r.evidence);
  const counts = wl.snapshot();
  const failedFaults = fs.events.filter((e) => e.error !== null).length;
  const ok = invariants.every((i) => i.pass) && counts.attempted > 0;
  const logsKept = o.dataDir !== null || !ok || o.target !== 'local';
  notes.push(...(r.target.notes?.() ?? []));
  if (failedFaults > 0) notes.push(`${failedFaults} faults failed to inject or heal (see events in the JSON report)`);
  if (counts.attempted === 0) notes.push('no transfer was attempted: nothing was tested');
  return {
    seed: o.seed,
    target: o.target,
    command: r.c.command ?? `npm run chaos -- --target ${o.target} --seed ${o.seed} --duration ${o.durationS}`,
    startedAt: new Date(r.startedMs).toISOString(),
    options: o,
    faultWindowS: r.faultWindowS,
    totalS: (Date.now() - r.startedMs) / 1000,
    transactions: {
      attempted: counts.attempted,
      committed: counts.committed,
      aborted: counts.aborted,
      unknown: counts.unknown,
      resolvedAfterHealing: r.settle.resolved,
      rejected: counts.rejected,
      threePc: wl.transfers.filter((t) => t.protocol === '3pc').length,
    },
    faults: {
      byKind: Object.fromEntries(FAULT_KINDS.map((k) => [k, fs.countBy(k)])) as Record<FaultKind, number>,
      ofLeader: fs.events.filter((e) => e.wasLeader && e.error === null).length,
      majorityDown: fs.events.filter((e) => e.quorumLost && e.error === null).length,
      skipped: fs.skipped,
      failed: failedFaults,
      events: fs.events,
    },
    failover: failoverStats(fs.events, wl.transfers),
    quiescence: { reached: r.settle.quiescent, waitedMs: r.settle.waitedMs },
    outage: r.outage,
    invariants,
    notes,
    logs: logsKept ? r.target.logsHint() : `${r.target.logsHint()} (removed after a passing run; --data DIR keeps them)`,
    ok,
  };
}
