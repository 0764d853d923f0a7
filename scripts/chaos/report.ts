// The chaos report: the numbers of a run and each invariant's verdict, printed for a human
// and written as JSON for tools (chaos-results/chaos-<target>-seed<N>-<time>.json).
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { FailoverStats, FaultEvent } from './faults.js';
import type { InvariantResult } from './invariants.js';
import type { KvCounts } from './kv-workload.js';
import type { LinearizabilitySummary } from './linearizability.js';
import type { ChaosOptions, FaultKind } from './options.js';
import { FAULT_KINDS } from './options.js';

export interface ChaosReport {
  readonly seed: number;
  readonly target: ChaosOptions['target'];
  readonly command: string;
  readonly startedAt: string;
  readonly options: ChaosOptions;
  readonly stateMachine: ChaosOptions['stateMachine'];
  /** Seconds of faults under load, and of the whole run including recovery and checks. */
  readonly faultWindowS: number;
  readonly totalS: number;
  /** The transfer workload's numbers; all zero in kv mode. */
  readonly transactions: {
    readonly attempted: number;
    readonly committed: number;
    readonly aborted: number;
    /** Ended in a client error during the run. */
    readonly unknown: number;
    /** Of those, how many learned their outcome by resending the same key after healing. */
    readonly resolvedAfterHealing: number;
    readonly rejected: number;
    readonly threePc: number;
  };
  /** kv mode: the puts and gets, and the reads of every key on every node at the end; null in tx mode. */
  readonly kv: (KvCounts & { readonly keys: number; readonly finalReads: number; readonly finalReadsAfterOutage: number }) | null;
  /** The linearizability check over every recorded client call (also the `linearizable` invariant). */
  readonly linearizability: LinearizabilitySummary;
  readonly faults: {
    readonly byKind: Readonly<Record<FaultKind, number>>;
    readonly ofLeader: number;
    readonly majorityDown: number;
    /** Drawn but not injected, to keep a quorum. */
    readonly skipped: number;
    readonly failed: number;
    /** Participant processes SIGKILLed and started again (--kill-participants). */
    readonly participantKills: number;
    readonly events: readonly FaultEvent[];
  };
  readonly failover: FailoverStats;
  readonly quiescence: { readonly reached: boolean; readonly waitedMs: number };
  readonly outage: {
    readonly ran: boolean;
    readonly decidedBefore: number;
    readonly leaderAfterMs: number | null;
    readonly note: string | null;
  };
  /**
   * How much the invariants looked at, so a caller can require evidence: participant
   * records read over every bank (0 in kv mode), and terms in which the sampling saw a leader.
   */
  readonly evidence: { readonly participantRecords: number; readonly leaderTerms: number };
  readonly invariants: readonly InvariantResult[];
  /** Steps that went wrong outside the invariants (a node that did not come back, ...). */
  readonly notes: readonly string[];
  readonly logs: string;
  readonly ok: boolean;
}

const DETAILS_PRINTED_MAX = 5;
const DETAILS_STORED_MAX = 200;

export function formatReport(r: ChaosReport): string {
  const t = r.transactions;
  const f = r.faults;
  const ms = (v: number | null): string => (v === null ? 'n/a' : v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(2)} s`);
  const lines = [
    '',
    `chaos report: seed ${r.seed}, target ${r.target}, ${r.options.nodes} nodes, faults ${r.options.faults.join(',') || 'none'}, concurrency ${r.options.concurrency}${r.options.participants === 'postgres' ? ', participants postgres' : ''}`,
    `  command       ${r.command}`,
    `  duration      ${r.faultWindowS.toFixed(1)} s of faults under load, ${r.totalS.toFixed(1)} s in all`,
    r.kv === null
      ? `  transactions  attempted ${t.attempted}, committed ${t.committed}, aborted ${t.aborted}, unknown ${t.unknown} (client errors; ${t.resolvedAfterHealing} resolved by resending after healing)${t.rejected > 0 ? `, REJECTED ${t.rejected}` : ''}; ${t.threePc} ran 3PC`
      : `  kv            ${r.kv.puts} puts (${r.kv.putsOk} answered), ${r.kv.gets} gets (${r.kv.getsOk} answered) on ${r.kv.keys} keys, any node; ${r.kv.unknown} without an answer`,
    `  faults        ${FAULT_KINDS.map((k) => `${k} ${f.byKind[k]}`).join(', ')}; ${f.ofLeader} hit the leader, ${f.majorityDown} took a majority down, ${f.skipped} skipped to keep a quorum${f.failed > 0 ? `, ${f.failed} FAILED to inject/heal` : ''}${f.participantKills > 0 ? `; ${f.participantKills} participant processes SIGKILLed and restarted` : ''}`,
    `  failover      p50 ${ms(r.failover.p50Ms)}, max ${ms(r.failover.maxMs)} (${r.failover.samplesMs.length} of ${r.failover.leaderFaults} leader faults; fault -> ${r.kv === null ? 'next committed transfer' : 'first answer to a put sent after it'})`,
    r.kv === null
      ? `  quiescence    ${r.quiescence.reached ? 'reached' : 'NOT reached'} after ${ms(r.quiescence.waitedMs)}`
      : `  after faults  ${r.quiescence.reached ? 'every node following a leader' : 'NOT every node following a leader'} after ${ms(r.quiescence.waitedMs)}; every key read on every node (${r.kv.finalReads} reads answered)`,
    `  final outage  ${r.outage.ran ? `SIGKILL of all ${r.options.nodes} nodes and restart: ${r.kv === null ? `${r.outage.decidedBefore} decided outcomes` : `every key on every node (${r.kv.finalReadsAfterOutage} reads)`} re-read, leader back after ${ms(r.outage.leaderAfterMs)}` : `did not run: ${r.outage.note ?? ''}`}`,
    `  evidence      ${r.kv === null ? `${r.evidence.participantRecords} participant records read, ` : ''}a leader seen in ${r.evidence.leaderTerms} terms`,
    ...linearizabilityReport(r.linearizability),
    '  invariants',
  ];
  const width = Math.max(...r.invariants.map((i) => i.title.length));
  for (const i of r.invariants) {
    // The failing sub-history is printed whole above.
    const details = i.name === 'linearizable' ? [] : i.violations;
    lines.push(
      `    ${i.pass ? 'PASS' : 'FAIL'}  ${i.title.padEnd(width)}  ${i.checked}${i.pass || i.name === 'linearizable' ? '' : `: ${details.length} violations`}`,
    );
    for (const v of details.slice(0, DETAILS_PRINTED_MAX)) lines.push(`            - ${v}`);
    if (details.length > DETAILS_PRINTED_MAX)
      lines.push(`            ... and ${details.length - DETAILS_PRINTED_MAX} more (see the JSON report)`);
  }
  for (const n of r.notes) lines.push(`  note: ${n}`);
  lines.push(`  logs          ${r.logs}`);
  lines.push(`  result        ${r.ok ? 'PASS' : 'FAIL'}`);
  return lines.join('\n');
}

/** "linearizable: yes/no/unknown" with its numbers, and on a violation the smallest failing sub-history. */
export function linearizabilityReport(l: LinearizabilitySummary): string[] {
  const kinds = Object.entries(l.byKind)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  const numbers = `${l.operations} operations (${kinds}; ${l.pending} with unknown outcome) in ${l.partitions} partitions (${l.model}), checked in ${(l.checkMs / 1000).toFixed(2)} s`;
  const lines = [`  linearizable  ${l.verdict}: ${numbers}`];
  if (l.verdict === 'unknown') lines.push(`                the search was pruned: ${l.reason ?? ''}`);
  const ce = l.counterexample;
  if (l.verdict === 'no' && ce !== null) {
    lines.push(
      `                ${l.failingPartitions} partitions are not linearizable; ${ce.minimal ? 'smallest' : 'a (not fully shrunk)'} failing sub-history of ${ce.partition}, ${ce.lines.length} of its ${ce.partitionOperations} operations (times from its first call):`,
    );
    for (const op of ce.lines) lines.push(`                  ${op}`);
  }
  return lines;
}

/** Writes the report as JSON (violations capped per invariant); returns the file's path. */
export async function writeReportJson(r: ChaosReport, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const stamp = r.startedAt.replace(/[:.]/g, '-');
  const file = resolve(join(dir, `chaos-${r.target}-seed${r.seed}-${stamp}.json`));
  const capped = {
    ...r,
    invariants: r.invariants.map((i) => ({
      ...i,
      violations: i.violations.slice(0, DETAILS_STORED_MAX),
      violationCount: i.violations.length,
    })),
  };
  await writeFile(file, `${JSON.stringify(capped, null, 2)}\n`);
  return file;
}
