// The order of one Ready around its write: what may go before the write, and
// what must wait for it. Pure, so the seeded simulation (test/sim/) orders its
// Readys with the same decisions as the driver (raft-node.ts).
import type { HardState, Message, Ready, Role } from '../raft/types.js';

export interface ReadyPlan {
  /** Send rd.messages before the write instead of after it. */
  readonly sendBeforePersist: boolean;
  /** rd.committedEntries[0, n) are durable already and may be applied before the write. */
  readonly applyBeforePersist: number;
}

/**
 * `role`: the node's role with rd.softState taken in. `persistedHard`: term and
 * vote as the last save left them on disk.
 */
export function planReady(rd: Ready, role: Role, persistedHard: HardState): ReadyPlan {
  return { sendBeforePersist: maySendBeforePersist(rd, role, persistedHard), applyBeforePersist: durableCommittedCount(rd) };
}

/** Leader-originated messages that promise nothing about the sender's disk. */
const LEADER_EARLY_MESSAGES: ReadonlySet<Message['type']> = new Set<Message['type']>([
  'append',
  'heartbeat',
  'snapshot',
  'timeoutNow',
  'readIndexResp',
]);

/**
 * Thesis §10.2.1: a leader may send AppendEntries while its own write of the
 * same entries runs. Safe because the leader counts its own log towards a
 * quorum only up to what advance() reported persisted (Replicator.selfPersisted,
 * called after this Ready's save), and an append promises nothing about the
 * leader's disk: only the followers' acknowledgements, sent after their own
 * synced write, make an entry count. What must stay behind the write is
 * anything whose receiver relies on this node's durable state: a new term or
 * vote (every message carries the term; a single voter campaigns and wins in
 * one Ready), a snapshot install, and answers such as vote grants and append
 * acknowledgements, which a leader does not send; hence the type list.
 */
export function maySendBeforePersist(rd: Ready, role: Role, persistedHard: HardState): boolean {
  if (role !== 'leader' || rd.snapshot !== null) return false;
  if (rd.hardState !== null && (rd.hardState.term !== persistedHard.term || rd.hardState.vote !== persistedHard.vote)) return false;
  return rd.messages.every((m) => LEADER_EARLY_MESSAGES.has(m.type));
}

/**
 * How many of rd.committedEntries (a prefix) were made durable by earlier
 * Readys, so may be applied before this Ready's write: every entry below the
 * first one this Ready writes, unless it installs a snapshot. The core hands
 * out only entries that are committed and already stable (log.nextToApply),
 * so normally that is all of them; checking here keeps apply-after-durable a
 * property of the driver, not an assumption. It takes the fsync of the next
 * batch off every decision's way to its client.
 */
export function durableCommittedCount(rd: Ready): number {
  if (rd.snapshot !== null) return 0;
  const firstWritten = rd.entries[0]?.index ?? Number.POSITIVE_INFINITY;
  let n = 0;
  while (n < rd.committedEntries.length && rd.committedEntries[n]!.index < firstWritten) n++;
  return n;
}
