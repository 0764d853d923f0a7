// ratify snapshot save FILE: a consistent backup of the replicated state, from the
// leader (GET /v1/cluster/snapshot), checked and written atomically.
// ratify snapshot restore FILE --data DIR [--peers id=url,...]: writes it into a
// new node's data directory (src/storage/restore-backup.ts). Run it once per node
// of the new cluster, each with its own DIR and the same --peers.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { Command } from 'commander';
import { parsePeers } from '../node/config.js';
import type { Member } from '../raft/types.js';
import { decodeBackup, type Backup, type BackupHeader } from '../storage/backup-file.js';
import { restoreBackup } from '../storage/restore-backup.js';
import { addConnectionOptions } from './connection.js';
import { UsageError } from './exit-codes.js';
import { fields, type CliIo } from './output.js';
import { defineAction, ok, type ExitBox } from './run.js';
import { positiveInt } from './tx.js';

/** The node's own default snapshotBytesMax: no node sends (or installs) a larger state. */
const BACKUP_BYTES_MAX_DEFAULT = 1024 * 1024 * 1024;
/** Progress at most every this many bytes. */
const PROGRESS_STEP_BYTES = 8 * 1024 * 1024;

export function snapshotCommand(io: CliIo, box: ExitBox): Command {
  const snapshot = new Command('snapshot').description('back up the replicated state, and restore it into a new cluster');
  snapshot.addCommand(saveCommand(io, box));
  snapshot.addCommand(restoreCommand(io, box));
  return snapshot;
}

interface SaveFlags {
  readonly bytesMax?: string;
  readonly force?: boolean;
}

function saveCommand(io: CliIo, box: ExitBox): Command {
  const cmd = addConnectionOptions(
    new Command('save').description("a backup of the leader's state at its applied index").argument('<file>', 'where to write it'),
  )
    .option(
      '--bytes-max <n>',
      `refuse a backup larger than this (default: ${BACKUP_BYTES_MAX_DEFAULT}, the nodes' default snapshotBytesMax)`,
    )
    .option('--force', 'overwrite FILE if it exists', false);
  return defineAction<SaveFlags>(cmd, io, box, async (ctx) => {
    const file = ctx.args[0]!;
    if (ctx.flags.force !== true && exists(file)) throw new UsageError(`${file} exists; pass --force to overwrite it`);
    const bytesMax = ctx.flags.bytesMax === undefined ? BACKUP_BYTES_MAX_DEFAULT : positiveInt('--bytes-max', ctx.flags.bytesMax);
    ctx.progress('asking the leader for a snapshot...');
    let reported = 0;
    const bytes = await ctx.client().downloadSnapshot({
      bytesMax,
      onProgress: (n, total) => {
        if (n - reported < PROGRESS_STEP_BYTES && n !== total) return;
        reported = n;
        ctx.progress(`received ${n} of ${total ?? '?'} bytes`);
      },
    });
    let backup: Backup;
    try {
      backup = decodeBackup(bytes);
    } catch (e) {
      throw new Error(`the leader's answer is not a valid backup: ${(e as Error).message}`);
    }
    writeAtomically(file, bytes);
    ctx.progress(`wrote ${file}`);
    return ok(renderHeader(backup.header, file), { file, ...backup.header });
  });
}

interface RestoreFlags {
  readonly data: string;
  readonly peers?: string;
}

function restoreCommand(io: CliIo, box: ExitBox): Command {
  const cmd = addRestoreFlags(
    new Command('restore')
      .description("write a backup into a new node's data directory (once per node, each with its own --data)")
      .argument('<file>', 'a file of `ratify snapshot save`'),
  );
  return defineAction<RestoreFlags>(cmd, io, box, async (ctx) => {
    const file = ctx.args[0]!;
    let backup: Backup;
    try {
      backup = decodeBackup(readFileSync(file));
    } catch (e) {
      throw new UsageError(`${file}: ${(e as Error).message}`);
    }
    const members = ctx.flags.peers === undefined ? backup.header.members : peersOf(ctx.flags.peers);
    try {
      await restoreBackup(backup, ctx.flags.data, members);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    ctx.progress(
      `restored ${file} into ${ctx.flags.data}; start the node with --data ${ctx.flags.data} --peers ${members.map((m) => `${m.id}=${m.url}`).join(',')}`,
    );
    return ok(renderHeader({ ...backup.header, members }, file), { file, dataDir: ctx.flags.data, ...backup.header, members });
  });
}

/** restore touches only local files: --json is its one shared flag. */
function addRestoreFlags(cmd: Command): Command {
  return cmd
    .requiredOption('--data <dir>', "the new node's data directory (must not exist or be empty)")
    .option('--peers <id=url,...>', "the new cluster's voters (default: the backed-up cluster's configuration)")
    .option('--json', 'print the result as JSON', false);
}

function peersOf(text: string): Member[] {
  try {
    return parsePeers(text, '--peers');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function renderHeader(h: BackupHeader, file: string): string {
  return fields([
    ['file', file],
    ['cluster', h.clusterId],
    ['state machine', h.stateMachine],
    ['index', h.index],
    ['term', h.term],
    ['taken by', `${h.takenBy} at ${h.takenAt} (term ${h.currentTerm})`],
    ['members', h.members.map((m) => `${m.id}=${m.url}${m.voter ? '' : ' (learner)'}`).join(', ')],
    ['bytes', h.dataBytes],
    ['sha256', h.sha256],
  ]);
}

function writeAtomically(file: string, bytes: Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // never written
    }
    throw new UsageError(`cannot write ${file}: ${(e as Error).message}`);
  }
}

function exists(file: string): boolean {
  try {
    statSync(file);
    return true;
  } catch {
    return false;
  }
}
