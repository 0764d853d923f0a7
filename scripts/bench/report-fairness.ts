// The parts of the report that say how fair the comparison was (README,
// "Performance"): the alternating pairs at concurrency 1 and their spread,
// etcd's phases before and after Ratify's at the other concurrencies, the
// payload sizes, the CPU of every process per phase, each Ratify node's
// event-loop delay per phase, the disk's stalls per phase, the peak RSS of every process over the whole run,
// and etcd's own `etcdctl check perf`. Pure, like report.ts.
import { DISK_STALL_MIN_MS, DISK_STALL_SAMPLE_MS, type PhaseDiskStalls, type TailOverlap } from './disk-stalls.js';
import type { NodePhaseStats } from './node-stats.js';
import { formatSpread, type PairedComparison } from './pairs.js';
import { formatPhaseCpu, type PhaseCpu } from './proc-cpu.js';
import type { BenchReport, Payloads, Series } from './results.js';
import { fmtBytes, fmtMs, fmtRate, type Table } from './table.js';

type Input = Pick<BenchReport, 'etcd' | 'writes' | 'tx'> & Partial<Pick<BenchReport, 'payloads' | 'peakRssWholeRun'>>;

export function fairnessTables(r: Input): Table[] {
  const tables = [
    ...[r.writes.pairs, r.tx.pairs].flatMap((p, i) =>
      p === undefined || p === null ? [] : [pairsTable(i === 0 ? 'Ratify writes' : 'Ratify 2-participant tx', p)],
    ),
    bracketTable(r),
    eventLoopTable(r),
    diskStallTable(r),
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

/** etcd's two phases at each concurrency that did not alternate with Ratify's, beside the pooled figures the tables use. */
function bracketTable(r: Input): Table {
  const rows = r.etcd.runs.flatMap((run) =>
    run.bracket === undefined
      ? []
      : [
          ...run.bracket.map((p, i) => [String(run.concurrency), `#${i + 1}`, ...etcdFigures(p.puts, p.tx)]),
          [String(run.concurrency), 'pooled', ...etcdFigures(run.puts, run.tx)],
        ],
  );
  return {
    title:
      "etcd at the concurrencies that do not alternate with Ratify's: a phase before Ratify's phases (#1) and one after them (#2); the tables and goals use the two pooled",
    headers: ['conc', 'phase', 'puts/s', 'put p50', 'put p99', 'put p99.9', 'two-put tx/s', 'two-put p50', 'two-put p99', 'two-put p99.9'],
    rows,
  };
}

function etcdFigures(puts: Series, tx: Series): string[] {
  return [puts, tx].flatMap((s) => [fmtRate(s.ratePerSec), fmtMs(s.latency.p50Ms), fmtMs(s.latency.p99Ms), fmtMs(s.latency.p999Ms)]);
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
              n.gcMs === undefined || n.gcMs === null ? '-' : n.gcMs.toFixed(0),
              n.longGcPauses === undefined || n.longGcPauses === null ? '-' : String(n.longGcPauses),
            ],
          ],
    ),
  );
  return {
    title:
      'Event-loop delay of each Ratify node per phase, warm-up included (ratify_event_loop_delay_seconds: lateness of a timer due every 10 ms), the share of the phase its main thread was ready to run but waited for a core (/proc/PID/schedstat), and its garbage-collection pauses (nodejs_gc_duration_seconds: their sum, and how many lasted over 10 ms)',
    headers: ['phase', 'node', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'waiting for a core %', 'GC ms', 'GC pauses > 10 ms'],
    rows,
  };
}

/**
 * Disk stalls per phase, etcd's and Ratify's alike, and how many of each
 * phase's slowest operations ran into one (disk-stalls.ts): every replica of
 * both clusters writes to the one device, so a stall holds every quorum.
 */
export function diskStallTable(r: Input): Table {
  const phases = measuredPhases(r, true).flatMap(({ label, side }) =>
    side.diskStalls === null || side.diskStalls === undefined ? [] : [{ label, d: side.diskStalls }],
  );
  const share = (t: TailOverlap): string => `${t.duringStall} of ${t.ops}`;
  const device = phases[0]?.d.device;
  return {
    title: `Disk stalls per phase: stretches in which the block device under every cluster's data${device === undefined ? '' : ` (${device})`} had requests in flight and completed none for at least ${DISK_STALL_MIN_MS} ms (its /sys/dev/block stat file read every ${DISK_STALL_SAMPLE_MS} ms), and how many of the phase's slowest operations overlapped one`,
    headers: ['phase', 'stalls', 'longest ms', 'stalled ms', 'slowest 1 % in a stall', 'slowest 0.1 % in a stall'],
    rows: phases.map(({ label, d }) => [
      label,
      String(d.stalls),
      d.stalls === 0 ? '-' : String(d.longestMs),
      String(d.stalledMs),
      share(d.slowest1),
      share(d.slowest01),
    ]),
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

/** What every measured phase reports about the machine around it. */
interface PhaseSide {
  readonly processCpu?: PhaseCpu | null;
  readonly diskStalls?: PhaseDiskStalls | null;
}

/**
 * Every measured phase, labelled, in the order the report lists them: etcd's
 * unpaired phases (as two-put operations; with `etcdPuts`, as single puts too),
 * the alternating pairs, then Ratify's unpaired phases.
 */
function measuredPhases(r: Input, etcdPuts: boolean): Array<{ readonly label: string; readonly side: PhaseSide }> {
  const out: Array<{ label: string; side: PhaseSide }> = [];
  for (const run of r.etcd.runs) {
    // A run pooled from the alternating pairs is listed with them; one bracketing Ratify's phases, phase by phase.
    const phases = run.bracket ?? (run.tx.phases === undefined ? [run] : []);
    for (const [i, p] of phases.entries()) {
      const n = run.bracket === undefined ? '' : ` #${i + 1}`;
      if (etcdPuts) out.push({ label: `etcd put c=${run.concurrency}${n}`, side: p.puts });
      out.push({ label: etcdPuts ? `etcd two-put c=${run.concurrency}${n}` : `etcd c=${run.concurrency}${n}`, side: p.tx });
    }
  }
  for (const [name, p] of [
    ['writes', r.writes.pairs],
    ['tx', r.tx.pairs],
  ] as const) {
    for (const [i, pair] of (p?.pairs ?? []).entries()) {
      out.push({ label: `ratify ${name} c=${p?.concurrency} #${i + 1}`, side: pair.ratify });
      out.push({ label: `etcd (${p?.etcdOp}) c=${p?.concurrency} #${i + 1}`, side: pair.etcd });
    }
  }
  for (const run of r.writes.runs)
    if (run.writes.phases === undefined) out.push({ label: `ratify writes c=${run.concurrency}`, side: run.writes });
  for (const run of r.tx.runs) if (run.tx.phases === undefined) out.push({ label: `ratify tx c=${run.concurrency}`, side: run.tx });
  return out;
}

/** One line per measured phase with the CPU of every process on the machine. */
export function cpuLines(r: Input): string[] {
  const lines = measuredPhases(r, false).flatMap(({ label, side }) =>
    side.processCpu === null || side.processCpu === undefined ? [] : [formatPhaseCpu(label, side.processCpu)],
  );
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
