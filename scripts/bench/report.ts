// Turns the measured sections into the printed tables and the goal checks
// (README, "Performance"). Pure: no I/O, so it is unit-tested on hand-made results.
import { SLOW_SAVE_SECONDS, type NodePhaseStats } from './node-stats.js';
import type {
  BenchReport,
  EtcdSection,
  FailoverSection,
  Goal,
  NodeResources,
  Section,
  Series,
  TxSection,
  WritesSection,
} from './results.js';
import { caughtUpBy } from './failover.js';
import { secondRoundGoals } from './goals-second-round.js';
import { checkPerfText, cpuLines, fairnessTables, payloadLine } from './report-fairness.js';
import { fmtBytes, fmtMs, fmtRate, fmtRatio, renderTable, type Table } from './table.js';

const TX_GOAL_PER_SEC = 2000;
const TX_GOAL_CONCURRENCY = 64;
const FAILOVER_GOAL_MS = 1000;
/** The goal's "200 MB", read the strict way: 200,000,000 bytes (190.7 MiB), not 200 MiB. */
const RSS_GOAL_BYTES = 200 * 1000 * 1000;
const RSS_GOAL_TX = 100_000;

type Sections = Pick<BenchReport, 'etcd' | 'writes' | 'tx' | 'failover'>;

/** The tables of the sections that measured something (an empty one would be all dashes). */
export function buildTables(r: Sections): Table[] {
  const tables = [
    txTable(r.tx, r.etcd),
    writesTable(r.writes, r.etcd),
    boundsTable(r.writes, r.tx),
    ...(r.failover.kills.length > 0 ? [failoverTable(r.failover)] : []),
    resourcesTable(r.tx, r.writes, r.etcd),
  ];
  return tables.filter((t) => t.rows.length > 0);
}

export function renderReport(
  r: Sections & Pick<BenchReport, 'goals' | 'machine' | 'startedAt'> & Partial<Pick<BenchReport, 'payloads' | 'peakRssWholeRun'>>,
): string {
  const head = `Ratify benchmark, ${r.startedAt}: ${r.machine.cpus} x ${r.machine.cpuModel}, ${fmtBytes(r.machine.memoryBytes)} RAM, ${r.machine.os}, node ${r.machine.node}, etcd ${r.etcd.version ?? 'not run'}`;
  const notes = [r.etcd, r.writes, r.tx, r.failover]
    .map((s, i) => sectionNote(['etcd baseline', 'raw writes', 'transactions', 'failover'][i] ?? '', s))
    .filter((n): n is string => n !== null);
  const checkPerf = checkPerfText(r);
  const cpu = cpuLines(r);
  return [
    head,
    ...notes,
    ...(r.payloads === undefined ? [] : [payloadLine(r.payloads)]),
    ...buildTables(r).map(renderTable),
    ...fairnessTables(r).map(renderTable),
    ...(cpu.length === 0 ? [] : [cpu.join('\n')]),
    ...(checkPerf === null ? [] : [checkPerf]),
    renderTable(goalsTable(r.goals)),
  ].join('\n\n');
}

function sectionNote(name: string, s: Section): string | null {
  return s.status === 'ok' ? null : `(${name} ${s.status}: ${s.reason ?? 'no reason given'})`;
}

function concurrencies(...lists: ReadonlyArray<ReadonlyArray<{ concurrency: number }>>): number[] {
  return [...new Set(lists.flatMap((l) => l.map((x) => x.concurrency)))].sort((a, b) => a - b);
}

function txTable(tx: TxSection, etcd: EtcdSection): Table {
  const rows = concurrencies(tx.runs, etcd.runs).map((c) => {
    const t = tx.runs.find((x) => x.concurrency === c);
    const e = etcd.runs.find((x) => x.concurrency === c);
    return [
      String(c),
      fmtRate(t?.tx.ratePerSec),
      fmtMs(t?.tx.latency.p50Ms),
      fmtMs(t?.tx.latency.p99Ms),
      fmtMs(t?.tx.latency.p999Ms),
      fmtMs(t?.acks.p50Ms),
      fmtMs(t?.acks.p99Ms),
      fmtMs(t?.acks.p999Ms),
      t === undefined ? '-' : String(t.tx.errors),
      fmtRate(e?.tx.ratePerSec),
      fmtMs(e?.tx.latency.p50Ms),
      fmtMs(e?.tx.latency.p99Ms),
      fmtRatio(t?.tx.ratePerSec, e?.tx.ratePerSec),
    ];
  });
  return {
    title:
      '2PC transactions, 2 participants (ratify: POST to durable decision; acks: POST to last participant commit; etcd: record put + decision put)',
    headers: [
      'conc',
      'tx/s',
      'p50 ms',
      'p99 ms',
      'p99.9 ms',
      'acks p50',
      'acks p99',
      'acks p99.9',
      'errors',
      'etcd tx/s',
      'etcd p50',
      'etcd p99',
      'ratify/etcd',
    ],
    rows,
  };
}

function writesTable(w: WritesSection, etcd: EtcdSection): Table {
  const rows = concurrencies(w.runs, etcd.runs).map((c) => {
    const r = w.runs.find((x) => x.concurrency === c)?.writes;
    const e = etcd.runs.find((x) => x.concurrency === c)?.puts;
    return [
      String(c),
      fmtRate(r?.ratePerSec),
      fmtMs(r?.latency.p50Ms),
      fmtMs(r?.latency.p99Ms),
      fmtMs(r?.latency.p999Ms),
      r === undefined ? '-' : String(r.errors),
      fmtRate(e?.ratePerSec),
      fmtMs(e?.latency.p50Ms),
      fmtMs(e?.latency.p99Ms),
      fmtMs(e?.latency.p999Ms),
      fmtRatio(r?.ratePerSec, e?.ratePerSec),
    ];
  });
  return {
    title: `Raw replicated writes (ratify: ${w.path ?? 'not run'}; etcd: POST /v3/kv/put)`,
    headers: [
      'conc',
      'writes/s',
      'p50 ms',
      'p99 ms',
      'p99.9 ms',
      'errors',
      'etcd puts/s',
      'etcd p50',
      'etcd p99',
      'etcd p99.9',
      'ratify/etcd',
    ],
    rows,
  };
}

/** CPU and storage per phase: a node near 100% CPU is CPU-bound; else the fsync chain and round trips are. */
function boundsTable(w: WritesSection, tx: TxSection): Table {
  const row = (phase: string, c: number, series: Series, nodes: readonly NodePhaseStats[]): string[] => {
    const leader = nodes.find((n) => n.leader);
    const followerCpu = nodes.filter((n) => !n.leader).map((n) => n.cpuPercent ?? Number.NaN);
    const followerSlowSaves = nodes.filter((n) => !n.leader).map((n) => n.slowSaves ?? Number.NaN);
    const num = (v: number | null | undefined, digits: number): string =>
      v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits);
    return [
      phase,
      String(c),
      num(series.machineCpuPercent, 0),
      num(leader?.cpuPercent, 0),
      num(followerCpu.length === 0 ? null : Math.max(...followerCpu), 0),
      num(leader?.fsyncsPerSec, 0),
      num(leader?.entriesPerFsync, 2),
      num(leader?.meanFsyncMs, 2),
      num(leader?.entriesPerOp, 2),
      num(leader?.fsyncsPerOp, 2),
      num(leader?.cpuMsPerOp, 3),
      num(leader?.envelopesPerOp, 2),
      num(leader?.participantRequestsPerOp, 2),
      `${num(leader?.slowSaves, 0)} / ${num(followerSlowSaves.length === 0 ? null : Math.max(...followerSlowSaves), 0)}`,
    ];
  };
  return {
    title:
      "What bounds it: machine CPU (% of all cores), node CPU (% of one core) and the leader's synced storage writes, per phase (node counters include warm-up)",
    headers: [
      'phase',
      'conc',
      'machine CPU %',
      'leader CPU %',
      'follower CPU % (max)',
      'leader fsyncs/s',
      'entries/fsync',
      'ms/fsync',
      'entries/op',
      'fsyncs/op',
      'leader CPU ms/op',
      'raft envelopes/op',
      'participant requests/op',
      `saves > ${SLOW_SAVE_SECONDS * 1000} ms, leader / follower (max)`,
    ],
    rows: [
      ...w.runs.map((r) => row('writes', r.concurrency, r.writes, r.nodes)),
      ...tx.runs.map((r) => row('tx', r.concurrency, r.tx, r.nodes)),
    ],
  };
}

function failoverTable(f: FailoverSection): Table {
  const rows = f.kills.map((k, i) => [
    String(i + 1),
    k.killed,
    k.newLeader ?? '-',
    fmtMs(k.recoveryMs),
    String(k.failedRequests),
    caughtUpBy(k),
  ]);
  rows.push(['p50', '', '', fmtMs(f.p50Ms), '', ''], ['max', '', '', fmtMs(f.maxMs), '', '']);
  return {
    title: `Failover: SIGKILL the leader under ${f.concurrency}-way transaction load; time until a transaction started after the kill commits (peak RSS of any node by the end: ${fmtBytes(f.peakRssBytes)})`,
    headers: ['kill', 'killed', 'new leader', 'recovery ms', 'failed requests', 'restart caught up by'],
    rows,
  };
}

function resourcesTable(tx: TxSection, w: WritesSection, etcd: EtcdSection): Table {
  const row = (cluster: string, n: NodeResources, perTx: string): string[] => [
    `${cluster} ${n.id}`,
    fmtBytes(n.peakRssBytes),
    fmtBytes(n.rssBytes),
    fmtBytes(n.diskBytes),
    perTx,
  ];
  const per = (bytes: number, count: number): string => (count > 0 ? `${Math.round(bytes / count)} B` : '-');
  return {
    title: `Resources before the kills (ratify tx cluster after ${tx.finishedTx.toLocaleString('en-US')} finished transactions, etcd after ${etcd.txWritten.toLocaleString('en-US')} record+decision pairs; peak RSS = max VmHWM over incarnations)`,
    headers: ['node', 'peak RSS', 'RSS at end', 'data on disk', 'disk per tx'],
    rows: [
      ...tx.nodes.map((n) => row('ratify tx', n, per(n.diskBytes, tx.finishedTx))),
      ...w.nodes.map((n) => row('ratify writes', n, '-')),
      ...etcd.nodes.map((n) => row('etcd', n, per(n.diskBytes, etcd.txWritten))),
    ],
  };
}

function goalsTable(goals: readonly Goal[]): Table {
  return {
    title: 'Goals',
    headers: ['goal', 'target', 'actual', 'met'],
    rows: goals.map((g) => [g.name, g.target, g.actual, g.met === null ? 'not measured' : g.met ? 'yes' : 'NO']),
    align: ['left', 'left', 'left', 'left'],
  };
}

/** The first round's four goals, then the second round's (goals-second-round.ts). */
export function computeGoals(r: Sections & Partial<Pick<BenchReport, 'peakRssWholeRun'>>): Goal[] {
  return [writesGoal(r.writes, r.etcd), txGoal(r.tx), failoverGoal(r.failover), rssGoal(r.tx), ...secondRoundGoals(r)];
}

function writesGoal(w: WritesSection, etcd: EtcdSection): Goal {
  const pairs = w.runs.flatMap((run) => {
    const e = etcd.runs.find((x) => x.concurrency === run.concurrency);
    return e === undefined || e.puts.ratePerSec <= 0 ? [] : [{ c: run.concurrency, ratio: run.writes.ratePerSec / e.puts.ratePerSec }];
  });
  const base = { name: 'replicated writes/s vs etcd puts/s', target: '>= 1.00x at every concurrency' };
  if (pairs.length === 0) return { ...base, actual: 'not measured', met: null };
  const worst = pairs.reduce((a, b) => (b.ratio < a.ratio ? b : a));
  return { ...base, actual: `worst ${worst.ratio.toFixed(2)}x at c=${worst.c}`, met: pairs.every((p) => p.ratio >= 1) };
}

function txGoal(tx: TxSection): Goal {
  const run = tx.runs.find((r) => r.concurrency === TX_GOAL_CONCURRENCY);
  const base = { name: `2-participant tx/s at c=${TX_GOAL_CONCURRENCY}`, target: `>= ${fmtRate(TX_GOAL_PER_SEC)}/s` };
  if (run === undefined) return { ...base, actual: 'not measured', met: null };
  return { ...base, actual: `${fmtRate(run.tx.ratePerSec)}/s`, met: run.tx.ratePerSec >= TX_GOAL_PER_SEC };
}

function failoverGoal(f: FailoverSection): Goal {
  const base = { name: 'failover p50 after leader SIGKILL', target: `< ${FAILOVER_GOAL_MS} ms` };
  if (f.p50Ms === null)
    return { ...base, actual: f.kills.length > 0 ? 'no recovery observed' : 'not measured', met: f.kills.length > 0 ? false : null };
  return { ...base, actual: `${fmtMs(f.p50Ms)} ms (max ${fmtMs(f.maxMs)} ms)`, met: f.p50Ms < FAILOVER_GOAL_MS };
}

function rssGoal(tx: TxSection): Goal {
  const base = { name: `peak RSS per node with ${fmtRate(RSS_GOAL_TX)} finished tx`, target: `< 200 MB (${fmtBytes(RSS_GOAL_BYTES)})` };
  const peaks = tx.nodes.map((n) => n.peakRssBytes).filter((b): b is number => b !== null);
  if (peaks.length === 0) return { ...base, actual: 'not measured', met: null };
  const max = Math.max(...peaks);
  const actual = `max ${fmtBytes(max)} with ${tx.finishedTx.toLocaleString('en-US')} tx`;
  // Below the transaction count the goal names, a pass proves nothing, but a miss is still a miss.
  if (tx.finishedTx < RSS_GOAL_TX) return { ...base, actual, met: max >= RSS_GOAL_BYTES ? false : null };
  return { ...base, actual, met: max < RSS_GOAL_BYTES };
}
