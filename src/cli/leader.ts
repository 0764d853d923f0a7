// ratify leader transfer --to n2: hand leadership to a voter; answers once it leads.
import { Command } from 'commander';
import { addConnectionOptions } from './connection.js';
import { fields, type CliIo } from './output.js';
import { defineAction, ok, type ExitBox } from './run.js';

interface TransferFlags {
  readonly to: string;
}

export function leaderCommand(io: CliIo, box: ExitBox): Command {
  const leader = new Command('leader').description('move leadership');
  const transfer = addConnectionOptions(
    new Command('transfer')
      .description('hand leadership to a voter; returns once it leads')
      .requiredOption('--to <id>', 'the voter to lead'),
  );
  leader.addCommand(
    defineAction<TransferFlags>(transfer, io, box, async (ctx) => {
      ctx.progress(`transferring leadership to ${ctx.flags.to}...`);
      const view = await ctx.client().transferLeadership(ctx.flags.to);
      return ok(
        fields([
          ['leader', view.leaderId],
          ['term', view.term],
        ]),
        view,
      );
    }),
  );
  return leader;
}
