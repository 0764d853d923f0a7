// The flags of `ratify node`, declared once from the config fields, and the parse of
// a node's argument list into config sources. `ratify node` uses it on its own
// argv; `ratify cluster` uses it on each child's arguments before it spawns any
// (cluster-preflight.ts), so both read the flags the same way.
import { Command, CommanderError, Option } from 'commander';
import { configFields, txConfigFields, type ConfigSources } from './config.js';

/** Adds every node flag (and --config, --tx) to `cmd`. */
export function addNodeOptions(cmd: Command): Command {
  // Defaults are shown as text, never set as commander defaults: a commander default
  // would count as a flag and override the environment and the config file.
  cmd.option(
    '--config <file>',
    'JSON config file (flags > RATIFY_* env > file > defaults); keys are the flags in camelCase, see cluster/ratify.example.json (default: none)',
  );
  for (const f of configFields())
    cmd.addOption(new Option(`--${f.flag} <value>`, `${f.description} ${defaultNote(f.defaultText)} [env ${f.env}]`));
  cmd.option(
    '--tx <key=value...>',
    'transaction-layer setting (repeatable), e.g. --tx maxParticipants=32; keys and defaults below (default: none) [env RATIFY_TX_<KEY>]',
  );
  cmd.addHelpText('after', txSettingsHelp());
  return cmd;
}

/** The parsed options of a node command as config sources (environment not included). */
export function nodeSources(opts: Record<string, unknown>): ConfigSources {
  const flags: Record<string, unknown> = {};
  for (const f of configFields()) {
    const value = opts[new Option(`--${f.flag} <value>`).attributeName()];
    if (value !== undefined) flags[f.name] = value;
  }
  return {
    flags,
    ...(typeof opts['config'] === 'string' ? { file: opts['config'] } : {}),
    txFlags: Array.isArray(opts['tx']) ? (opts['tx'] as string[]) : [],
  };
}

/**
 * Parses a node's arguments (as `ratify node` would get them) without running
 * anything. Throws an Error with commander's message for an unknown flag or a
 * flag without its value.
 */
export function parseNodeArgs(args: readonly string[]): ConfigSources {
  const cmd = addNodeOptions(new Command('node'))
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {} })
    .allowExcessArguments(false);
  try {
    cmd.parse([...args], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) throw new Error(e.message.replace(/^error: /, ''));
    throw e;
  }
  return nodeSources(cmd.opts());
}

function defaultNote(defaultText: string): string {
  return defaultText === 'required' ? '(required)' : `(default: ${defaultText})`;
}

function txSettingsHelp(): string {
  const fields = txConfigFields();
  const width = Math.max(...fields.map((f) => f.key.length));
  const lines = fields.map((f) => `  ${f.key.padEnd(width)}  (default: ${f.defaultText}) [env ${f.env}]`);
  return `\nTransaction-layer settings (--tx key=value):\n${lines.join('\n')}\n`;
}
