// Live progress on stderr: one line redrawn in place on a terminal, a plain line every
// few seconds otherwise (CI logs). Event lines (faults) print above the live line.
import type { KvCounts } from './kv-workload.js';
import type { WorkloadCounts } from './workload.js';

export interface ProgressSample {
  readonly elapsedMs: number;
  /** Operations finished so far (the rate is taken over these) and their unit. */
  readonly finished: number;
  readonly unit: 'tx' | 'ops';
  /** What the workload counts, as text. */
  readonly counts: string;
  readonly faults: Readonly<Record<string, number>>;
  readonly leader: string | null;
  readonly down: readonly string[];
  readonly phase: string;
}

export interface ProgressSink {
  start(sample: () => ProgressSample): void;
  log(line: string): void;
  stop(): void;
}

const TTY_REDRAW_MS = 250;
const LINE_EVERY_MS = 5_000;
/** The rate over this trailing window, so a stall shows at once. */
const RATE_WINDOW_MS = 5_000;

export function createProgress(stream: NodeJS.WriteStream = process.stderr, mode: 'auto' | 'tty' | 'lines' | 'off' = 'auto'): ProgressSink {
  const resolved = mode === 'auto' ? (stream.isTTY === true ? 'tty' : 'lines') : mode;
  if (resolved === 'off') return { start: () => undefined, log: () => undefined, stop: () => undefined };
  const tty = resolved === 'tty';
  let timer: NodeJS.Timeout | null = null;
  let sampler: (() => ProgressSample) | null = null;
  let drawn = false;
  const history: { atMs: number; finished: number }[] = [];
  const clear = (): void => {
    if (tty && drawn) stream.write('\r\x1b[2K');
    drawn = false;
  };
  const draw = (): void => {
    if (sampler === null) return;
    const line = formatProgress(sampler(), history);
    if (tty) {
      clear();
      stream.write(line.slice(0, Math.max(20, (stream.columns ?? 120) - 1)));
      drawn = true;
    } else {
      stream.write(`${line}\n`);
    }
  };
  return {
    start(sample) {
      sampler = sample;
      timer = setInterval(draw, tty ? TTY_REDRAW_MS : LINE_EVERY_MS);
      timer.unref();
    },
    log(line) {
      clear();
      stream.write(`${line}\n`);
      if (tty) draw();
    },
    stop() {
      if (timer !== null) clearInterval(timer);
      timer = null;
      draw();
      if (tty) stream.write('\n');
      drawn = false;
      sampler = null;
    },
  };
}

export function txProgress(c: WorkloadCounts): Pick<ProgressSample, 'finished' | 'unit' | 'counts'> {
  return {
    finished: c.committed + c.aborted,
    unit: 'tx',
    counts: `committed ${c.committed} aborted ${c.aborted} unknown ${c.unknown}${c.rejected > 0 ? ` REJECTED ${c.rejected}` : ''}`,
  };
}

export function kvProgress(c: KvCounts): Pick<ProgressSample, 'finished' | 'unit' | 'counts'> {
  return { finished: c.putsOk + c.getsOk, unit: 'ops', counts: `puts ${c.putsOk} gets ${c.getsOk} unknown ${c.unknown}` };
}

export function formatProgress(s: ProgressSample, history: { atMs: number; finished: number }[]): string {
  const finished = s.finished;
  history.push({ atMs: s.elapsedMs, finished });
  while (history.length > 2 && history[0]!.atMs < s.elapsedMs - RATE_WINDOW_MS) history.shift();
  const first = history[0]!;
  const spanS = (s.elapsedMs - first.atMs) / 1000;
  const rate = spanS > 0 ? (finished - first.finished) / spanS : 0;
  const faults = Object.entries(s.faults)
    .map(([k, n]) => `${k}s ${n}`)
    .join(' ');
  return (
    `[${(s.elapsedMs / 1000).toFixed(0).padStart(4)}s ${s.phase}] ${rate.toFixed(1).padStart(5)} ${s.unit}/s  ` +
    `${s.counts}  ${faults}  leader ${s.leader ?? 'none'}` +
    `${s.down.length > 0 ? `  down ${s.down.join(',')}` : ''}`
  );
}
