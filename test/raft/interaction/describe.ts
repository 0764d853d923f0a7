// The words of the interaction trace: one deterministic line per entry, message
// and node, and the lines of a Ready. The golden files are written in these
// words, so a change here changes every golden file: keep them stable.
//
// Entries are `index@term` (as helpers.ts's logOf), payloads are JSON strings.
import type { CoreStatus } from '../../../src/raft/api.js';
import { assertNever } from '../../../src/util/assert-never.js';
import type { Entry, Member, Message, Ready, SnapshotMeta } from '../../../src/raft/types.js';
import { dec } from '../helpers.js';

/** Longer entry lists are shortened to their ends and a count. */
const ENTRY_LINES_MAX = 8;
const INLINE_ENTRIES_MAX = 4;

export function describeMembers(members: readonly Member[]): string {
  const ids = (voter: boolean): string =>
    members
      .filter((m) => m.voter === voter)
      .map((m) => m.id)
      .join(',');
  const learners = ids(false);
  return `voters=(${ids(true)})${learners === '' ? '' : ` learners=(${learners})`}`;
}

export function describeEntry(e: Entry): string {
  const at = `${e.index}@${e.term}`;
  switch (e.kind) {
    case 'normal':
      return `${at} ${JSON.stringify(dec(e.data))}`;
    case 'noop':
      return `${at} noop`;
    case 'config':
      return `${at} config ${describeMembers(e.members)}`;
    default:
      return assertNever(e);
  }
}

/** One line per entry; a long list keeps its first and last few and says how many it left out. */
export function entryLines(entries: readonly Entry[]): string[] {
  const lines = entries.map(describeEntry);
  if (lines.length <= ENTRY_LINES_MAX) return lines;
  const keep = ENTRY_LINES_MAX / 2 - 1;
  return [...lines.slice(0, keep), `… ${lines.length - 2 * keep} more …`, ...lines.slice(-keep)];
}

function inlineEntries(entries: readonly Entry[]): string {
  if (entries.length <= INLINE_ENTRIES_MAX) return `[${entries.map(describeEntry).join(', ')}]`;
  const first = entries[0];
  const last = entries.at(-1);
  if (first === undefined || last === undefined) return '[]';
  return `[${describeEntry(first)} … ${describeEntry(last)}] (${entries.length} entries)`;
}

function describeSnapshotMeta(meta: SnapshotMeta): string {
  return `${meta.index}@${meta.term}`;
}

export function describeMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case 'preVote':
      return `${head} last=${m.lastLogIndex}@${m.lastLogTerm}`;
    case 'vote':
      return `${head} last=${m.lastLogIndex}@${m.lastLogTerm}${m.transfer ? ' transfer' : ''}`;
    case 'preVoteResp':
    case 'voteResp':
      return `${head} ${m.granted ? 'granted' : 'rejected'}`;
    case 'append': {
      const entries = m.entries.length === 0 ? '' : ` entries=${inlineEntries(m.entries)}`;
      return `${head} prev=${m.prevLogIndex}@${m.prevLogTerm} commit=${m.leaderCommit}${entries}`;
    }
    case 'appendResp':
      return m.success ? `${head} match=${m.matchIndex}` : `${head} rejected index=${m.matchIndex} hint=${m.rejectHint}@${m.rejectTerm}`;
    case 'heartbeat':
      return `${head} commit=${m.leaderCommit}${m.readSeq === 0 ? '' : ` read=${m.readSeq}`}`;
    case 'heartbeatResp':
      return `${head}${m.readSeq === 0 ? '' : ` read=${m.readSeq}`}`;
    case 'snapshot':
      return `${head} snap=${describeSnapshotMeta(m.meta)} offset=${m.offset} bytes=${m.chunk.length}${m.done ? ' done' : ''}`;
    case 'snapshotResp':
      return `${head} snap=${m.snapshotIndex} next=${m.nextOffset}${m.installed ? ' installed' : ''}${m.success ? '' : ' failed'}`;
    case 'timeoutNow':
      return head;
    case 'readIndex':
      return `${head} request=${m.requestId}`;
    case 'readIndexResp':
      return `${head} request=${m.requestId} ${m.ok ? `index=${m.readIndex}` : 'refused'}`;
    default:
      return assertNever(m);
  }
}

/** A Ready as a block of lines, sections only when they have something (like etcd's DescribeReady). */
export function describeReady(rd: Ready): string[] {
  const out: string[] = [];
  const section = (title: string, lines: readonly string[]): void => {
    if (lines.length > 0) out.push(`${title}:`, ...lines.map((l) => `  ${l}`));
  };
  if (rd.softState !== null) {
    const s = rd.softState;
    out.push(`State: ${s.role} term=${s.term} leader=${s.leaderId ?? 'none'}`);
  }
  if (rd.hardState !== null) {
    const h = rd.hardState;
    out.push(`HardState: term=${h.term} vote=${h.vote ?? 'none'} commit=${h.commitIndex}`);
  }
  if (rd.snapshot !== null) {
    const meta = rd.snapshot.meta;
    out.push(`Snapshot: ${describeSnapshotMeta(meta)} ${describeMembers(meta.members)} bytes=${rd.snapshot.data.length}`);
  }
  section('Entries', entryLines(rd.entries));
  section('CommittedEntries', entryLines(rd.committedEntries));
  section(
    'ReadStates',
    rd.readStates.map((r) => `request=${r.requestId} index=${r.readIndex}`),
  );
  section(
    'DroppedReads',
    rd.droppedReads.map((id) => `request=${id}`),
  );
  section('Messages', rd.messages.map(describeMessage));
  return out;
}

/**
 * What the `info` trace level keeps of a Ready: role changes, applied entries,
 * restored snapshots and reads, one line each, named by node.
 */
export function readyEvents(id: string, rd: Ready): string[] {
  const out: string[] = [];
  if (rd.softState !== null) {
    const s = rd.softState;
    out.push(`${id} is ${s.role} at term ${s.term}, leader ${s.leaderId ?? 'none'}`);
  }
  if (rd.snapshot !== null) out.push(`${id} restored snapshot ${describeSnapshotMeta(rd.snapshot.meta)}`);
  if (rd.committedEntries.length > 0) {
    out.push(`${id} applied ${inlineEntries(rd.committedEntries)}`);
  }
  for (const r of rd.readStates) out.push(`${id} read request=${r.requestId} index=${r.readIndex}`);
  for (const r of rd.droppedReads) out.push(`${id} dropped read request=${r}`);
  return out;
}

export function describeStatus(s: CoreStatus): string {
  const h = s.hardState;
  return (
    `${s.id}: ${s.role} term=${s.term} leader=${s.leaderId ?? 'none'} vote=${h.vote ?? 'none'} ` +
    `commit=${s.commitIndex} applied=${s.appliedIndex} last=${s.lastIndex} snapshot=${s.snapshotIndex} ` +
    `config=${s.configIndex} ${describeMembers(s.members)}`
  );
}
