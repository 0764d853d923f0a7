// One chaos run, start to finish. Control flow only; each step lives in its own module:
//   set up (target) -> open accounts (bank) -> workload + faults + live progress for the
//   duration -> stop faults, heal, drain -> resend unknowns -> wait for quiescence ->
//   full-cluster SIGKILL and restart, re-read decisions -> gather evidence -> check
//   invariants, linearizability included -> report. With --state-machine kv the workload
//   is puts and gets (kv-workload.ts) and the checks after healing and after the outage
//   are reads of every key on every node, judged by the linearizability check. Every
//   process or container the target started is stopped in `finally`, whatever happened.
import { randomBytes } from 'node:crypto';
import { BankBook } from './bank.js';
import { LeaderTracker, fetchStatus, waitForLeader } from './cluster-view.js';
import { decidedOutcomes, listEveryNode, rereadOutcomes, waitQuiescent } from './collect.js';
import type { BankSnapshot, ChaosEvidence, Outcome, RereadOutcome } from './evidence.js';
import { FaultScheduler, failoverStats, freezeRangeMs } from './faults.js';
import { ParticipantKiller } from './participant-faults.js';
import { sleep, pollUntil } from './http.js';
import { checkInvariants, checkKvInvariants, recordsRead, type InvariantResult } from './invariants.js';
import { KvWorkload } from './kv-workload.js';
import { bankTiming, LocalTarget } from './local-target.js';
import { ComposeTarget } from './compose-target.js';
import { FAULT_KINDS, type ChaosOptions, type FaultKind } from './options.js';
import { createProgress, kvProgress, txProgress, type ProgressSample, type ProgressSink } from './progress.js';
import type { ChaosReport } from './report.js';
import { Prng } from '../../src/util/random.js';
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
      stateMachine: o.stateMachine,
      participants: o.participants,
      bankTiming: bankTiming(o.participantThreePcTimeoutMs),
      ...(nodeArgs === undefined ? {} : { nodeArgs }),
    });
  }
  return new ComposeTarget({ composeFile: o.composeFile, project: o.composeProject, nodes: o.nodes });
}

export async function runChaos(o: ChaosOptions, c: RunControls = {}): Promise<ChaosReport> {
  const startedMs = Date.now();
  const runId = `${o.seed.toString(36)}-${randomBytes(3).toString('hex')}`;
  const target = c.target ?? createTarget(o, runId, c.nodeArgs);
  const progress = c.progress ?? createProgress();
  const abort = c.abort ?? new AbortController().signal;
  const run: Run = {
    o,
    c,
    runId,
    startedMs,
    target,
    rng: new Prng(o.seed),
    progress,
    abort,
    say: (line) => progress.log(line),
    checkAbort: () => {
      if (abort.aborted) throw new RunAborted();
    },
    phase: 'starting',
    tracker: null,
    faults: null,
    killer: null,
    workload: null,
  };
  let report: ChaosReport | null = null;
  try {
    const extra = `${o.participants === 'postgres' ? ', participants postgres' : ''}${o.killParticipants ? ', participant kills' : ''}`;
    run.say(
      `chaos: seed ${o.seed}, target ${o.target}, state machine ${o.stateMachine}, ${o.durationS} s, faults ${o.faults.join(',') || 'none'}${extra}, concurrency ${o.concurrency}, protocol ${o.protocol} (run ${runId})`,
    );
    await target.setUp(abort);
    run.checkAbort();
    const first = await waitForLeader(target.nodes, FIRST_LEADER_TIMEOUT_MS, abort);
    if (first === null) throw new Error(`no leader within ${FIRST_LEADER_TIMEOUT_MS} ms; logs: ${target.logsHint()}`);
    const banks = target.banks.length > 0 ? `; banks ${target.banks.map((b) => b.url).join(' ')}` : '';
    run.say(`cluster up: ${target.nodes.map((n) => `${n.id}=${n.url}`).join(' ')}; leader ${first.id}${banks}`);
    report = o.stateMachine === 'kv' ? await runKv(run) : await runTx(run);
    return report;
  } finally {
    progress.stop();
    await run.faults?.stop().catch(() => undefined);
    await run.killer?.stop().catch(() => undefined);
    await run.workload?.close().catch(() => undefined);
    await run.tracker?.stop().catch(() => undefined);
    // Kept for a post-mortem: a failed run, or one that broke down (but not one abandoned on purpose).
    const keep = o.dataDir !== null || (report !== null ? !report.ok : !abort.aborted);
    await target.tearDown(keep);
    if (keep && o.target === 'local') progress.log(`data and logs kept under ${target.logsHint()}`);
  }
}

/** One run's fixed parts, and what `finally` must stop whatever happened. */
interface Run {
  readonly o: ChaosOptions;
  readonly c: RunControls;
  readonly runId: string;
  readonly startedMs: number;
  readonly target: ChaosTarget;
  readonly rng: Prng;
  readonly progress: ProgressSink;
  readonly abort: AbortSignal;
  say(line: string): void;
  checkAbort(): void;
  phase: string;
  tracker: LeaderTracker | null;
  faults: FaultScheduler | null;
  /** SIGKILLs and restarts participant processes (--kill-participants). */
  killer: ParticipantKiller | null;
  workload: { close(): Promise<void> } | null;
}

/**
 * The leader sampling, the fault scheduler and the live line, then the fault window
 * under load; ends with the faults stopped (every node healed) and the workload drained.
 */
async function faultWindow(
  run: Run,
  workload: { stop(): Promise<void> },
  counts: () => Pick<ProgressSample, 'finished' | 'unit' | 'counts'>,
): Promise<{ faultWindowS: number; tracker: LeaderTracker; faults: FaultScheduler }> {
  const { o, target } = run;
  const tracker = (run.tracker = new LeaderTracker(target.nodes).start());
  const faults = (run.faults = new FaultScheduler({
    target,
    tracker,
    rng: run.rng.fork('faults'),
    kinds: o.faults,
    quorumLossChance: o.quorumLossChance,
    gapMinMs: o.faultGapMinMs,
    gapMaxMs: o.faultGapMaxMs,
    freezeMs: freezeRangeMs(bankTiming(o.participantThreePcTimeoutMs), o.nodes),
    log: run.say,
  }).start());
  const killer = o.killParticipants
    ? (run.killer = new ParticipantKiller({ target, rng: run.rng.fork('participant-faults'), log: run.say }).start())
    : null;
  run.progress.start(() => ({
    elapsedMs: Date.now() - run.startedMs,
    ...counts(),
    faults: Object.fromEntries(FAULT_KINDS.filter((k) => o.faults.includes(k)).map((k) => [k, faults.countBy(k)])),
    leader: tracker.current(),
    down: faults.down(),
    phase: run.phase,
  }));
  run.phase = 'faults';
  const faultStartMs = Date.now();
  await sleep(o.durationS * 1000, anySignal(run.abort, run.c.finishEarly));
  run.checkAbort();
  const faultWindowS = (Date.now() - faultStartMs) / 1000;
  run.phase = 'healing';
  run.say(`faults stop after ${faultWindowS.toFixed(1)} s; healing every node and draining the workload`);
  await Promise.all([faults.stop(), workload.stop(), killer?.stop()]);
  run.checkAbort();
  return { faultWindowS, tracker, faults };
}

/** Bank transfers through the coordinator, then the transaction invariants. */
async function runTx(run: Run): Promise<ChaosReport> {
  const { o, target, runId } = run;
  const book = new BankBook(target.banks, runId, o.accountsPerBank);
  await book.open(o.openingBalance);
  const sinceMs = run.startedMs - CLOCK_SLACK_MS;
  const banksBefore = await book.snapshot();
  const wl = new TransferWorkload({
    nodeUrls: target.nodes.map((n) => n.url),
    book,
    rng: run.rng.fork('workload'),
    concurrency: o.concurrency,
    keyPrefix: `chaos-${runId}`,
    txTimeoutMs: o.txTimeoutMs,
    protocol: o.protocol,
    threePcShare: o.threePcShare,
    amountMax: o.amountMax,
    clientRetries: o.clientRetries,
    interactiveShare: o.interactiveShare,
    abortShare: o.abortShare,
    readers: o.readers,
  }).start();
  run.workload = wl;
  const { faultWindowS, tracker, faults } = await faultWindow(run, wl, () => txProgress(wl.snapshot()));
  const notes: string[] = [];
  run.phase = 'settling';
  const settle = await settleAfterFaults(target, wl, book, sinceMs, o.settleTimeoutMs, run.abort, run.say, notes);
  await tracker.stop();
  run.checkAbort();

  run.phase = 'outage';
  const outage = await fullClusterOutage(target, wl, sinceMs, o.settleTimeoutMs, run.abort, run.say, notes);
  run.checkAbort();

  run.phase = 'checking';
  const { byNode, unlisted } = await listEveryNode(target.nodes, sinceMs);
  const banksAfter = await readBanksAfter(target, book, sinceMs, notes);
  const evidence: ChaosEvidence = {
    transfers: wl.transfers,
    coordinatorByNode: byNode,
    unlistedNodes: unlisted,
    banksBefore,
    banksAfter,
    outage: outage.evidence,
    leadersByTerm: tracker.leadersByTerm(),
    history: wl.history(),
  };
  run.say(`checking the invariants, and the linearizability of ${evidence.history.length} recorded calls`);
  const invariants = checkInvariants(evidence, { budget: { stepsMax: o.linStepsMax, timeMaxMs: o.linTimeMaxMs } });
  const counts = wl.snapshot();
  return buildReport({
    run,
    faultWindowS,
    faults,
    failover: failoverStats(faults.events, wl.transfers),
    transactions: {
      attempted: counts.attempted,
      committed: counts.committed,
      aborted: counts.aborted,
      unknown: counts.unknown,
      resolvedAfterHealing: settle.resolved,
      rejected: counts.rejected,
      threePc: wl.transfers.filter((t) => t.protocol === '3pc').length,
    },
    kv: null,
    quiescence: { reached: settle.quiescent, waitedMs: settle.waitedMs },
    outage: outage.summary,
    evidence: { participantRecords: recordsRead(evidence), leaderTerms: evidence.leadersByTerm.size },
    invariants,
    attempted: counts.attempted,
    notes,
  });
}

/**
 * Puts and gets on the test key-value store. After the faults: every key read on every
 * node; then SIGKILL of every node, a restart, and every key read on every node again.
 * All of it goes into the history, so a write lost or not yet applied on a node that
 * answers shows as a non-linearizable read.
 */
async function runKv(run: Run): Promise<ChaosReport> {
  const { o, target } = run;
  const wl = new KvWorkload({
    nodes: target.nodes,
    rng: run.rng.fork('workload'),
    concurrency: o.concurrency,
    keys: o.kvKeys,
    keyPrefix: `chaos-${run.runId}`,
  }).start();
  run.workload = { close: () => wl.stop() };
  const { faultWindowS, tracker, faults } = await faultWindow(run, wl, () => kvProgress(wl.snapshot()));
  const notes: string[] = [];
  run.phase = 'settling';
  const t0 = Date.now();
  const leader = await waitForLeader(target.nodes, o.settleTimeoutMs, run.abort);
  if (leader === null) notes.push(`no leader within ${o.settleTimeoutMs} ms after healing`);
  // A node revived at the end of the fault window must be up and following before it is read.
  const following = await everyNodeFollows(target, o.settleTimeoutMs, run.abort);
  if (following === null) notes.push('not every node follows a leader after healing');
  const finalReads = await wl.readEverywhere('final');
  const waitedMs = Date.now() - t0;
  await tracker.stop();
  run.checkAbort();

  run.phase = 'outage';
  run.say(`full-cluster outage: SIGKILL of all ${target.nodes.length} nodes, then restart`);
  await Promise.all(target.nodes.map((n) => target.kill(n.id)));
  const restartMs = Date.now();
  await Promise.all(target.nodes.map((n) => target.revive(n.id)));
  const after = await waitForLeader(target.nodes, o.settleTimeoutMs, run.abort);
  const leaderAfterMs = after === null ? null : Date.now() - restartMs;
  if (after === null) notes.push(`no leader within ${o.settleTimeoutMs} ms after the full-cluster restart`);
  if ((await everyNodeFollows(target, o.settleTimeoutMs, run.abort)) === null)
    notes.push('not every node follows a leader after the full-cluster restart');
  const finalReadsAfterOutage = await wl.readEverywhere('after-outage');
  run.say(
    `after the restart: leader ${after?.id ?? 'none'} after ${leaderAfterMs ?? '-'} ms; ${finalReadsAfterOutage} of ${target.nodes.length * wl.keys.length} reads answered`,
  );
  run.checkAbort();

  run.phase = 'checking';
  const history = wl.history();
  run.say(`checking the linearizability of ${history.length} recorded puts and gets`);
  const invariants = checkKvInvariants(
    { history, leadersByTerm: tracker.leadersByTerm() },
    { budget: { stepsMax: o.linStepsMax, timeMaxMs: o.linTimeMaxMs } },
  );
  const counts = wl.snapshot();
  const puts = history.filter((op) => op.input.op === 'put' && op.output !== null);
  return buildReport({
    run,
    faultWindowS,
    faults,
    // From a fault on the leader to the first answer of a put called after it.
    failover: failoverStats(
      faults.events,
      puts.map((op) => ({
        apiOutcome: 'committed',
        decidedAtMs: performance.timeOrigin + op.callMs,
        endedAtMs: performance.timeOrigin + op.returnMs,
      })),
    ),
    transactions: { attempted: 0, committed: 0, aborted: 0, unknown: 0, resolvedAfterHealing: 0, rejected: 0, threePc: 0 },
    kv: { ...counts, keys: wl.keys.length, finalReads, finalReadsAfterOutage },
    quiescence: { reached: leader !== null && following !== null, waitedMs },
    outage: { ran: true, decidedBefore: 0, leaderAfterMs, note: null },
    evidence: { participantRecords: 0, leaderTerms: tracker.leadersByTerm().size },
    invariants,
    attempted: counts.puts + counts.gets,
    notes,
  });
}

/** Resolves true once every node names a leader; null at the bound. */
function everyNodeFollows(target: ChaosTarget, timeoutMs: number, abort: AbortSignal): Promise<true | null> {
  return pollUntil(
    timeoutMs,
    async () => ((await Promise.all(target.nodes.map((n) => fetchStatus(n.url)))).every((s) => s?.leaderId != null) ? true : undefined),
    250,
    abort,
  );
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
  say(
    `settled in ${(waitedMs / 1000).toFixed(1)} s: leader ${leader?.id ?? 'none'}, ${resolved}/${unknown} unknown transfers resolved, quiescent: ${quiescent}`,
  );
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
  if ((await everyNodeFollows(target, timeoutMs, abort)) === null)
    notes.push('not every node follows a leader after the full-cluster restart');
  const ids = new Set<string>(before.keys());
  for (const t of wl.transfers) {
    const id = t.txIds.at(-1);
    if (id !== undefined && (t.apiOutcome ?? t.resolvedOutcome) !== null) ids.add(id);
  }
  const after: Map<string, RereadOutcome> = await rereadOutcomes(target.nodes, ids, sinceMs);
  say(`after the restart: leader ${leader?.id ?? 'none'} after ${leaderAfterMs ?? '-'} ms; ${after.size} outcomes re-read`);
  return {
    evidence: { before: before as Map<string, Outcome>, after },
    summary: { ran: true, decidedBefore: before.size, leaderAfterMs, note: null },
  };
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
  readonly run: Run;
  readonly faultWindowS: number;
  readonly faults: FaultScheduler;
  readonly failover: ChaosReport['failover'];
  readonly transactions: ChaosReport['transactions'];
  readonly kv: ChaosReport['kv'];
  readonly quiescence: ChaosReport['quiescence'];
  readonly outage: ChaosReport['outage'];
  readonly evidence: ChaosReport['evidence'];
  readonly invariants: readonly InvariantResult[];
  /** Calls the workload made: zero means nothing was tested. */
  readonly attempted: number;
  readonly notes: string[];
}

/** The invariants' verdicts and the run's numbers, in the report's shape. */
function buildReport(r: ReportInputs): ChaosReport {
  const { o, target } = r.run;
  const { faults: fs, notes } = r;
  const failedFaults = fs.events.filter((e) => e.error !== null).length;
  const ok = r.invariants.every((i) => i.pass) && r.attempted > 0;
  const logsKept = o.dataDir !== null || !ok || o.target !== 'local';
  notes.push(...(target.notes?.() ?? []));
  if (failedFaults > 0) notes.push(`${failedFaults} faults failed to inject or heal (see events in the JSON report)`);
  if ((r.run.killer?.failed ?? 0) > 0) notes.push(`${r.run.killer!.failed} participant kills failed to inject or heal (see the log lines)`);
  if (r.attempted === 0) notes.push(`no ${o.stateMachine === 'kv' ? 'put or get' : 'transfer'} was attempted: nothing was tested`);
  const linearizability = r.invariants.find((i) => i.name === 'linearizable')?.linearizability;
  if (linearizability === undefined) throw new Error('the linearizable invariant carries no summary');
  return {
    seed: o.seed,
    target: o.target,
    command:
      r.run.c.command ??
      `npm run chaos -- --target ${o.target} --state-machine ${o.stateMachine} --seed ${o.seed} --duration ${o.durationS}`,
    startedAt: new Date(r.run.startedMs).toISOString(),
    options: o,
    stateMachine: o.stateMachine,
    faultWindowS: r.faultWindowS,
    totalS: (Date.now() - r.run.startedMs) / 1000,
    transactions: r.transactions,
    kv: r.kv,
    linearizability,
    faults: {
      byKind: Object.fromEntries(FAULT_KINDS.map((k) => [k, fs.countBy(k)])) as Record<FaultKind, number>,
      ofLeader: fs.events.filter((e) => e.wasLeader && e.error === null).length,
      majorityDown: fs.events.filter((e) => e.quorumLost && e.error === null).length,
      skipped: fs.skipped,
      failed: failedFaults,
      participantKills: r.run.killer?.kills ?? 0,
      events: fs.events,
    },
    failover: r.failover,
    quiescence: r.quiescence,
    outage: r.outage,
    evidence: r.evidence,
    invariants: r.invariants,
    notes,
    logs: logsKept ? target.logsHint() : `${target.logsHint()} (removed after a passing run; --data DIR keeps them)`,
    ok,
  };
}
