// The live status line on stderr: phase, ops/s over the last tick, totals, elapsed.
// On a terminal it redraws one line; in a log (CI, `| tee`) it prints a line
// every few seconds instead, so the log stays readable.

export interface PhaseStats {
  readonly ok: number;
  readonly errors: number;
  readonly measuring: boolean;
}

export interface PhaseTicker {
  stop(): void;
}

const TTY_TICK_MS = 250;
const LOG_TICK_MS = 5000;

export class Progress {
  private readonly isTty: boolean;
  private liveLine = false;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {
    this.isTty = out.isTTY === true;
  }

  /** A message on its own line (clears the live line first). */
  note(message: string): void {
    this.clearLive();
    this.out.write(`${message}\n`);
  }

  startPhase(label: string, stats: () => PhaseStats): PhaseTicker {
    const startMs = performance.now();
    let lastMs = startMs;
    let lastOk = 0;
    const tick = (): void => {
      const nowMs = performance.now();
      const s = stats();
      const rate = ((s.ok - lastOk) * 1000) / Math.max(1, nowMs - lastMs);
      lastMs = nowMs;
      lastOk = s.ok;
      const line = formatLine(label, rate, s, (nowMs - startMs) / 1000);
      if (this.isTty) {
        this.out.write(`\r\x1b[K${line}`);
        this.liveLine = true;
      } else {
        this.out.write(`${line}\n`);
      }
    };
    const timer = setInterval(tick, this.isTty ? TTY_TICK_MS : LOG_TICK_MS);
    timer.unref();
    return {
      stop: () => {
        clearInterval(timer);
        this.clearLive();
      },
    };
  }

  private clearLive(): void {
    if (this.liveLine) {
      this.out.write('\r\x1b[K');
      this.liveLine = false;
    }
  }
}

export function formatLine(label: string, ratePerSec: number, s: PhaseStats, elapsedSec: number): string {
  const phase = s.measuring ? '' : ' (warm-up)';
  const rate = Math.round(ratePerSec).toLocaleString('en-US');
  return `[${label}]${phase} ${rate} ops/s  ok ${s.ok}  errors ${s.errors}  ${elapsedSec.toFixed(1)} s`;
}
