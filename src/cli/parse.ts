// Parsing `ratify <args>` into an exit code, apart from the operator commands
// themselves (src/cli/main.ts), so `ratify node` can parse without loading them.
import { CommanderError, type Command } from 'commander';
import { EXIT, type ExitCode } from './exit-codes.js';
import type { ExitBox } from './run.js';

export async function parseWithExitCode(program: Command, args: readonly string[], box: ExitBox): Promise<ExitCode> {
  try {
    await program.parseAsync([...args], { from: 'user' });
    return box.code;
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    // --help and --version "fail" with exit code 0; everything else commander refuses is a usage error.
    return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
}
