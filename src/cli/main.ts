// The operator commands of `ratify` (status, tx, members, leader, snapshot,
// check), which talk to a running cluster. src/cli.ts adds them to the `ratify`
// program; runOperatorCli() runs one with its own output, as tests do.
import { Command } from 'commander';
import { checkCommand } from './check.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { leaderCommand } from './leader.js';
import { membersCommand } from './members.js';
import type { CliIo } from './output.js';
import { parseWithExitCode } from './parse.js';
import type { ExitBox } from './run.js';
import { snapshotCommand } from './snapshot.js';
import { statusCommand } from './status.js';
import { txCommand } from './tx.js';

export function operatorCommands(io: CliIo, box: ExitBox): Command[] {
  return [
    statusCommand(io, box),
    txCommand(io, box),
    membersCommand(io, box),
    leaderCommand(io, box),
    snapshotCommand(io, box),
    checkCommand(io, box),
  ];
}

/** Exit codes instead of process.exit, and commander's messages through `io` (usage errors exit 2). */
export function configureForIo(cmd: Command, io: CliIo): void {
  cmd.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  for (const sub of cmd.commands) configureForIo(sub, io);
}

/** Runs `ratify <args>` for the operator commands; resolves to the exit code. */
export async function runOperatorCli(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const box: ExitBox = { code: EXIT.ok };
  const program = new Command('ratify');
  for (const c of operatorCommands(io, box)) program.addCommand(c);
  configureForIo(program, io);
  return parseWithExitCode(program, args, box);
}
