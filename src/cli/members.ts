// ratify members add|promote|remove: membership changes, one server at a time,
// through the leader (POST/DELETE /v1/cluster/members...). Admin calls: an admin
// token, or the cluster secret where the cluster has one and no tokens.
import { Command } from 'commander';
import { isRatifyClientError } from '../sdk/client-error.js';
import type { MembersView } from '../sdk/admin-types.js';
import { addConnectionOptions } from './connection.js';
import { UsageError } from './exit-codes.js';
import { table, type CliIo } from './output.js';
import { defineAction, ok, type ExitBox } from './run.js';
import { positiveInt } from './tx.js';

const PROMOTE_POLL_MS = 500;

export function membersCommand(io: CliIo, box: ExitBox): Command {
  const members = new Command('members').description('add, promote and remove cluster members');
  members.addCommand(addCommand(io, box));
  members.addCommand(promoteCommand(io, box));
  members.addCommand(removeCommand(io, box));
  return members;
}

function addCommand(io: CliIo, box: ExitBox): Command {
  const cmd = addConnectionOptions(
    new Command('add')
      .description('add a node as a learner (start it with --join true first); promote it once it has caught up')
      .argument('<id>', 'its member id')
      .argument('<url>', 'its peer URL, e.g. http://10.0.0.4:7004'),
  );
  return defineAction(cmd, io, box, async (ctx) => {
    const [id, url] = [ctx.args[0]!, ctx.args[1]!];
    if (!/^https?:\/\//.test(url)) throw new UsageError(`url ${JSON.stringify(url)} must be an http:// or https:// URL`);
    ctx.progress(`adding ${id} (${url}) as a learner...`);
    const view = await ctx.client().addMember(id, url);
    return ok(renderMembers(view), view);
  });
}

interface PromoteFlags {
  readonly waitMs?: string;
}

function promoteCommand(io: CliIo, box: ExitBox): Command {
  const cmd = addConnectionOptions(
    new Command('promote').description('make a caught-up learner a voter').argument('<id>', "the learner's member id"),
  ).option(
    '--wait-ms <ms>',
    'while the learner is still catching up (LEARNER_NOT_CAUGHT_UP), retry for up to this long (default: 0, no retry)',
  );
  return defineAction<PromoteFlags>(cmd, io, box, async (ctx) => {
    const id = ctx.args[0]!;
    const waitMs = ctx.flags.waitMs === undefined ? 0 : positiveInt('--wait-ms', ctx.flags.waitMs);
    const deadline = Date.now() + waitMs;
    for (;;) {
      try {
        const view = await ctx.client().promoteMember(id);
        return ok(renderMembers(view), view);
      } catch (err) {
        if (!isRatifyClientError(err, 'LEARNER_NOT_CAUGHT_UP') || Date.now() + PROMOTE_POLL_MS > deadline) throw err;
        const lag = Number(err.details['lastIndex']) - Number(err.details['matchIndex']);
        ctx.progress(`${id} is still catching up${Number.isFinite(lag) ? ` (${lag} entries behind)` : ''}; retrying...`);
        await new Promise((r) => setTimeout(r, PROMOTE_POLL_MS));
      }
    }
  });
}

function removeCommand(io: CliIo, box: ExitBox): Command {
  const cmd = addConnectionOptions(
    new Command('remove')
      .description('remove a member (the leader too: it steps down once its removal commits)')
      .argument('<id>', 'its member id'),
  );
  return defineAction(cmd, io, box, async (ctx) => {
    const view = await ctx.client().removeMember(ctx.args[0]!);
    return ok(renderMembers(view), view);
  });
}

export function renderMembers(view: MembersView): string {
  return table(
    ['ID', 'KIND', 'URL'],
    view.members.map((m) => [m.id, m.voter ? 'voter' : 'learner', m.url]),
  );
}
