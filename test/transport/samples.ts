// One well-formed sample of every Raft message type (the record type makes a
// new message type without a sample a compile error).
import fc from 'fast-check';
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
      type: 'snapshot',
      from,
      to,
      term: 4,
      meta: { index: 100, term: 4, members: MEMBERS },
      offset: 1024 * 1024,
      chunk: new Uint8Array([9, 8, 7, 0, 0, 1]),
      done: true,
    },
    snapshotResp: { type: 'snapshotResp', from, to, term: 4, snapshotIndex: 100, nextOffset: 2048, installed: false, success: true },
    timeoutNow: { type: 'timeoutNow', from, to, term: 6 },
    readIndex: { type: 'readIndex', from, to, term: 6, requestId: 42 },
    readIndexResp: { type: 'readIndexResp', from, to, term: 6, requestId: 42, readIndex: 99, ok: true },
  };
}

export const SAMPLES = samplesFrom('n1', 'n2');
export const ALL_SAMPLES: Message[] = Object.values(SAMPLES);

// ---- arbitraries for property tests ---------------------------------------

const id = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 });
const nat = fc.maxSafeNat();
const pos = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const memberArb: fc.Arbitrary<Member> = fc.record({
  id,
  url: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
  voter: fc.boolean(),
});
const membersArb = fc.uniqueArray(memberArb, { maxLength: 5, selector: (m) => m.id });

function entriesAfter(prevLogIndex: number): fc.Arbitrary<Entry[]> {
  const body = fc.oneof(
    fc.record({ kind: fc.constant('normal' as const), data: fc.uint8Array({ maxLength: 300 }) }),
    fc.record({ kind: fc.constant('noop' as const) }),
    fc.record({ kind: fc.constant('config' as const), members: membersArb }),
  );
  return fc
    .array(fc.tuple(body, pos), { maxLength: 6 })
    .map((items) => items.map(([b, term], i) => ({ ...b, index: prevLogIndex + 1 + i, term }) as Entry));
}

/** Any well-formed message (field values anywhere in their valid ranges). */
export const messageArb: fc.Arbitrary<Message> = fc
  .record({
    from: id,
    to: id,
    term: nat,
    a: nat,
    b: nat,
    c: nat,
    flag: fc.boolean(),
    flag2: fc.boolean(),
    prev: fc.integer({ min: 0, max: 2 ** 40 }),
  })
  .chain(({ from, to, term, a, b, c, flag, flag2, prev }) => {
    const head = { from, to, term };
    return fc.oneof(
      fc.constant<Message>({ type: 'preVote', ...head, lastLogIndex: a, lastLogTerm: b }),
      fc.constant<Message>({ type: 'preVoteResp', ...head, granted: flag }),
      fc.constant<Message>({ type: 'vote', ...head, lastLogIndex: a, lastLogTerm: b, transfer: flag }),
      fc.constant<Message>({ type: 'voteResp', ...head, granted: flag }),
      entriesAfter(prev).map<Message>((entries) => ({
        type: 'append',
        ...head,
        prevLogIndex: prev,
        prevLogTerm: b,
        entries,
        leaderCommit: c,
      })),
      fc.constant<Message>({ type: 'appendResp', ...head, success: flag, matchIndex: a, rejectHint: b, rejectTerm: c }),
      fc.constant<Message>({ type: 'heartbeat', ...head, leaderCommit: a, readSeq: b }),
      fc.constant<Message>({ type: 'heartbeatResp', ...head, readSeq: a }),
      fc.tuple(membersArb, fc.uint8Array({ maxLength: 500 }), pos, pos).map<Message>(([members, chunk, index, snapTerm]) => ({
        type: 'snapshot',
        ...head,
        meta: { index, term: snapTerm, members },
        offset: a,
        chunk,
        done: flag,
      })),
      fc.constant<Message>({ type: 'snapshotResp', ...head, snapshotIndex: a, nextOffset: b, installed: flag, success: flag2 }),
      fc.constant<Message>({ type: 'timeoutNow', ...head }),
      fc.constant<Message>({ type: 'readIndex', ...head, requestId: a }),
      fc.constant<Message>({ type: 'readIndexResp', ...head, requestId: a, readIndex: b, ok: flag }),
    );
  });
