// Runs an operator command of `ratify` in this process (src/cli/main.ts) with its
// output captured, the way a shell would see it: stdout, stderr and the exit code.
import { runOperatorCli } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/output.js';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as JSON (for --json runs). */
  json<T = Record<string, unknown>>(): T;
}

export async function ratify(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  // Only what the test gives: a developer's RATIFY_NODES or RATIFY_TOKEN must not leak in.
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env };
  const code = await runOperatorCli(args, io);
  return { code, stdout, stderr, json: <T>() => JSON.parse(stdout) as T };
}
