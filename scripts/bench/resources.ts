// Resource measurements: peak resident memory per process (Linux VmHWM) and
// the bytes a data folder holds on disk.
import { type Dirent, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Peak RSS in bytes of a live process (VmHWM), or null when it is gone or not on Linux. */
export function peakRssBytes(pid: number): number | null {
  return statusFieldBytes(pid, 'VmHWM');
}

export function rssBytes(pid: number): number | null {
  return statusFieldBytes(pid, 'VmRSS');
}

function statusFieldBytes(pid: number, field: string): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    return match?.[1] === undefined ? null : Number(match[1]) * 1024;
  } catch {
    return null;
  }
}

/** Apparent size of every file under `dir` (what LevelDB wrote, before the file system rounds up). */
export function directoryBytes(dir: string): number {
  let total = 0;
  const walk = (d: string): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return; // Deleted by a compaction while we walked.
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        try {
          total += statSync(p).size;
        } catch {
          // Same race as above.
        }
      }
    }
  };
  walk(dir);
  return total;
}

/**
 * Samples VmHWM of a changing set of processes and keeps the maximum per name.
 * WHY sample: a SIGKILLed process takes its VmHWM with it, and a restarted node
 * starts from zero; the maximum over incarnations is what a user provisions for.
 */
export class PeakRssSampler {
  private readonly peaks = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly targets: () => ReadonlyArray<{ name: string; pid: number }>) {}

  start(intervalMs: number): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.sample();
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  peakBytesByName(): ReadonlyMap<string, number> {
    return this.peaks;
  }

  sample(): void {
    for (const t of this.targets()) {
      const bytes = peakRssBytes(t.pid);
      if (bytes !== null && bytes > (this.peaks.get(t.name) ?? 0)) this.peaks.set(t.name, bytes);
    }
  }
}
