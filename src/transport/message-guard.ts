// Turns decoded, untrusted values into typed Raft messages and log entries.
//
// Every field of every message type is checked and a fresh object is built
// from the known fields only, so unknown fields (for example from a newer
// peer) are dropped instead of leaking into the core. Anything malformed throws
// RatifyError('VALIDATION_FAILED'); a bad message must never crash a node.
import { assertNever } from '../util/assert-never.js';
import type { Entry, Member, Message, MessageType, SnapshotMeta } from '../raft/types.js';
import { checkRange } from './check-range.js';
import { invalid, readArray, readBool, readBytes, readObject, readString, readUint, type Fields } from './field-guards.js';

export interface WireLimits {
  /** Raft messages in one envelope (one HTTP request). */
  readonly maxMessagesPerEnvelope: number;
  /** Entries in one append message. */
  readonly maxEntriesPerAppend: number;
  /** Members in one configuration (config entry or snapshot meta). */
  readonly maxMembers: number;
  /** Length of a node id or cluster id. */
  readonly maxIdLength: number;
  readonly maxUrlLength: number;
}

export const DEFAULT_WIRE_LIMITS: WireLimits = {
  maxMessagesPerEnvelope: 4096,
  maxEntriesPerAppend: 16_384,
  maxMembers: 128,
  maxIdLength: 128,
  maxUrlLength: 2048,
};

const WIRE_LIMIT_RANGES: Record<keyof WireLimits, readonly [number, number]> = {
  maxMessagesPerEnvelope: [1, 65_536],
  maxEntriesPerAppend: [1, 1_048_576],
  maxMembers: [1, 1024],
  maxIdLength: [1, 1024],
  maxUrlLength: [16, 65_536],
};

/** Throws RatifyError('CONFIG_INVALID') naming the value and its allowed range. */
export function validateWireLimits(limits: WireLimits): WireLimits {
  for (const [key, [min, max]] of Object.entries(WIRE_LIMIT_RANGES)) {
    checkRange(key, limits[key as keyof WireLimits], min, max);
  }
  return limits;
}

/** Compile-time complete list: adding a message type without a parser fails to typecheck. */
const MESSAGE_TYPES = {
  preVote: true,
  preVoteResp: true,
  vote: true,
  voteResp: true,
  append: true,
  appendResp: true,
  heartbeat: true,
  heartbeatResp: true,
  snapshot: true,
  snapshotResp: true,
  timeoutNow: true,
  readIndex: true,
  readIndexResp: true,
} as const satisfies Record<MessageType, true>;

export function isMessageType(x: unknown): x is MessageType {
  return typeof x === 'string' && Object.hasOwn(MESSAGE_TYPES, x);
}

export function parseMember(x: unknown, path: string, limits: WireLimits = DEFAULT_WIRE_LIMITS): Member {
  const o = readObject(x, path);
  return {
    id: readString(o, 'id', path, limits.maxIdLength),
    url: readString(o, 'url', path, limits.maxUrlLength),
    voter: readBool(o, 'voter', path),
  };
}

function parseMembers(o: Fields, key: string, path: string, limits: WireLimits): Member[] {
  const raw = readArray(o, key, path, limits.maxMembers);
  const members = raw.map((m, i) => parseMember(m, `${path}.${key}[${i}]`, limits));
  const ids = new Set(members.map((m) => m.id));
  if (ids.size !== members.length) throw invalid(`${path}.${key}`, 'unique member ids', raw);
  return members;
}

export function parseEntry(x: unknown, path = 'entry', limits: WireLimits = DEFAULT_WIRE_LIMITS): Entry {
  const o = readObject(x, path);
  // Index and term 0 belong to the empty log's sentinel; no real entry carries them.
  const index = readUint(o, 'index', path, 1);
  const term = readUint(o, 'term', path, 1);
  const kind = o['kind'];
  switch (kind) {
    case 'normal':
      return { kind, index, term, data: readBytes(o, 'data', path) };
    case 'noop':
      return { kind, index, term };
    case 'config':
      return { kind, index, term, members: parseMembers(o, 'members', path, limits) };
    default:
      throw invalid(`${path}.kind`, "'normal', 'noop' or 'config'", kind);
  }
}

export function parseSnapshotMeta(x: unknown, path: string, limits: WireLimits = DEFAULT_WIRE_LIMITS): SnapshotMeta {
  const o = readObject(x, path);
  return {
    index: readUint(o, 'index', path, 1),
    term: readUint(o, 'term', path, 1),
    members: parseMembers(o, 'members', path, limits),
  };
}

function parseEntries(o: Fields, path: string, prevLogIndex: number, limits: WireLimits): Entry[] {
  const raw = readArray(o, 'entries', path, limits.maxEntriesPerAppend);
  return raw.map((e, i) => {
    const entry = parseEntry(e, `${path}.entries[${i}]`, limits);
    // Structural only: an append carries a contiguous run right after prevLogIndex.
    if (entry.index !== prevLogIndex + 1 + i) {
      throw invalid(`${path}.entries[${i}].index`, `${prevLogIndex + 1 + i} (contiguous after prevLogIndex)`, entry.index);
    }
    return entry;
  });
}

/** Validates one Raft message. Throws RatifyError('VALIDATION_FAILED'). */
export function parseMessage(x: unknown, path = 'message', limits: WireLimits = DEFAULT_WIRE_LIMITS): Message {
  const o = readObject(x, path);
  const type = o['type'];
  if (!isMessageType(type)) throw invalid(`${path}.type`, 'a Raft message type', type);
  const from = readString(o, 'from', path, limits.maxIdLength);
  const to = readString(o, 'to', path, limits.maxIdLength);
  const term = readUint(o, 'term', path);
  const u = (key: string): number => readUint(o, key, path);
  const b = (key: string): boolean => readBool(o, key, path);
  switch (type) {
    case 'preVote':
      return { type, from, to, term, lastLogIndex: u('lastLogIndex'), lastLogTerm: u('lastLogTerm') };
    case 'vote':
      return { type, from, to, term, lastLogIndex: u('lastLogIndex'), lastLogTerm: u('lastLogTerm'), transfer: b('transfer') };
    case 'preVoteResp':
    case 'voteResp':
      return { type, from, to, term, granted: b('granted') };
    case 'append': {
      const prevLogIndex = u('prevLogIndex');
      const entries = parseEntries(o, path, prevLogIndex, limits);
      return { type, from, to, term, prevLogIndex, prevLogTerm: u('prevLogTerm'), entries, leaderCommit: u('leaderCommit') };
    }
    case 'appendResp':
      return {
        type,
        from,
        to,
        term,
        success: b('success'),
        matchIndex: u('matchIndex'),
        rejectHint: u('rejectHint'),
        rejectTerm: u('rejectTerm'),
      };
    case 'heartbeat':
      return { type, from, to, term, leaderCommit: u('leaderCommit'), readSeq: u('readSeq') };
    case 'heartbeatResp':
      return { type, from, to, term, readSeq: u('readSeq') };
    case 'snapshot':
      return {
        type,
        from,
        to,
        term,
        meta: parseSnapshotMeta(o['meta'], `${path}.meta`, limits),
        offset: u('offset'),
        chunk: readBytes(o, 'chunk', path),
        done: b('done'),
      };
    case 'snapshotResp':
      return {
        type,
        from,
        to,
        term,
        snapshotIndex: u('snapshotIndex'),
        nextOffset: u('nextOffset'),
        installed: b('installed'),
        success: b('success'),
      };
    case 'timeoutNow':
      return { type, from, to, term };
    case 'readIndex':
      return { type, from, to, term, requestId: u('requestId') };
    case 'readIndexResp':
      return { type, from, to, term, requestId: u('requestId'), readIndex: u('readIndex'), ok: b('ok') };
    default:
      return assertNever(type);
  }
}

/** The unit one HTTP request carries. */
export interface Envelope {
  readonly v: 1;
  readonly clusterId: string;
  readonly from: string;
  readonly messages: readonly Message[];
}

export const ENVELOPE_VERSION = 1;

export function parseEnvelope(x: unknown, limits: WireLimits = DEFAULT_WIRE_LIMITS): Envelope {
  const o = readObject(x, 'envelope');
  if (o['v'] !== ENVELOPE_VERSION) throw invalid('envelope.v', `envelope version ${ENVELOPE_VERSION}`, o['v']);
  const raw = readArray(o, 'messages', 'envelope', limits.maxMessagesPerEnvelope);
  return {
    v: ENVELOPE_VERSION,
    clusterId: readString(o, 'clusterId', 'envelope', limits.maxIdLength),
    from: readString(o, 'from', 'envelope', limits.maxIdLength),
    messages: raw.map((m, i) => parseMessage(m, `envelope.messages[${i}]`, limits)),
  };
}
