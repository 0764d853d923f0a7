// ratify status: every member's role, term, indexes, lag and health, as the node
// asked sees them (GET /v1/cluster/nodes, like `etcdctl endpoint status --cluster`).
import { Command } from 'commander';
import type { ClusterNodesView } from '../sdk/admin-types.js';
import { addConnectionOptions } from './connection.js';
import { EXIT } from './exit-codes.js';
import type { CliIo } from './output.js';
import { table } from './output.js';
import { defineAction, type ExitBox } from './run.js';

export function statusCommand(io: CliIo, box: ExitBox): Command {
  const cmd = addConnectionOptions(
    new Command('status').description('the members of the cluster: roles, term, commit and applied index, lag and health'),
  );
  return defineAction(cmd, io, box, async (ctx) => {
    const view = await ctx.client().clusterNodes();
    // A member that cannot be reached or a cluster without a leader is worth a non-zero exit for a script.
    const healthy = view.leaderId !== null && view.members.every((m) => m.health !== 'unreachable');
    return { exit: healthy ? EXIT.ok : EXIT.failed, text: renderStatus(view), json: view };
  });
}

export function renderStatus(view: ClusterNodesView): string {
  const rows = view.members.map((m) => [
    m.id === view.leaderId ? `${m.id} *` : m.id,
    m.report?.role ?? '-',
    m.voter ? 'voter' : 'learner',
    m.report?.term,
    m.report?.commitIndex,
    m.report?.appliedIndex,
    m.lagEntries,
    m.health,
    m.url,
    m.error ?? '',
  ]);
  const head = `leader: ${view.leaderId ?? 'none'}   term: ${view.term ?? '-'}   observed by: ${view.observedBy}\n`;
  return head + table(['ID', 'ROLE', 'KIND', 'TERM', 'COMMIT', 'APPLIED', 'LAG', 'HEALTH', 'URL', 'ERROR'], rows);
}
