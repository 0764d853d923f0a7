// What every benchmark section gets: options, the process supervisor, the
// shared keep-alive HTTP pools and the progress line.
import type { DiskStallMonitor } from './disk-stalls.js';
import type { HttpClients } from './http.js';
import type { BenchOptions } from './options.js';
import type { Progress } from './progress.js';
import type { PeakRssBook } from './resources.js';
import type { Stage } from './stage.js';
import type { Supervisor } from './supervisor.js';

export interface BenchContext {
  readonly opts: BenchOptions;
  readonly sup: Supervisor;
  readonly http: HttpClients;
  readonly progress: Progress;
  /** Absolute path of dist/src/cli.js. */
  readonly cliPath: string;
  /** Which system runs; the others are paused. */
  readonly stage: Stage;
  /** Peak RSS of every process over the whole run. */
  readonly rss: PeakRssBook;
  /** The benchmark's own processes by PID (itself included), for the per-phase CPU of every process. */
  processLabels(): ReadonlyMap<number, string>;
  /** Stalls of the disk under the clusters' data; null where it cannot be sampled. */
  readonly diskStalls: DiskStallMonitor | null;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
