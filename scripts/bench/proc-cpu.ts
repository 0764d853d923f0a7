// CPU of every process on the machine over one phase, from /proc/<pid>/stat read
// before and after it. WHY every process: the machine is shared, and a
// neighbour's test run during one system's phase and not the other's decides a
// ratio as surely as either system does (README, "Performance"). The parsing
// and the arithmetic are pure; only readProcessCpu touches /proc.
import { readdirSync, readFileSync } from 'node:fs';

/** Linux reports utime/stime in clock ticks; 100 per second on every mainstream kernel config. */
const CLOCK_TICKS_PER_SEC = 100;
/** Processes listed by name per phase; the rest are summed. */
export const TOP_PROCESSES = 8;
/** A limit on what one snapshot holds, so a fork bomb next door cannot exhaust the benchmark. */
const PROCESSES_MAX = 100_000;

export interface ProcessCpuSample {
  readonly pid: number;
  readonly name: string;
  /** utime + stime of all the process's threads (children it waited for are not included). */
  readonly cpuMs: number;
  /** Start time in clock ticks since boot: tells a reused PID from the same process. */
  readonly startTicks: number;
}

export interface ProcessCpuShare {
  readonly pid: number;
  readonly name: string;
  /** What the benchmark started this process as ("etcd e1", "ratify tx n2", "bench"); null for a neighbour. */
  readonly label: string | null;
  readonly cpuMs: number;
  /** % of one core over the phase. */
  readonly percent: number;
}

export interface PhaseCpu {
  readonly elapsedMs: number;
  /** The top consumers, highest first, the benchmark's own labelled. */
  readonly top: readonly ProcessCpuShare[];
  /** CPU of the benchmark's own processes (load generator, clusters, participants), % of one core. */
  readonly benchPercent: number;
  /** CPU of every other process alive at both ends of the phase, % of one core. */
  readonly othersPercent: number;
  /** Busy CPU of the machine (/proc/stat) that no process alive at both ends accounts for: processes that started or ended during the phase, interrupts, steal. % of one core; null without /proc/stat. */
  readonly unattributedPercent: number | null;
}

/** One line of /proc/<pid>/stat; null when it does not parse. */
export function parseProcStat(text: string): ProcessCpuSample | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  // The command name (field 2) may hold spaces and parentheses; the fields after the last ")" are fixed.
  const fields = text
    .slice(close + 2)
    .trim()
    .split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const startTicks = Number(fields[19]);
  if (!Number.isInteger(pid) || !Number.isFinite(utime) || !Number.isFinite(stime) || !Number.isFinite(startTicks)) return null;
  return { pid, name: text.slice(open + 1, close), cpuMs: ((utime + stime) * 1000) / CLOCK_TICKS_PER_SEC, startTicks };
}

/** Every process's CPU so far, by PID (Linux; empty elsewhere). */
export function readProcessCpu(): Map<number, ProcessCpuSample> {
  const out = new Map<number, ProcessCpuSample>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (out.size >= PROCESSES_MAX) break;
    if (!/^\d+$/.test(entry)) continue;
    try {
      const sample = parseProcStat(readFileSync(`/proc/${entry}/stat`, 'utf8'));
      if (sample !== null) out.set(sample.pid, sample);
    } catch {
      // Exited between readdir and read.
    }
  }
  return out;
}

/**
 * The CPU each process used between two snapshots. A PID must be the same
 * process at both ends (same start time); `machineBusyMs` is the busy CPU of all
 * cores over the phase, for the share nobody alive at both ends accounts for.
 */
export function phaseCpu(
  before: ReadonlyMap<number, ProcessCpuSample>,
  after: ReadonlyMap<number, ProcessCpuSample>,
  elapsedMs: number,
  labels: ReadonlyMap<number, string>,
  machineBusyMs: number | null,
  topN: number = TOP_PROCESSES,
): PhaseCpu {
  const pct = (ms: number): number => (elapsedMs > 0 ? (100 * ms) / elapsedMs : 0);
  const shares: ProcessCpuShare[] = [];
  for (const [pid, a] of after) {
    const b = before.get(pid);
    if (b === undefined || b.startTicks !== a.startTicks) continue;
    const cpuMs = Math.max(0, a.cpuMs - b.cpuMs);
    const label = labels.get(pid) ?? null;
    if (cpuMs > 0 || label !== null) shares.push({ pid, name: a.name, label, cpuMs, percent: pct(cpuMs) });
  }
  shares.sort((x, y) => y.cpuMs - x.cpuMs || x.pid - y.pid);
  const sum = (list: readonly ProcessCpuShare[]): number => list.reduce((acc, s) => acc + s.cpuMs, 0);
  const bench = shares.filter((s) => s.label !== null);
  const others = shares.filter((s) => s.label === null);
  const attributed = sum(shares);
  return {
    elapsedMs,
    top: shares.filter((s) => s.cpuMs > 0).slice(0, topN),
    benchPercent: pct(sum(bench)),
    othersPercent: pct(sum(others)),
    unattributedPercent: machineBusyMs === null ? null : pct(Math.max(0, machineBusyMs - attributed)),
  };
}

/** Busy milliseconds of all cores between two /proc/stat readings (jiffies are clock ticks). */
export function busyMsBetween(a: { busy: number } | null, b: { busy: number } | null): number | null {
  return a === null || b === null ? null : ((b.busy - a.busy) * 1000) / CLOCK_TICKS_PER_SEC;
}

/** One line per phase: the machine's top consumers, the benchmark's own marked with their role. */
export function formatPhaseCpu(label: string, cpu: PhaseCpu): string {
  const top = cpu.top.map((s) => `${s.label ?? s.name}[${s.pid}] ${s.percent.toFixed(0)}%`).join(', ');
  const unattributed = cpu.unattributedPercent === null ? '' : `, unattributed ${cpu.unattributedPercent.toFixed(0)}%`;
  return `${label}: bench ${cpu.benchPercent.toFixed(0)}%, others ${cpu.othersPercent.toFixed(0)}%${unattributed} (% of one core) | top: ${top}`;
}

/** Gives neighbours in the top list their command line (a bare "node" says little); I/O, at phase end only. */
export function withCommandLines(cpu: PhaseCpu): PhaseCpu {
  const top = cpu.top.map((s) => {
    if (s.label !== null) return s;
    try {
      const cmd = readFileSync(`/proc/${s.pid}/cmdline`, 'utf8')
        .split('\0')
        .filter((p) => p !== '')
        .join(' ');
      return cmd === '' ? s : { ...s, name: shortCommand(cmd) };
    } catch {
      return s; // Gone already.
    }
  });
  return { ...cpu, top };
}

/** The program's base name and the start of its arguments, at most 60 characters. */
export function shortCommand(cmd: string): string {
  const [program = '', ...args] = cmd.split(' ');
  const base = program.slice(program.lastIndexOf('/') + 1);
  const text = [base, ...args.map((a) => (a.includes('/') ? a.slice(a.lastIndexOf('/') + 1) : a))].join(' ');
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
