#!/usr/bin/env node
// The `ratify` command.
//   ratify node    --id n1 --listen 127.0.0.1:7001 --peers n1=...,n2=...,n3=... --data ./data/n1
//   ratify cluster [--nodes 3] [--base-port 7001] [--data ./data] [any node flag, passed to every node]
//   ratify tx stuck | ratify tx force-finish <id> --confirm <id>   (src/cli/tx-stuck.ts)
//
//   ratify status | tx ... | members ... | leader transfer | snapshot ... | check   (src/cli/: talk to a running cluster)
//
// Exit codes of `ratify node`: 0 after a graceful stop (SIGTERM/SIGINT), 1 on a fatal
// runtime error, 2 on an invalid configuration, 3 when the data directory fails its
// integrity checks (the node refuses to serve; restore the directory or wipe it and
// re-add the node).
import { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { isRatifyError } from './errors.js';
import { colorLogs } from './log-format.js';
import { preflightLocalCluster } from './node/cluster-preflight.js';
import { resolveNodeConfig, type NodeConfig } from './node/config.js';
import { planLocalCluster, runLocalCluster, validateLocalCluster } from './node/local-cluster.js';
import { addNodeOptions, nodeSources } from './node/node-options.js';
import { installSignalHandlers, startNode } from './node/server.js';
import { PROCESS_IO } from './cli/output.js';
import { parseWithExitCode } from './cli/parse.js';
import type { ExitBox } from './cli/run.js';

/** The commands that serve rather than ask: they run without the operator commands loaded. */
const LONG_RUNNING_COMMANDS: ReadonlySet<string> = new Set(['node', 'cluster']);

const EXIT_FATAL = 1;
const EXIT_CONFIG = 2;
const EXIT_DATA_CORRUPT = 3;

function nodeCommand(): Command {
  const cmd = addNodeOptions(new Command('node').description('run one Ratify node'));
  cmd.action(async (opts: Record<string, unknown>) => {
    const config = loadConfigOrExit(opts);
    await runNode(config);
  });
  return cmd;
}

function loadConfigOrExit(opts: Record<string, unknown>): NodeConfig {
  try {
    return resolveNodeConfig({ ...nodeSources(opts), env: process.env });
  } catch (err) {
    if (!isRatifyError(err, 'CONFIG_INVALID')) throw err;
    const errors = err.details?.['errors'];
    process.stderr.write(`ratify node: invalid configuration\n`);
    for (const e of Array.isArray(errors) ? errors : [err.message]) process.stderr.write(`  - ${String(e)}\n`);
    process.stderr.write(`(see: ratify node --help)\n`);
    process.exit(EXIT_CONFIG);
  }
}

async function runNode(config: NodeConfig): Promise<void> {
  try {
    const running = await startNode(config, { onFatal: () => process.exit(EXIT_FATAL) });
    installSignalHandlers(running, (code) => process.exit(code));
  } catch (err) {
    if (isRatifyError(err, 'DATA_CORRUPT')) {
      process.stderr.write(
        `ratify node ${config.id}: the data directory ${config.dataDir} failed its integrity checks and the node refuses to start.\n` +
          `  ${err.message}\n  Restore the directory from a backup, or wipe it and re-add this node to the cluster.\n`,
      );
      process.exit(EXIT_DATA_CORRUPT);
    }
    if (isRatifyError(err, 'CONFIG_INVALID')) {
      process.stderr.write(`ratify node ${config.id}: ${err.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    process.stderr.write(`ratify node ${config.id}: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(EXIT_FATAL);
  }
}

function clusterCommand(): Command {
  const cmd = new Command('cluster')
    .description(
      'run a local development cluster of N nodes on 127.0.0.1 (other flags are passed to every node, {id} in them becoming its id; with --tls-cert the peer URLs are https)',
    )
    .option('--nodes <n>', 'number of nodes', '3')
    .option('--base-port <port>', 'port of n1; n2 gets the next one, ...', '7001')
    .option('--host <host>', 'loopback address to bind', '127.0.0.1')
    .option('--data <dir>', 'data root; node i uses <dir>/n<i>', './data')
    .allowUnknownOption(true)
    .allowExcessArguments(true);
  cmd.action(async (opts: { nodes: string; basePort: string; host: string; data: string }) => {
    const options = {
      nodes: Number(opts.nodes),
      basePort: Number(opts.basePort),
      host: opts.host,
      dataDir: opts.data,
      cliPath: fileURLToPath(import.meta.url),
      extraArgs: cmd.args,
    };
    const errors = validateLocalCluster(options);
    if (errors.length > 0) {
      for (const e of errors) process.stderr.write(`ratify cluster: ${e}\n`);
      process.exit(EXIT_CONFIG);
    }
    // Every node's whole configuration, before anything is spawned or printed.
    const preflight = preflightLocalCluster(planLocalCluster(options), process.env);
    if (preflight.problems.length > 0) {
      process.stderr.write('ratify cluster: invalid node configuration, no node started\n');
      for (const p of preflight.problems) process.stderr.write(`  - ${p}\n`);
      process.stderr.write('(see: ratify node --help)\n');
      process.exit(EXIT_CONFIG);
    }
    // The nodes write to a pipe, so `auto` gives JSON lines there; on a terminal this
    // process makes them readable as it relays them.
    const terminal = process.stdout.isTTY === true;
    const relayPretty =
      preflight.configs[0]?.logFormat === 'auto' && terminal ? { color: colorLogs(terminal), omitNodeId: true } : undefined;
    process.exit(await runLocalCluster({ ...options, ...(relayPretty === undefined ? {} : { relayPretty }) }));
  });
  return cmd;
}

const program = new Command('ratify').description('Ratify: a fault-tolerant 2PC/3PC transaction coordinator replicated with Raft');
program.addCommand(nodeCommand());
program.addCommand(clusterCommand());
// The operator commands report an exit code (src/cli/exit-codes.ts) instead of exiting.
const box: ExitBox = { code: 0 };
// `ratify node` and `ratify cluster` run for hours: they do not load the operator
// commands, which bring the SDK and with it all of undici (src/util/undici-parts.ts
// says what that cost every node). Their --help lists only their own flags anyway.
if (!LONG_RUNNING_COMMANDS.has(process.argv[2] ?? '')) {
  const { configureForIo, operatorCommands } = await import('./cli/main.js');
  for (const c of operatorCommands(PROCESS_IO, box)) {
    configureForIo(c, PROCESS_IO);
    program.addCommand(c);
  }
}
process.exitCode = await parseWithExitCode(program.exitOverride(), process.argv.slice(2), box);
