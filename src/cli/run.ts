// How every operator command runs: build the client from the shared flags, call
// the handler, print its result, and turn what went wrong into a message on
// stderr (and, with --json, an {error} object on stdout) and an exit code.
import type { Command } from 'commander';
import { isRatifyClientError, type RatifyClientError } from '../sdk/client-error.js';
import type { RatifyClient } from '../sdk/client.js';
import { connect, type ConnectionFlags } from './connection.js';
import { EXIT, exitCodeOf, type ExitCode } from './exit-codes.js';
import { json, type CliIo } from './output.js';

export interface CommandContext<O> {
  readonly io: CliIo;
  readonly flags: O & ConnectionFlags;
  readonly args: readonly string[];
  /** Built on first use, closed after the handler. */
  client(): RatifyClient;
  /** A progress line on stderr (never on stdout: that is the result's). */
  progress(text: string): void;
}

/** What a handler returns: the exit code, and the result as text and as JSON. */
export interface CommandResult {
  readonly exit: ExitCode;
  readonly text: string;
  readonly json: unknown;
}

export type Handler<O> = (ctx: CommandContext<O>) => Promise<CommandResult>;

/** The exit code of the last operator command run (main.ts reads it). */
export interface ExitBox {
  code: ExitCode;
}

export function ok(text: string, value: unknown): CommandResult {
  return { exit: EXIT.ok, text, json: value };
}

export function defineAction<O>(cmd: Command, io: CliIo, box: ExitBox, handler: Handler<O>): Command {
  return cmd.action(async () => {
    const flags = cmd.opts<O & ConnectionFlags>();
    let client: RatifyClient | null = null;
    const ctx: CommandContext<O> = {
      io,
      flags,
      args: cmd.args,
      client: () => (client ??= connect(flags, io)),
      progress: (text) => io.stderr(`${text}\n`),
    };
    try {
      const result = await handler(ctx);
      io.stdout(flags.json === true ? json(result.json) : result.text);
      box.code = result.exit;
    } catch (err) {
      box.code = report(io, cmd, flags.json === true, err);
    } finally {
      await (client as RatifyClient | null)?.close();
    }
  });
}

function report(io: CliIo, cmd: Command, asJson: boolean, err: unknown): ExitCode {
  const code = exitCodeOf(err);
  if (code === EXIT.failed && !isRatifyClientError(err)) {
    // Neither the cluster's answer nor a finding: our own bug. Show all of it.
    io.stderr(`ratify ${commandPath(cmd)}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return code;
  }
  const message = isRatifyClientError(err) ? describeClientError(err) : (err as Error).message;
  io.stderr(`ratify ${commandPath(cmd)}: ${message}\n`);
  if (isRatifyClientError(err, 'UNREACHABLE')) io.stderr('  (is the cluster running where --nodes / RATIFY_NODES says?)\n');
  if (asJson) {
    const error = isRatifyClientError(err)
      ? { code: err.code, status: err.status, message: err.message, node: err.node, ...err.details }
      : { code: code === EXIT.usage ? 'USAGE' : 'FAILED', message };
    io.stdout(json({ error }));
  }
  return code;
}

function describeClientError(err: RatifyClientError): string {
  const status = err.status === 0 ? '' : ` (HTTP ${err.status})`;
  return `${err.code}${status}: ${err.message}`;
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c !== null && c.parent !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}
