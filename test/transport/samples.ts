// One well-formed sample of every Raft message type (the record type makes a
// new message type without a sample a compile error).
import type { Entry, Member, Message, MessageType } from '../../src/raft/types.js';

export const MEMBERS: Member[] = [
  { id: 'n1', url: 'http://127.0.0.1:4001', voter: true },
  { id: 'n2', url: 'http://127.0.0.1:4002', voter: true },
  { id: 'nœud-3', url: 'https://example.test:8443/ratify', voter: false },
];

export const ENTRIES: Entry[] = [
  { kind: 'normal', index: 11, term: 3, data: new Uint8Array([0, 1, 2, 255, 128, 0]) },
  { kind: 'noop', index: 12, term: 4 },
  { kind: 'config', index: 13, term: 4, members: MEMBERS },
  { kind: 'normal', index: 14, term: 4, data: new Uint8Array(0) },
  { kind: 'normal', index: 15, term: 4, data: new Uint8Array(70_000).map((_, i) => (i * 7) & 0xff) },
];

type Samples = { [T in MessageType]: Extract<Message, { type: T }> };

export function samplesFrom(from: string, to: string): Samples {
  return {
    preVote: { type: 'preVote', from, to, term: 5, lastLogIndex: 10, lastLogTerm: 3 },
    preVoteResp: { type: 'preVoteResp', from, to, term: 5, granted: true },
    vote: { type: 'vote', from, to, term: 5, lastLogIndex: 10, lastLogTerm: 3, transfer: true },
    voteResp: { type: 'voteResp', from, to, term: 5, granted: false },
    append: { type: 'append', from, to, term: 4, prevLogIndex: 10, prevLogTerm: 3, entries: ENTRIES, leaderCommit: 9 },
    appendResp: { type: 'appendResp', from, to, term: 4, success: false, matchIndex: 0, rejectHint: 7, rejectTerm: 2 },
    heartbeat: { type: 'heartbeat', from, to, term: 4, leaderCommit: 15, readSeq: 2 ** 40 },
    heartbeatResp: { type: 'heartbeatResp', from, to, term: 4, readSeq: 0 },
    snapshot: {
      type: 'snapshot', from, to, term: 4,
      meta: { index: 100, term: 4, members: MEMBERS },
      offset: 1024 * 1024, chunk: new Uint8Array([9, 8, 7, 0, 0, 1]), done: true,
    },
    snapshotResp: { type: 'snapshotResp', from, to, term: 4, snapshotIndex: 100, nextOffset: 2048, installed: false, success: true },
    timeoutNow: { type: 'timeoutNow', from, to, term: 6 },
    readIndex: { type: 'readIndex', from, to, term: 6, requestId: 42 },
    readIndexResp: { type: 'readIndexResp', from, to, term: 6, requestId: 42, readIndex: 99, ok: true },
  };
}

export const SAMPLES = samplesFrom('n1', 'n2');
export const ALL_SAMPLES: Message[] = Object.values(SAMPLES);
