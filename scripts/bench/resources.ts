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
 * The peak RSS (VmHWM) of every process the benchmark ran, by the name it was
 * started as, over the whole run: a SIGKILLed process takes its VmHWM with it
 * and a restarted node starts from zero, so the supervisor reads it just before
 * every kill and stop (Supervisor.onBeforeExit), and the maximum over
 * incarnations is what a user provisions for. VmHWM is a high-water mark, so no
 * periodic sampling is needed, and nothing ticks while a phase is measured.
 */
export class PeakRssBook {
  private readonly peaks = new Map<string, number>();

  sample(name: string, pid: number): void {
    const bytes = peakRssBytes(pid);
    if (bytes !== null && bytes > (this.peaks.get(name) ?? 0)) this.peaks.set(name, bytes);
  }

  sampleAll(targets: ReadonlyArray<{ name: string; pid: number }>): void {
    for (const t of targets) this.sample(t.name, t.pid);
  }

  peakBytes(name: string): number | null {
    return this.peaks.get(name) ?? null;
  }

  /** Every process seen, in the order first seen. */
  all(): Array<{ name: string; peakRssBytes: number }> {
    return [...this.peaks].map(([name, peakRssBytes]) => ({ name, peakRssBytes }));
  }
}
