// RaftCore.takeHeartbeats: while a Ready is with the driver (its save in flight),
// the heartbeats a leader's ticks queue, and a follower's answers to heartbeats,
// can be taken and sent at once (raft-node.ts does, on every tick of a busy
// loop); everything else stays for the next Ready, in order. The process-level
// test of what this is for is test/node/heartbeats-during-stall.test.ts.
import { describe, expect, it } from 'vitest';
import { RaftCore } from '../../src/raft/raft.js';
import type { Message, NodeId, Ready } from '../../src/raft/types.js';
import { drain, enc, initialState, testConfig, voters } from './helpers.js';

const IDS = ['a', 'b', 'c'];

function core(id: NodeId): RaftCore {
  return new RaftCore(testConfig(id, { preVote: false, checkQuorum: false, heartbeatTicks: 2 }), initialState(voters(...IDS)));
}

/** A leader of a fresh term with its no-op acknowledged by both followers, every Ready drained. */
function leader(): RaftCore {
  const c = core('a');
  for (let i = 0; i < 100 && c.status().role !== 'candidate'; i++) c.tick();
  const term = c.status().term;
  for (const from of ['b', 'c']) c.step({ type: 'voteResp', from, to: 'a', term, granted: true });
  expect(c.status().role).toBe('leader');
  drain(c);
  const last = c.status().lastIndex;
  for (const from of ['b', 'c'])
    c.step({ type: 'appendResp', from, to: 'a', term, success: true, matchIndex: last, rejectHint: 0, rejectTerm: 0 });
  drain(c);
  return c;
}

/** A follower of term 3 (written) whose Ready for an append from 'a' is taken and not advanced: its save in flight. */
function followerSaving(): { c: RaftCore; held: Ready } {
  const c = core('b');
  c.step({ type: 'heartbeat', from: 'a', to: 'b', term: 3, leaderCommit: 0, readSeq: 0 });
  drain(c);
  c.step({
    type: 'append',
    from: 'a',
    to: 'b',
    term: 3,
    prevLogIndex: 0,
    prevLogTerm: 0,
    entries: [{ kind: 'normal', index: 1, term: 3, data: enc('x') }],
    leaderCommit: 0,
  });
  return { c, held: c.ready() };
}

const types = (ms: readonly Message[]): string[] => ms.map((m) => `${m.type}->${m.to}`);

describe('heartbeats taken while a Ready is with the driver', () => {
  it("gives a leader's heartbeats at once and leaves a proposal's appends, in order, for the next Ready", () => {
    const c = leader();
    const { term } = c.status();
    // A proposal's Ready is taken and its save is in flight: not advanced.
    c.propose(enc('x'));
    const held = c.ready();
    expect(types(held.messages)).toEqual(['append->b', 'append->c']);
    c.propose(enc('y'));
    c.tick();
    c.tick();
    const heartbeats = c.takeHeartbeats();
    expect(types(heartbeats)).toEqual(['heartbeat->b', 'heartbeat->c']);
    for (const m of heartbeats) expect(m).toMatchObject({ term, from: 'a' });
    // Nothing twice: the next Ready carries what is left, without them.
    expect(c.takeHeartbeats()).toEqual([]);
    c.advance(held);
    const next = c.ready();
    expect(next.messages.every((m) => m.type !== 'heartbeat')).toBe(true);
    expect(next.messages.some((m) => m.type === 'append')).toBe(true);
    c.advance(next);
  });

  it("gives a follower's answer to a heartbeat at once, echoing its read sequence, and nothing else", () => {
    const { c, held } = followerSaving();
    expect(types(held.messages)).toEqual(['appendResp->a']);
    c.step({ type: 'heartbeat', from: 'a', to: 'b', term: 3, leaderCommit: 0, readSeq: 7 });
    expect(c.takeHeartbeats()).toEqual([{ type: 'heartbeatResp', from: 'b', to: 'a', term: 3, readSeq: 7 }]);
    expect(c.takeHeartbeats()).toEqual([]);
    c.advance(held);
    expect(drain(c).flatMap((rd) => rd.messages)).toEqual([]);
  });

  it('keeps an answer in a term not yet written for the Ready that writes that term', () => {
    const { c, held } = followerSaving();
    // A new leader's heartbeat: term 4 is in memory only until the next Ready is written.
    c.step({ type: 'heartbeat', from: 'c', to: 'b', term: 4, leaderCommit: 0, readSeq: 1 });
    expect(c.takeHeartbeats()).toEqual([]);
    c.advance(held);
    const next = c.ready();
    expect(next.hardState?.term).toBe(4);
    expect(next.messages).toEqual([{ type: 'heartbeatResp', from: 'b', to: 'c', term: 4, readSeq: 1 }]);
    c.advance(next);
  });

  it('takes nothing when no heartbeat is queued, and leaves the queue as it was', () => {
    const c = leader();
    c.propose(enc('x'));
    expect(c.takeHeartbeats()).toEqual([]);
    expect(types(c.ready().messages)).toEqual(['append->b', 'append->c']);
  });
});
