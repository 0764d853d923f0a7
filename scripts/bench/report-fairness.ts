// The parts of the report that say how fair the comparison was (README,
// "Performance"): the alternating pairs at concurrency 1 and their spread, the
// payload sizes, the CPU of every process per phase, each Ratify node's
// event-loop delay per phase, the peak RSS of every process over the whole run,
// and etcd's own `etcdctl check perf`. Pure, like report.ts.
import type { NodePhaseStats } from './node-stats.js';
import { formatSpread, type PairedComparison } from './pairs.js';
import { formatPhaseCpu, type PhaseCpu } from './proc-cpu.js';
import type { BenchReport, Payloads } from './results.js';
import { fmtBytes, fmtMs, fmtRate, type Table } from './table.js';

type Input = Pick<BenchReport, 'etcd' | 'writes' | 'tx'> & Partial<Pick<BenchReport, 'payloads' | 'peakRssWholeRun'>>;

export function fairnessTables(r: Input): Table[] {
  const tables = [
    ...[r.writes.pairs, r.tx.pairs].flatMap((p, i) =>
      p === undefined || p === null ? [] : [pairsTable(i === 0 ? 'Ratify writes' : 'Ratify 2-participant tx', p)],
    ),
    eventLoopTable(r),
    ...(r.peakRssWholeRun === undefined ? [] : [peakTable(r.peakRssWholeRun)]),
  ];
  return tables.filter((t) => t.rows.length > 0);
}

function pairsTable(what: string, p: PairedComparison): Table {
  const rows = p.pairs.map((pair, i) => [
    String(i + 1),
    fmtRate(pair.ratify.ratePerSec),
    fmtMs(pair.ratify.p50Ms),
    fmtMs(pair.ratify.p99Ms),
    fmtRate(pair.etcd.ratePerSec),
    fmtMs(pair.etcd.p50Ms),
    fmtMs(pair.etcd.p99Ms),
    `${pair.rateRatio.toFixed(2)}x`,
    `${pair.p50Ratio.toFixed(2)}x`,
  ]);
  rows.push(['median (min-max)', '', '', '', '', '', '', formatSpread(p.rateRatio), formatSpread(p.p50Ratio)]);
  return {
    title: `${what} vs etcd ${p.etcdOp} at concurrency ${p.concurrency}, alternating phases (Ratify, then etcd with Ratify paused), ${p.pairs.length} pairs; the ratio quoted is the median of the pairs`,
    headers: ['pair', 'ratify ops/s', 'ratify p50', 'ratify p99', 'etcd ops/s', 'etcd p50', 'etcd p99', 'rate ratio', 'p50 ratio'],
    rows,
  };
}

interface NamedNodes {
  readonly phase: string;
  readonly nodes: readonly NodePhaseStats[];
}

function ratifyPhases(r: Input): NamedNodes[] {
  const paired = (name: string, p: PairedComparison | null | undefined): NamedNodes[] =>
    (p?.pairs ?? []).map((pair, i) => ({ phase: `${name} c=${p?.concurrency ?? 1} #${i + 1}`, nodes: pair.ratify.nodes ?? [] }));
  const unpaired = (
    name: string,
    runs: ReadonlyArray<{ concurrency: number; nodes: readonly NodePhaseStats[] }>,
    p: PairedComparison | null | undefined,
  ): NamedNodes[] =>
    runs
      .filter((run) => p === null || p === undefined || run.concurrency !== p.concurrency)
      .map((run) => ({ phase: `${name} c=${run.concurrency}`, nodes: run.nodes }));
  return [
    ...paired('writes', r.writes.pairs),
    ...unpaired('writes', r.writes.runs, r.writes.pairs),
    ...paired('tx', r.tx.pairs),
    ...unpaired('tx', r.tx.runs, r.tx.pairs),
  ];
}

function eventLoopTable(r: Input): Table {
  const rows = ratifyPhases(r).flatMap(({ phase, nodes }) =>
    nodes.flatMap((n) =>
      n.eventLoopDelay === undefined || n.eventLoopDelay === null
        ? []
        : [
            [
              phase,
              `${n.id}${n.leader ? ' (leader)' : ''}`,
              fmtMs(n.eventLoopDelay.p50Ms),
              fmtMs(n.eventLoopDelay.p99Ms),
              fmtMs(n.eventLoopDelay.p999Ms),
              fmtMs(n.eventLoopDelay.maxMs),
              n.loopWaitPercent === undefined || n.loopWaitPercent === null ? '-' : n.loopWaitPercent.toFixed(0),
            ],
          ],
    ),
  );
  return {
    title:
      'Event-loop delay of each Ratify node per phase, warm-up included (ratify_event_loop_delay_seconds: lateness of a timer due every 10 ms), and the share of the phase its main thread was ready to run but waited for a core (/proc/PID/schedstat)',
    headers: ['phase', 'node', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'waiting for a core %'],
    rows,
  };
}

function peakTable(peaks: NonNullable<Input['peakRssWholeRun']>): Table {
  return {
    title:
      'Peak RSS of every process over the whole run (VmHWM read before every kill and stop, so kills, new leaders and restarted nodes count)',
    headers: ['process', 'peak RSS'],
    rows: peaks.map((p) => [p.name, fmtBytes(p.peakRssBytes)]),
  };
}

export function payloadLine(p: Payloads): string {
  return `Payloads: etcd put values and Ratify KV values are the same bytes, record ${p.recordValueBytes} B (key ${p.recordKeyBytes} B) and decision ${p.decisionValueBytes} B (key ${p.decisionKeyBytes} B); request bodies: etcd put ${p.etcdPutBodyBytes.join(' / ')} B (base64), Ratify KV PUT ${p.ratifyKvBodyBytes.join(' / ')} B, Ratify 2-participant tx POST ${p.ratifyTxBodyBytes} B`;
}

/** One line per measured phase with the CPU of every process on the machine. */
export function cpuLines(r: Input): string[] {
  const lines: string[] = [];
  const add = (label: string, cpu: PhaseCpu | null | undefined): void => {
    if (cpu !== null && cpu !== undefined) lines.push(formatPhaseCpu(label, cpu));
  };
  for (const run of r.etcd.runs) if (run.tx.phases === undefined) add(`etcd c=${run.concurrency}`, run.tx.processCpu);
  for (const [name, p] of [
    ['writes', r.writes.pairs],
    ['tx', r.tx.pairs],
  ] as const) {
    for (const [i, pair] of (p?.pairs ?? []).entries()) {
      add(`ratify ${name} c=${p?.concurrency} #${i + 1}`, pair.ratify.processCpu);
      add(`etcd (${p?.etcdOp}) c=${p?.concurrency} #${i + 1}`, pair.etcd.processCpu);
    }
  }
  for (const run of r.writes.runs) if (run.writes.phases === undefined) add(`ratify writes c=${run.concurrency}`, run.writes.processCpu);
  for (const run of r.tx.runs) if (run.tx.phases === undefined) add(`ratify tx c=${run.concurrency}`, run.tx.processCpu);
  return lines.length === 0
    ? []
    : [
        'CPU of every process per phase (% of one core; "bench" is the load generator, named ones are the benchmark\'s clusters):',
        ...lines,
      ];
}

export function checkPerfText(r: Input): string | null {
  const c = r.etcd.checkPerf;
  if (c === undefined) return null;
  return [
    `etcd's own check, \`${c.command}\`: ${c.passed === null ? 'could not run' : c.passed ? 'PASS' : 'FAIL'}`,
    ...c.lines.map((l) => `  ${l}`),
  ].join('\n');
}
