// `ratify cluster` checks every node's whole configuration before it spawns any.
//
// Without this, a bad flag passed through to the nodes (a cluster secret under 16
// characters, a missing certificate) printed the cluster's banner with its URLs and
// PIDs, then every node exited on the same error: the banner said "running" when
// nothing was. The check resolves each node's configuration exactly as the node will
// (the same flags parser, the same environment, the same config file, its TLS files
// read), so what passes here fails in a child only for what cannot be known before
// it runs (a port taken, a data directory that fails its checks).
import { isRatifyError } from '../errors.js';
import { resolveNodeConfig, type NodeConfig } from './config.js';
import type { LocalNodePlan } from './local-cluster.js';
import { parseNodeArgs } from './node-options.js';
import { loadTlsMaterial } from './tls-files.js';

export interface Preflight {
  /** Each problem once, with the nodes it applies to ("n1, n2, n3: ..."). Empty when all are fine. */
  readonly problems: string[];
  /** The nodes' configurations, when there are no problems. */
  readonly configs: NodeConfig[];
}

export function preflightLocalCluster(plan: readonly LocalNodePlan[], env: Readonly<Record<string, string | undefined>>): Preflight {
  const nodesByProblem = new Map<string, string[]>();
  const configs: NodeConfig[] = [];
  for (const node of plan) {
    const result = checkNode(node, env);
    if ('problems' in result)
      for (const problem of result.problems) nodesByProblem.set(problem, [...(nodesByProblem.get(problem) ?? []), node.id]);
    else configs.push(result);
  }
  const problems = [...nodesByProblem].map(([problem, ids]) => `${ids.join(', ')}: ${problem}`);
  return { problems, configs: problems.length === 0 ? configs : [] };
}

function checkNode(node: LocalNodePlan, env: Readonly<Record<string, string | undefined>>): NodeConfig | { problems: string[] } {
  try {
    const config = resolveNodeConfig({ ...parseNodeArgs(node.args), env });
    loadTlsMaterial(config);
    return config;
  } catch (e) {
    if (isRatifyError(e, 'CONFIG_INVALID')) {
      const errors = e.details?.['errors'];
      return { problems: Array.isArray(errors) ? errors.map(String) : [e.message] };
    }
    if (e instanceof Error) return { problems: [e.message] };
    throw e;
  }
}
