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
import { resolveNodeConfig } from './config.js';
import type { LocalNodePlan } from './local-cluster.js';
import { parseNodeArgs } from './node-options.js';
import { loadTlsMaterial } from './tls-files.js';

/** Problems in the nodes' configurations, each once, with the nodes it applies to ("n1, n2, n3: ..."). Empty when all are fine. */
export function preflightLocalCluster(plan: readonly LocalNodePlan[], env: Readonly<Record<string, string | undefined>>): string[] {
  const nodesByProblem = new Map<string, string[]>();
  for (const node of plan) {
    for (const problem of nodeProblems(node, env)) nodesByProblem.set(problem, [...(nodesByProblem.get(problem) ?? []), node.id]);
  }
  return [...nodesByProblem].map(([problem, ids]) => `${ids.join(', ')}: ${problem}`);
}

function nodeProblems(node: LocalNodePlan, env: Readonly<Record<string, string | undefined>>): string[] {
  try {
    const config = resolveNodeConfig({ ...parseNodeArgs(node.args), env });
    loadTlsMaterial(config);
    return [];
  } catch (e) {
    if (isRatifyError(e, 'CONFIG_INVALID')) {
      const errors = e.details?.['errors'];
      return Array.isArray(errors) ? errors.map(String) : [e.message];
    }
    if (e instanceof Error) return [e.message];
    throw e;
  }
}
