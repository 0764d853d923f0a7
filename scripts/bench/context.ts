// What every benchmark section gets: options, the process supervisor, the
// shared keep-alive HTTP pools and the progress line.
import type { HttpClients } from './http.js';
import type { BenchOptions } from './options.js';
import type { Progress } from './progress.js';
import type { Supervisor } from './supervisor.js';

export interface BenchContext {
  readonly opts: BenchOptions;
  readonly sup: Supervisor;
  readonly http: HttpClients;
  readonly progress: Progress;
  /** Absolute path of dist/src/cli.js. */
  readonly cliPath: string;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
