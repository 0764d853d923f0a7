// Writes a backup (backup-file.ts) into a new node's data directory, as if the
// node had installed that snapshot from a leader: the snapshot with the new
// cluster's configuration, no log after it, and a hard state whose term is the
// old leader's term at the time of the backup, and no vote.
//
// Every node of the new cluster gets the same snapshot, so they start with one
// state and one configuration at one index, as after a compaction; they then
// elect a leader in a term above the backup's currentTerm.
import { mkdirSync, readdirSync } from 'node:fs';
import { createKvStateMachine } from '../kv/state-machine.js';
import type { Member } from '../raft/types.js';
import { txConfigDefaults } from '../tx/config.js';
import { createTxStateMachine } from '../tx/state-machine.js';
import { IncarnatedStateMachine } from '../node/cluster-incarnation.js';
import { snapshotMetaOf, type Backup } from './backup-file.js';
import { LevelRaftStorage } from './leveldb-storage.js';

/** Throws an Error saying what is wrong; writes nothing unless everything checks out. */
export async function restoreBackup(backup: Backup, dataDir: string, members: readonly Member[]): Promise<void> {
  const problem = restoreProblem(backup, dataDir, members);
  if (problem !== null) throw new Error(problem);
  mkdirSync(dataDir, { recursive: true });
  const storage = await LevelRaftStorage.open(dataDir);
  try {
    await storage.load();
    const meta = snapshotMetaOf(backup.header, members);
    await storage.save({
      hardState: { term: backup.header.currentTerm, vote: null, commitIndex: meta.index },
      entries: [],
      snapshot: { meta, data: backup.data },
    });
    // Read back what a node will read: the write is only done once it loads.
    const stored = await storage.load();
    if (stored.snapshot?.meta.index !== meta.index || stored.snapshot.data.byteLength !== backup.data.byteLength)
      throw new Error(`the snapshot read back from ${dataDir} is not the one written`);
  } finally {
    await storage.close();
  }
}

function restoreProblem(backup: Backup, dataDir: string, members: readonly Member[]): string | null {
  if (existsNonEmpty(dataDir))
    return `${dataDir} is not empty: a restore writes a new node's data directory (stop the node and move the old one away)`;
  if (!members.some((m) => m.voter)) return 'the restored configuration needs at least one voter';
  if (new Set(members.map((m) => m.id)).size !== members.length) return 'the restored configuration lists a member id twice';
  // The state machine of the backup must be able to read it (a node would refuse to start otherwise).
  // A tx node's state is the transaction table inside the cluster-incarnation envelope (cluster-incarnation.ts).
  const sm =
    backup.header.stateMachine === 'kv' ? createKvStateMachine() : new IncarnatedStateMachine(createTxStateMachine(txConfigDefaults));
  const why = sm.checkSnapshot?.(backup.data) ?? null;
  return why === null ? null : `the backup's state cannot be read by the ${backup.header.stateMachine} state machine: ${why}`;
}

function existsNonEmpty(dir: string): boolean {
  try {
    return readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}
