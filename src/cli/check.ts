// ratify check: compares the replicas' state digests with the leader's (GET
// /v1/cluster/consistency, src/http/consistency-routes.ts); exits 1 when a member's
// state differs, naming it.
import { Command } from 'commander';
import type { ConsistencyView } from '../sdk/admin-types.js';
import { addConnectionOptions } from './connection.js';
import { EXIT } from './exit-codes.js';
import { table, type CliIo } from './output.js';
import { defineAction, type ExitBox } from './run.js';

interface CheckFlags {
  readonly requireAll?: boolean;
}

export function checkCommand(io: CliIo, box: ExitBox): Command {
  const cmd = addConnectionOptions(
    new Command('check').description("compare the replicas' state digests with the leader's; exits 1 on a mismatch"),
  ).option('--require-all', 'also exit 1 when a member could not be compared (unreachable, or no common digest yet)', false);
  return defineAction<CheckFlags>(cmd, io, box, async (ctx) => {
    const view = await ctx.client().consistency();
    const unchecked = view.members.filter((m) => m.verdict === 'unchecked');
    if (view.mismatched.length > 0)
      ctx.progress(`MISMATCH: the state of ${view.mismatched.join(', ')} differs from the leader's (${view.referenceId})`);
    else if (unchecked.length > 0) ctx.progress(`not compared: ${unchecked.map((m) => `${m.id} (${m.error})`).join('; ')}`);
    const failed = view.mismatched.length > 0 || (ctx.flags.requireAll === true && unchecked.length > 0);
    return { exit: failed ? EXIT.failed : EXIT.ok, text: renderCheck(view), json: view };
  });
}

export function renderCheck(view: ConsistencyView): string {
  const rows = view.members.map((m) => [
    m.id === view.referenceId ? `${m.id} *` : m.id,
    m.verdict,
    m.index,
    m.digest?.slice(0, 16),
    m.appliedIndex,
    m.error ?? '',
  ]);
  const head = `reference: ${view.referenceId ?? 'none'} (the leader)   digest every ${view.intervalEntries} entries   observed by: ${view.observedBy}\n`;
  return head + table(['ID', 'VERDICT', 'INDEX', 'DIGEST', 'APPLIED', 'NOTE'], rows);
}
