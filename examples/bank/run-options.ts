// Command-line options of run.ts, parsed and validated apart from the script so
// tests can check them without starting anything.
import { parseArgs } from 'node:util';

export const CLUSTER_NODES = 3;
export const BASE_PORT_DEFAULT = 7001;
/** The last node listens on basePort + CLUSTER_NODES - 1, which must still be a port. */
const BASE_PORT_MAX = 65535 - (CLUSTER_NODES - 1);

export interface RunOptions {
  /** Keep data and logs here; a temp dir (removed after) when absent. */
  readonly dataDir: string | undefined;
  /** Port of the first cluster node; the others take the next ones. */
  readonly basePort: number;
}

export const USAGE = `usage: run.js [--data <dir>] [--base-port <port>]   (cluster on 127.0.0.1:<port>..<port+${CLUSTER_NODES - 1}>, default ${BASE_PORT_DEFAULT})`;

/** Throws an Error whose message names the bad value and the limit. */
export function parseRunOptions(argv: readonly string[]): RunOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: { data: { type: 'string' }, 'base-port': { type: 'string', default: String(BASE_PORT_DEFAULT) } },
  });
  const raw = values['base-port'];
  const basePort = /^\d{1,5}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(basePort) || basePort < 1 || basePort > BASE_PORT_MAX) {
    throw new Error(
      `--base-port (${raw}) must be an integer between 1 and ${BASE_PORT_MAX} (${CLUSTER_NODES} nodes take consecutive ports)`,
    );
  }
  return { dataDir: values.data, basePort };
}

/** The cluster's node URLs and the `ratify cluster` arguments for a base port. */
export function clusterPlan(basePort: number, dataDir: string): { urls: string[]; args: string[] } {
  const urls = Array.from({ length: CLUSTER_NODES }, (_, i) => `http://127.0.0.1:${basePort + i}`);
  return { urls, args: ['cluster', '--nodes', String(CLUSTER_NODES), '--base-port', String(basePort), '--data', dataDir] };
}
