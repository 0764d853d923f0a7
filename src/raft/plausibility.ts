// Plausibility of one inbound message against this node's own state, checked by
// the driver (src/node/inbound-guard.ts) right before the core steps it.
//
// The core asserts its invariants and treats a broken one as its own bug. A peer's
// message is data: a buggy, confused or hostile peer (one holding the cluster
// secret) can send any well-shaped message (src/transport/message-guard.ts checks
// the shape), and some would trip a core assertion and stop the node. So every
// field the core relies on is checked here first, and an implausible message is
// dropped (counted and logged by the driver), as Raft drops any lost message.
//
// Each rule below names the core assertion or invariant it keeps out of reach
// (test/raft/plausibility.test.ts walks them), and no rule refuses what an honest
// peer sends: the seeded simulation runs every delivered message through this
// function and fails on any refusal (test/raft/plausibility.test.ts).
//
// What this cannot catch: a message that is plausible but false (a forged
// acknowledgement, a leader's entries that the leader never had). Raft is not
// Byzantine fault tolerant; peer authentication (src/transport/peer-mac.ts, mutual
// TLS) is what keeps strangers from sending those.
//
// Pure: no I/O, and it reads only the small view below.
import { assertNever, type Entry, type Member, type Message, type NodeId, type Role } from './types.js';

/** What the check reads of this node's state, taken right before the message is stepped. */
export interface LocalState {
  readonly id: NodeId;
  readonly term: number;
  readonly role: Role;
  readonly leaderId: NodeId | null;
  readonly lastIndex: number;
}

export interface PlausibilityLimits {
  /** Bytes of one incoming snapshot gathered in memory (chunks of one transfer together). */
  readonly snapshotBytesMax: number;
}

/**
 * Terms and log indexes above this are refused. Far beyond any real cluster (a
 * term a millisecond for 140,000 years), it keeps `x + 1` a safe integer: a term
 * of Number.MAX_SAFE_INTEGER adopted from a peer would make this node's next
 * campaign write an unsafe term to disk, which it then refuses to read back.
 */
export const WIRE_COUNTER_MAX = 2 ** 52;

/** Why a message was dropped: the label of ratify_raft_rejected_messages_total. */
export const REJECT_REASONS = {
  /** Not addressed to this node, or claims to come from it (the core asserts both). */
  misaddressed: true,
  /** A term or index above WIRE_COUNTER_MAX. */
  out_of_range: true,
  /** A (index, term) log position that no log has: index 0 with a term, or an index with term 0. */
  log_position: true,
  /** A candidate's last log term at or above the term it campaigns in (its term grew past it). */
  log_term_above_term: true,
  /** An appended entry, or the entry before it, of a term above the leader's (raft.ts: last log term <= term). */
  entry_term_above_message_term: true,
  /** Entry terms that go down along the append (log.ts: terms never decrease). */
  entry_terms_decrease: true,
  /** A configuration (entry or snapshot) with no voter: no change can produce one (membership.ts). */
  config_without_voters: true,
  /** Leader traffic in our term from someone other than the leader we know, or to us as leader (raft.ts, leader.ts). */
  two_leaders: true,
  /** A heartbeat's commit index beyond our log (log.ts commitTo: commit <= last index). */
  commit_beyond_log: true,
  /** An acknowledgement of entries this node never had (replication.ts: next <= last index + 1). */
  match_beyond_log: true,
  /** A rejection whose hint lies past the index it rejects (a follower's hint is at most its prevLogIndex). */
  reject_hint_beyond_match: true,
  /** A snapshot whose last entry has a term above the leader's. */
  snapshot_term_above_message_term: true,
  /** A snapshot that would exceed snapshotBytesMax once gathered. */
  snapshot_too_large: true,
  /** A read answer from someone other than the leader the read was forwarded to. */
  not_from_leader: true,
  /** A whole snapshot whose data the state machine cannot read (checked when the last chunk arrives). */
  snapshot_data: true,
} as const;

export type RejectReason = keyof typeof REJECT_REASONS;
export const REJECT_REASON_NAMES = Object.keys(REJECT_REASONS) as RejectReason[];

export interface Implausible {
  readonly reason: RejectReason;
  /** For the log line: which field, what it held, what bound it broke. */
  readonly detail: string;
}

/** null when `m` may be stepped into the core; otherwise why it must be dropped. */
export function implausibility(m: Message, local: LocalState, limits: PlausibilityLimits): Implausible | null {
  if (m.to !== local.id || m.from === local.id) return bad('misaddressed', `from ${m.from} to ${m.to}, this node is ${local.id}`);
  if (m.term > WIRE_COUNTER_MAX) return bad('out_of_range', `term ${m.term} > ${WIRE_COUNTER_MAX}`);
  switch (m.type) {
    case 'preVote':
    case 'vote':
      return logPosition('last log', m.lastLogIndex, m.lastLogTerm) ?? candidateLogTerm(m.lastLogTerm, m.term);
    case 'append':
      return leaderInTerm(m, local) ?? appendEntries(m.prevLogIndex, m.prevLogTerm, m.entries, m.term);
    case 'heartbeat':
      return leaderInTerm(m, local) ?? commitWithinLog(m.leaderCommit, local);
    case 'snapshot':
      return leaderInTerm(m, local) ?? snapshotChunk(m, limits);
    case 'timeoutNow':
      return leaderInTerm(m, local);
    case 'appendResp':
      return ackWithinLog(m, local);
    case 'snapshotResp':
      if (m.success && m.installed && m.term === local.term && m.snapshotIndex > local.lastIndex) {
        return bad('match_beyond_log', `installed snapshot at ${m.snapshotIndex} > last index ${local.lastIndex}`);
      }
      return null;
    case 'readIndexResp':
      // A refusal (ok false) may come from anyone the read reached; a confirmation only from
      // our leader (with no leader known, no forwarded read is pending and the core ignores it).
      if (m.ok && m.term === local.term && local.leaderId !== null && m.from !== local.leaderId)
        return bad('not_from_leader', `read answer from ${m.from}, leader is ${String(local.leaderId)}`);
      return null;
    case 'preVoteResp':
    case 'voteResp':
    case 'heartbeatResp':
    case 'readIndex':
      // Nothing the core asserts on: unknown voters are not counted, read rounds never sent are ignored.
      return null;
    default:
      return assertNever(m);
  }
}

function bad(reason: RejectReason, detail: string): Implausible {
  return { reason, detail };
}

/**
 * Leader traffic in our own term: only one leader is elected per term (§5.2),
 * so it must come from the leader we know, and never to us while we lead. With
 * no leader known yet (a candidate, or a follower since its restart) the sender
 * may well be the new leader. A higher term makes us its follower first; a lower
 * one is answered by the core's stale-term rule.
 */
function leaderInTerm(
  m: Extract<Message, { type: 'append' | 'heartbeat' | 'snapshot' | 'timeoutNow' }>,
  local: LocalState,
): Implausible | null {
  if (m.term !== local.term) return null;
  if (local.role === 'leader') return bad('two_leaders', `${m.type} from ${m.from} in term ${m.term}, which this node leads`);
  if (local.leaderId !== null && local.leaderId !== m.from) {
    return bad('two_leaders', `${m.type} from ${m.from} in term ${m.term}, whose leader is ${local.leaderId}`);
  }
  return null;
}

function logPosition(what: string, index: number, term: number): Implausible | null {
  if (index > WIRE_COUNTER_MAX || term > WIRE_COUNTER_MAX)
    return bad('out_of_range', `${what} (${index}, ${term}) beyond ${WIRE_COUNTER_MAX}`);
  // Index 0 is the empty log's sentinel with term 0; every real entry has a term >= 1.
  if ((index === 0) !== (term === 0)) return bad('log_position', `${what} index ${index} with term ${term}`);
  return null;
}

function candidateLogTerm(lastLogTerm: number, term: number): Implausible | null {
  // A candidate's log holds no entry of a term above its own, and it campaigns in a later term.
  return lastLogTerm < term ? null : bad('log_term_above_term', `last log term ${lastLogTerm} >= campaign term ${term}`);
}

function appendEntries(prevIndex: number, prevTerm: number, entries: readonly Entry[], term: number): Implausible | null {
  const prev = logPosition('prevLog', prevIndex, prevTerm);
  if (prev !== null) return prev;
  if (prevTerm > term) return bad('entry_term_above_message_term', `prevLogTerm ${prevTerm} > term ${term}`);
  let before = prevTerm;
  for (const e of entries) {
    if (e.index > WIRE_COUNTER_MAX) return bad('out_of_range', `entry index ${e.index} > ${WIRE_COUNTER_MAX}`);
    if (e.term > term) return bad('entry_term_above_message_term', `entry ${e.index} of term ${e.term} > term ${term}`);
    if (e.term < before) return bad('entry_terms_decrease', `entry ${e.index} of term ${e.term} after term ${before}`);
    if (e.kind === 'config' && !hasVoter(e.members)) return bad('config_without_voters', `config entry ${e.index}`);
    before = e.term;
  }
  return null;
}

function commitWithinLog(leaderCommit: number, local: LocalState): Implausible | null {
  // The leader sends min(its commit index, what we acknowledged), and we acknowledge only what we hold.
  if (leaderCommit <= local.lastIndex) return null;
  return bad('commit_beyond_log', `leaderCommit ${leaderCommit} > last index ${local.lastIndex}`);
}

function snapshotChunk(m: Extract<Message, { type: 'snapshot' }>, limits: PlausibilityLimits): Implausible | null {
  const { meta } = m;
  const pos = logPosition('snapshot', meta.index, meta.term);
  if (pos !== null) return pos;
  if (meta.term > m.term) return bad('snapshot_term_above_message_term', `snapshot term ${meta.term} > term ${m.term}`);
  if (!hasVoter(meta.members)) return bad('config_without_voters', `snapshot at ${meta.index}`);
  // Chunks are gathered in order (offset = bytes so far), so this bounds the whole transfer.
  const end = m.offset + m.chunk.byteLength;
  if (end > limits.snapshotBytesMax) {
    return bad('snapshot_too_large', `snapshot at ${meta.index} reaches ${end} bytes, over snapshotBytesMax (${limits.snapshotBytesMax})`);
  }
  return null;
}

function ackWithinLog(m: Extract<Message, { type: 'appendResp' }>, local: LocalState): Implausible | null {
  if (m.matchIndex > WIRE_COUNTER_MAX || m.rejectHint > WIRE_COUNTER_MAX || m.rejectTerm > WIRE_COUNTER_MAX) {
    return bad('out_of_range', `appendResp (${m.matchIndex}, ${m.rejectHint}, ${m.rejectTerm}) beyond ${WIRE_COUNTER_MAX}`);
  }
  // Answers of our own term are about appends we sent in it, from our log.
  if (m.term !== local.term) return null;
  if (m.matchIndex > local.lastIndex)
    return bad('match_beyond_log', `${m.success ? 'match' : 'rejected'} index ${m.matchIndex} > last index ${local.lastIndex}`);
  if (!m.success && m.rejectHint > m.matchIndex)
    return bad('reject_hint_beyond_match', `rejectHint ${m.rejectHint} > rejected index ${m.matchIndex}`);
  return null;
}

function hasVoter(members: readonly Member[]): boolean {
  return members.some((x) => x.voter);
}
