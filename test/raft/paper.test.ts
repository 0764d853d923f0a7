// One test per claim of the Raft paper (Ongaro & Ousterhout 2014) and of Ongaro's
// thesis (2014), each citing its section, in the spirit of etcd's raft_paper_test.go.
import { describe, expect, it } from 'vitest';
import { RaftCore } from '../../src/raft/raft.js';
import { SnapshotReceiver } from '../../src/raft/snapshot-receiver.js';
import { Prng } from '../../src/util/random.js';
import type { Entry, Message, NodeId, RaftConfig, Ready } from '../../src/raft/types.js';
import {
  Cluster,
  dec,
  drain,
  enc,
  entriesWithTerms,
  initialState,
  stepAndCollect,
  testConfig,
  voters,
  type StoredInitialState,
} from './helpers.js';

const IDS = ['a', 'b', 'c'];

interface CoreOpts {
  readonly ids?: readonly NodeId[];
  readonly initial?: Partial<StoredInitialState>;
  readonly cfg?: Partial<RaftConfig>;
}

/** A lone core; by default without pre-vote and CheckQuorum so plain §5 rules apply. */
function newCore(id: NodeId, opts: CoreOpts = {}): RaftCore {
  const members = voters(...(opts.ids ?? IDS));
  return new RaftCore(testConfig(id, { preVote: false, checkQuorum: false, ...opts.cfg }), initialState(members, opts.initial));
}

function tickUntilCampaign(c: RaftCore): void {
  for (let i = 0; i < 100 && c.status().role !== 'candidate' && c.status().role !== 'precandidate'; i++) c.tick();
  expect(['candidate', 'precandidate']).toContain(c.status().role);
}

/** Makes a lone core leader by feeding it granted (pre-)votes from every other voter. */
function makeLeader(c: RaftCore): Message[] {
  tickUntilCampaign(c);
  const me = c.status().id;
  const others = c
    .status()
    .members.filter((m) => m.voter && m.id !== me)
    .map((m) => m.id);
  if (c.status().role === 'precandidate') {
    const term = c.status().term + 1;
    for (const from of others) c.step({ type: 'preVoteResp', from, to: me, term, granted: true });
  }
  const term = c.status().term;
  for (const from of others) if (c.status().role === 'candidate') c.step({ type: 'voteResp', from, to: me, term, granted: true });
  expect(c.status().role).toBe('leader');
  return stepAndCollect(c);
}

function append(from: NodeId, to: NodeId, term: number, prev: [number, number], entries: Entry[], leaderCommit = 0): Message {
  return { type: 'append', from, to, term, prevLogIndex: prev[0], prevLogTerm: prev[1], entries, leaderCommit };
}

function appendResp(from: NodeId, to: NodeId, term: number, matchIndex: number): Message {
  return { type: 'appendResp', from, to, term, success: true, matchIndex, rejectHint: 0, rejectTerm: 0 };
}

/** Steps one message and returns the single Ready it produces (advanced). */
function stepAndCollectReady(c: RaftCore, m: Message): Ready {
  c.step(m);
  const rds = drain(c);
  expect(rds).toHaveLength(1);
  const rd = rds[0];
  if (rd === undefined) throw new Error('no Ready');
  return rd;
}

function ofType<T extends Message['type']>(msgs: readonly Message[], type: T): Extract<Message, { type: T }>[] {
  return msgs.filter((m): m is Extract<Message, { type: T }> => m.type === type);
}

describe('§5.1 terms', () => {
  it.each(['follower', 'candidate', 'leader'] as const)('a %s that sees a higher term becomes follower of that term (§5.1)', (role) => {
    const c = newCore('a');
    if (role === 'candidate') tickUntilCampaign(c);
    if (role === 'leader') makeLeader(c);
    drain(c);
    const term = c.status().term + 5;
    c.step(append('b', 'a', term, [0, 0], []));
    expect(c.status()).toMatchObject({ role: 'follower', term, leaderId: 'b' });
    expect(c.status().hardState.vote).toBeNull();
  });

  it('a request with a stale term is rejected, and the answer carries the newer term (§5.1)', () => {
    const c = newCore('a', { initial: { hardState: { term: 5, vote: null, commitIndex: 0 } } });
    const out = stepAndCollect(c, append('b', 'a', 3, [0, 0], entriesWithTerms([3])));
    expect(out).toEqual([{ type: 'appendResp', from: 'a', to: 'b', term: 5, success: false, matchIndex: 0, rejectHint: 0, rejectTerm: 0 }]);
    expect(c.status()).toMatchObject({ term: 5, lastIndex: 0, leaderId: null });
  });

  it('answers from an older term are ignored: stale vote grants elect nobody (§5.1)', () => {
    const c = newCore('a');
    tickUntilCampaign(c); // candidate in term 1
    c.step({ type: 'vote', from: 'b', to: 'a', term: 2, lastLogIndex: 0, lastLogTerm: 0, transfer: false });
    drain(c);
    tickUntilCampaign(c); // candidate in term 3
    const term = c.status().term;
    c.step({ type: 'voteResp', from: 'b', to: 'a', term: term - 2, granted: true });
    c.step({ type: 'voteResp', from: 'c', to: 'a', term: term - 1, granted: true });
    expect(c.status()).toMatchObject({ role: 'candidate', term });
  });

  it('a pre-vote grant counts only for the term the pre-candidate would campaign in now (§9.6)', () => {
    const c = newCore('a', { cfg: { preVote: true }, initial: { hardState: { term: 4, vote: null, commitIndex: 0 } } });
    tickUntilCampaign(c);
    expect(c.status()).toMatchObject({ role: 'precandidate', term: 4 });
    // A grant echoing our own term answers an older pre-campaign (for term 4).
    c.step({ type: 'preVoteResp', from: 'b', to: 'a', term: 4, granted: true });
    expect(c.status()).toMatchObject({ role: 'precandidate', term: 4 });
    c.step({ type: 'preVoteResp', from: 'b', to: 'a', term: 5, granted: true });
    expect(c.status()).toMatchObject({ role: 'candidate', term: 5 });
  });

  it('a deposed leader steps down when an answer carries a newer term (§5.1)', () => {
    const c = newCore('a');
    makeLeader(c);
    c.step({ type: 'appendResp', from: 'b', to: 'a', term: 9, success: false, matchIndex: 0, rejectHint: 0, rejectTerm: 0 });
    expect(c.status()).toMatchObject({ role: 'follower', term: 9, leaderId: null });
  });
});

describe('§5.2 leader election', () => {
  it('a follower that hears nothing for an election timeout campaigns: term+1, votes for itself, asks every voter (§5.2)', () => {
    const c = newCore('a');
    tickUntilCampaign(c);
    const rd = c.ready();
    expect(rd.hardState).toEqual({ term: 1, vote: 'a', commitIndex: 0 });
    expect(ofType(rd.messages, 'vote').map((m) => [m.to, m.term, m.transfer])).toEqual([
      ['b', 1, false],
      ['c', 1, false],
    ]);
    c.advance(rd);
  });

  it('election timeouts are randomized in [electionTicks, 2*electionTicks) (§5.2)', () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 50; seed++) {
      const c = newCore('a', { cfg: { random: new Prng(seed).asFunction() } });
      let ticks = 0;
      while (c.status().role === 'follower') {
        c.tick();
        ticks++;
      }
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect(ticks).toBeLessThan(20);
      seen.add(ticks);
    }
    expect(seen.size).toBeGreaterThan(3);
  });

  it('a candidate that wins votes from a majority becomes leader and asserts itself with appends (§5.2)', () => {
    const c = newCore('a', { ids: ['a', 'b', 'c', 'd', 'e'] });
    tickUntilCampaign(c);
    drain(c);
    c.step({ type: 'voteResp', from: 'b', to: 'a', term: 1, granted: true });
    expect(c.status().role).toBe('candidate');
    c.step({ type: 'voteResp', from: 'c', to: 'a', term: 1, granted: false });
    c.step({ type: 'voteResp', from: 'd', to: 'a', term: 1, granted: true });
    expect(c.status()).toMatchObject({ role: 'leader', leaderId: 'a', term: 1 });
    const out = stepAndCollect(c);
    expect(
      ofType(out, 'append')
        .map((m) => m.to)
        .sort(),
    ).toEqual(['b', 'c', 'd', 'e']);
  });

  it('a candidate rejected by a majority returns to follower (§5.2)', () => {
    const c = newCore('a');
    tickUntilCampaign(c);
    c.step({ type: 'voteResp', from: 'b', to: 'a', term: 1, granted: false });
    c.step({ type: 'voteResp', from: 'c', to: 'a', term: 1, granted: false });
    expect(c.status()).toMatchObject({ role: 'follower', term: 1 });
    expect(c.status().hardState.vote).toBe('a');
  });

  it('each server grants at most one vote per term, first come first served (§5.2)', () => {
    const c = newCore('a');
    const vote = (from: NodeId): Message => ({ type: 'vote', from, to: 'a', term: 2, lastLogIndex: 0, lastLogTerm: 0, transfer: false });
    expect(stepAndCollect(c, vote('b'))).toEqual([{ type: 'voteResp', from: 'a', to: 'b', term: 2, granted: true }]);
    expect(stepAndCollect(c, vote('c'))).toEqual([{ type: 'voteResp', from: 'a', to: 'c', term: 2, granted: false }]);
    // A repeated request from the same candidate gets the same answer.
    expect(stepAndCollect(c, vote('b'))).toEqual([{ type: 'voteResp', from: 'a', to: 'b', term: 2, granted: true }]);
  });

  it('a granted vote is in the same Ready as the answer, so it is durable before the answer leaves (§5.2, Fig. 2)', () => {
    const c = newCore('a');
    c.step({ type: 'vote', from: 'b', to: 'a', term: 4, lastLogIndex: 0, lastLogTerm: 0, transfer: false });
    const rd = c.ready();
    expect(rd.hardState).toEqual({ term: 4, vote: 'b', commitIndex: 0 });
    expect(rd.messages).toEqual([{ type: 'voteResp', from: 'a', to: 'b', term: 4, granted: true }]);
    c.advance(rd);
  });

  it('a candidate that hears AppendEntries from a leader of its term steps down and keeps its vote (§5.2)', () => {
    const c = newCore('a');
    tickUntilCampaign(c);
    drain(c);
    c.step(append('b', 'a', 1, [0, 0], []));
    expect(c.status()).toMatchObject({ role: 'follower', term: 1, leaderId: 'b' });
    expect(c.status().hardState.vote).toBe('a');
    expect(c.ready().hardState).toBeNull(); // nothing to persist: the vote was not lost
  });

  it('the leader sends heartbeats every heartbeatTicks (§5.2)', () => {
    const c = newCore('a', { cfg: { heartbeatTicks: 3 } });
    makeLeader(c);
    const heartbeats = (): number => ofType(stepAndCollect(c), 'heartbeat').length;
    c.tick();
    c.tick();
    expect(heartbeats()).toBe(0);
    c.tick();
    expect(heartbeats()).toBe(2);
  });
});

describe('§5.3 log replication', () => {
  it('a proposal is replicated, committed once a majority stored it, and applied everywhere (§5.3)', () => {
    const c = new Cluster(IDS);
    c.elect('a');
    const r = c.core('a').propose(enc('v'));
    expect(r).toEqual({ ok: true, index: 2, term: c.core('a').status().term });
    c.cutLink('a', 'c');
    c.stabilizeCommits();
    expect(c.core('a').status().commitIndex).toBe(2);
    expect(c.node('a').applied).toEqual(['v']);
    expect(c.node('b').applied).toEqual(['v']);
    expect(c.node('c').applied).toEqual([]);
  });

  it('the leader counts its own entry toward a quorum only after the driver persisted it (§5.3, thesis §10.2.1)', () => {
    const c = new Cluster(IDS);
    c.elect('a');
    c.isolate('c');
    c.propose('a', 'x');
    const a = c.core('a');
    const rd = a.ready(); // carries entry 2 to persist and the appends to b
    c.inFlight.push(...rd.messages);
    c.deliver((m) => m.to === 'b');
    c.processReady('b');
    c.deliver((m) => m.to === 'a'); // b's ack arrives before a's own write finished
    expect(a.status().commitIndex).toBe(1);
    a.advance(rd);
    expect(a.status().commitIndex).toBe(2);
  });

  it('propose on a non-leader is refused with the known leader (§5.1 client interaction, §8)', () => {
    const c = new Cluster(IDS);
    c.elect('a');
    expect(c.core('b').propose(enc('x'))).toEqual({ ok: false, reason: 'NOT_LEADER', leaderId: 'a' });
  });

  it('the consistency check rejects an append whose previous entry does not match, with a backtracking hint (§5.3)', () => {
    const c = newCore('b', { initial: { hardState: { term: 3, vote: null, commitIndex: 0 }, entries: entriesWithTerms([1, 1, 2, 2]) } });
    const out = stepAndCollect(c, append('a', 'b', 3, [4, 3], entriesWithTerms([3], 5)));
    // Our entry 4 has term 2 < 3: the leader can skip to index 4 and look for term 2 there.
    expect(out).toEqual([{ type: 'appendResp', from: 'b', to: 'a', term: 3, success: false, matchIndex: 4, rejectHint: 4, rejectTerm: 2 }]);
    expect(c.status().lastIndex).toBe(4);
  });

  it('a follower deletes a conflicting entry and everything after it, then appends (§5.3)', () => {
    const c = newCore('b', { initial: { hardState: { term: 2, vote: null, commitIndex: 1 }, entries: entriesWithTerms([1, 1, 2, 2]) } });
    c.step(append('a', 'b', 3, [2, 1], entriesWithTerms([3], 3), 1));
    const rd = c.ready();
    expect(rd.entries.map((e) => `${e.index}@${e.term}`)).toEqual(['3@3']);
    expect(rd.messages).toEqual([
      { type: 'appendResp', from: 'b', to: 'a', term: 3, success: true, matchIndex: 3, rejectHint: 0, rejectTerm: 0 },
    ]);
    c.advance(rd);
    expect(c.status().lastIndex).toBe(3);
  });

  it('an old, shorter append never truncates entries that match (§5.3)', () => {
    const c = newCore('b', { initial: { hardState: { term: 1, vote: null, commitIndex: 0 }, entries: entriesWithTerms([1, 1, 1]) } });
    const out = stepAndCollect(c, append('a', 'b', 1, [0, 0], entriesWithTerms([1])));
    expect(ofType(out, 'appendResp')[0]).toMatchObject({ success: true, matchIndex: 1 });
    expect(c.status().lastIndex).toBe(3);
  });

  // Figure 7: leader of term 8; followers (a)–(f).
  const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
  const figure7: Record<string, number[]> = {
    a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
    b: [1, 1, 1, 4],
    c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
    d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
    e: [1, 1, 1, 4, 4, 4, 4],
    f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
  };
  it.each(Object.entries(figure7))('Figure 7 (%s): the leader makes the follower log identical to its own (§5.3)', (_case, terms) => {
    const members = voters('l', 'f', 'x');
    const c = new Cluster([], { members, config: { preVote: false, checkQuorum: false } });
    c.add('l', initialState(members, { hardState: { term: 7, vote: null, commitIndex: 0 }, entries: entriesWithTerms(leaderLog) }));
    const fTerm = terms.at(-1) ?? 0;
    c.add('f', initialState(members, { hardState: { term: fTerm, vote: null, commitIndex: 0 }, entries: entriesWithTerms(terms) }));
    tickUntilCampaign(c.core('l'));
    // x (absent from the network) votes for l; f may refuse (cases c, d have newer logs).
    c.core('l').step({ type: 'voteResp', from: 'x', to: 'l', term: 8, granted: true });
    expect(c.core('l').status().role).toBe('leader');
    c.stabilizeCommits();
    expect(c.core('l').status().role).toBe('leader');
    expect(c.logOf('f')).toEqual(c.logOf('l'));
    expect(c.logOf('l')).toHaveLength(11);
    expect(c.node('f').applied).toEqual(c.node('l').applied);
    expect(c.node('f').applied).toHaveLength(10);
  });

  it('fast backtracking: one rejection skips a whole conflicting term (§5.3 optimization)', () => {
    const members = voters('l', 'f', 'x');
    const c = new Cluster([], { members, config: { preVote: false, checkQuorum: false } });
    c.add(
      'l',
      initialState(members, {
        hardState: { term: 7, vote: null, commitIndex: 0 },
        entries: entriesWithTerms([1, 1, 1, 4, 4, 5, 5, 6, 6, 6]),
      }),
    );
    c.add(
      'f',
      initialState(members, { hardState: { term: 3, vote: null, commitIndex: 0 }, entries: entriesWithTerms(figure7['f'] ?? []) }),
    );
    tickUntilCampaign(c.core('l'));
    c.core('l').step({ type: 'voteResp', from: 'x', to: 'l', term: 8, granted: true });
    let rejections = 0;
    for (let i = 0; i < 50; i++) {
      c.processAll();
      rejections += c.inFlight.filter((m) => m.type === 'appendResp' && !m.success).length;
      c.deliver();
    }
    expect(c.logOf('f')).toEqual(c.logOf('l'));
    // Linear probing would need 8 rejections (index 11 down to 3).
    expect(rejections).toBeLessThanOrEqual(3);
  });

  it('pipelining and batching: appends are limited by maxAppendBytes and maxInflightAppends (§10.2.1 thesis)', () => {
    const c = newCore('a', { cfg: { maxAppendBytes: 100, maxInflightAppends: 2 } });
    makeLeader(c);
    c.step(appendResp('b', 'a', 1, 1)); // b accepted the no-op: replicate state
    drain(c);
    for (let i = 0; i < 10; i++) expect(c.propose(new Uint8Array(40)).ok).toBe(true);
    const appendsToB = ofType(stepAndCollect(c), 'append').filter((m) => m.to === 'b');
    // 40 data + 24 overhead bytes per entry: one entry per 100-byte message, two messages in flight.
    expect(appendsToB.map((m) => m.entries.map((e) => e.index))).toEqual([[2], [3]]);
    c.step(appendResp('b', 'a', 1, 2));
    expect(
      ofType(stepAndCollect(c), 'append')
        .filter((m) => m.to === 'b')
        .map((m) => m.entries.map((e) => e.index)),
    ).toEqual([[4]]);
  });

  it('a rejection in the pipeline falls back to one probe at a time, and a later success reopens the full window (§5.3)', () => {
    const c = newCore('a', { cfg: { maxAppendBytes: 1, maxInflightAppends: 2 } });
    makeLeader(c);
    c.step(appendResp('b', 'a', 1, 1)); // replicate state
    drain(c);
    for (let i = 0; i < 6; i++) expect(c.propose(enc(`${i}`)).ok).toBe(true);
    const toB = (): number[][] =>
      ofType(stepAndCollect(c), 'append')
        .filter((m) => m.to === 'b')
        .map((m) => m.entries.map((e) => e.index));
    expect(toB()).toEqual([[2], [3]]); // the window is full
    // b lost entry 2: it rejects the append after it. Back to probing from match + 1.
    c.step({ type: 'appendResp', from: 'b', to: 'a', term: 1, success: false, matchIndex: 2, rejectHint: 1, rejectTerm: 1 });
    expect(toB()).toEqual([[2]]);
    c.step({ type: 'appendResp', from: 'b', to: 'a', term: 1, success: false, matchIndex: 2, rejectHint: 1, rejectTerm: 1 }); // a duplicate: stale
    expect(toB()).toEqual([]);
    c.step(appendResp('b', 'a', 1, 2));
    expect(toB()).toEqual([[3], [4]]);
  });

  it('proposals are refused with TOO_MANY_PENDING when too many entries are uncommitted', () => {
    const c = newCore('a', { cfg: { maxUncommittedEntries: 3 } });
    makeLeader(c); // the no-op is uncommitted too
    expect(c.propose(enc('1')).ok).toBe(true);
    expect(c.propose(enc('2')).ok).toBe(true);
    expect(c.propose(enc('3'))).toEqual({ ok: false, reason: 'TOO_MANY_PENDING', leaderId: 'a' });
  });

  it('committed entries are handed out only after they were persisted in an advanced Ready', () => {
    const c = newCore('b');
    c.step(append('a', 'b', 1, [0, 0], entriesWithTerms([1, 1]), 2));
    const rd = c.ready();
    expect(rd.entries).toHaveLength(2);
    expect(rd.committedEntries).toEqual([]);
    expect(c.status().commitIndex).toBe(2);
    c.advance(rd);
    const rd2 = c.ready();
    expect(rd2.committedEntries.map((e) => e.index)).toEqual([1, 2]);
    c.advance(rd2);
    expect(c.status().appliedIndex).toBe(2);
  });
});

describe('§5.4 safety', () => {
  const follower = (): RaftCore =>
    newCore('a', { initial: { hardState: { term: 3, vote: null, commitIndex: 0 }, entries: entriesWithTerms([1, 2, 3]) } });
  const ask = (c: RaftCore, lastLogIndex: number, lastLogTerm: number): boolean => {
    const out = stepAndCollect(c, { type: 'vote', from: 'b', to: 'a', term: 4, lastLogIndex, lastLogTerm, transfer: false });
    return ofType(out, 'voteResp')[0]?.granted ?? false;
  };

  it('§5.4.1 election restriction: a voter refuses a candidate whose last term is older', () => {
    expect(ask(follower(), 10, 2)).toBe(false);
  });
  it('§5.4.1 election restriction: same last term but a shorter log is refused', () => {
    expect(ask(follower(), 2, 3)).toBe(false);
  });
  it('§5.4.1 election restriction: an equal or newer log gets the vote', () => {
    expect(ask(follower(), 3, 3)).toBe(true);
    expect(ask(follower(), 1, 4)).toBe(true);
  });

  it('§5.4.2 Figure 8: a leader never commits an earlier-term entry by counting replicas', () => {
    const c = newCore('a', { initial: { hardState: { term: 3, vote: null, commitIndex: 1 }, entries: entriesWithTerms([1, 2]) } });
    makeLeader(c); // term 4, no-op at index 3
    expect(c.status().term).toBe(4);
    c.step(appendResp('b', 'a', 4, 2));
    c.step(appendResp('c', 'a', 4, 2));
    drain(c);
    // Index 2 (term 2) is on all three servers, yet it is not committed.
    expect(c.status().commitIndex).toBe(1);
    c.step(appendResp('b', 'a', 4, 3));
    drain(c);
    // Committing the current-term no-op commits index 2 indirectly.
    expect(c.status().commitIndex).toBe(3);
  });
});

describe('§9.6 pre-vote and CheckQuorum', () => {
  it('a node cut off from the cluster does not raise its term, and cannot disrupt the leader when it returns (§9.6)', () => {
    const c = new Cluster(IDS);
    c.elect('a');
    const term = c.core('a').status().term;
    c.isolate('c');
    for (let i = 0; i < 10; i++) c.tickAll(10);
    expect(c.core('c').status().term).toBe(term);
    expect(c.core('c').status().role).toBe('precandidate');
    c.heal();
    c.tickAll(5);
    expect(c.leaderIds()).toEqual(['a']);
    expect(c.core('a').status().term).toBe(term);
    expect(c.core('c').status()).toMatchObject({ role: 'follower', leaderId: 'a', term });
  });

  it('a pre-vote does not change the voter term, and is granted only to an up-to-date log (§9.6)', () => {
    const c = newCore('a', {
      cfg: { preVote: true },
      initial: { hardState: { term: 2, vote: 'c', commitIndex: 0 }, entries: entriesWithTerms([1, 2]) },
    });
    const preVote = (lastLogIndex: number, lastLogTerm: number): Message => ({
      type: 'preVote',
      from: 'b',
      to: 'a',
      term: 3,
      lastLogIndex,
      lastLogTerm,
    });
    expect(stepAndCollect(c, preVote(2, 2))).toEqual([{ type: 'preVoteResp', from: 'a', to: 'b', term: 3, granted: true }]);
    expect(stepAndCollect(c, preVote(1, 1))).toEqual([{ type: 'preVoteResp', from: 'a', to: 'b', term: 2, granted: false }]);
    expect(c.status().hardState).toEqual({ term: 2, vote: 'c', commitIndex: 0 });
  });

  it('voters that heard from a leader within the election timeout ignore pre-votes and votes (leader lease, §9.6/§4.2.3)', () => {
    const c = newCore('b', { cfg: { preVote: true, checkQuorum: true } });
    c.step({ type: 'heartbeat', from: 'a', to: 'b', term: 1, leaderCommit: 0, readSeq: 0 });
    drain(c);
    expect(stepAndCollect(c, { type: 'preVote', from: 'c', to: 'b', term: 2, lastLogIndex: 5, lastLogTerm: 1 })).toEqual([]);
    expect(stepAndCollect(c, { type: 'vote', from: 'c', to: 'b', term: 2, lastLogIndex: 5, lastLogTerm: 1, transfer: false })).toEqual([]);
    expect(c.status()).toMatchObject({ term: 1, leaderId: 'a' });
  });

  it('a pre-candidate becomes candidate (and raises its term) only after a pre-vote majority (§9.6)', () => {
    const c = newCore('a', { cfg: { preVote: true } });
    tickUntilCampaign(c);
    expect(c.status()).toMatchObject({ role: 'precandidate', term: 0 });
    const rd = c.ready();
    expect(rd.hardState).toBeNull(); // nothing persisted: the term did not change
    expect(ofType(rd.messages, 'preVote').map((m) => m.term)).toEqual([1, 1]);
    c.advance(rd);
    c.step({ type: 'preVoteResp', from: 'b', to: 'a', term: 1, granted: true });
    expect(c.status()).toMatchObject({ role: 'candidate', term: 1 });
    expect(ofType(stepAndCollect(c), 'vote').map((m) => m.term)).toEqual([1, 1]);
  });

  it('CheckQuorum: a leader that hears from no quorum within an election timeout steps down (thesis §6.2)', () => {
    const c = new Cluster(IDS);
    c.elect('a');
    c.isolate('a');
    c.tick('a', 25);
    expect(c.core('a').status()).toMatchObject({ role: 'follower', leaderId: null });
  });

  it('CheckQuorum counts voters only: learners that still answer do not keep a cut-off leader (thesis §6.2, §4.2.1)', () => {
    const members = [...voters(...IDS), { id: 'l1', url: 'http://l1', voter: false }, { id: 'l2', url: 'http://l2', voter: false }];
    const c = new Cluster([...IDS, 'l1', 'l2'], { members });
    c.elect('a');
    c.cutLink('a', 'b');
    c.cutLink('a', 'c');
    for (let i = 0; i < 25; i++) {
      c.tick('a');
      c.stabilize();
    }
    expect(c.core('a').status()).toMatchObject({ role: 'follower', leaderId: null });
  });

  it('a leader that keeps hearing from a quorum stays leader under CheckQuorum', () => {
    const c = new Cluster(IDS);
    c.elect('a');
    c.isolate('c');
    for (let i = 0; i < 5; i++) {
      c.tick('a', 10);
      c.stabilize();
    }
    expect(c.leaderIds()).toEqual(['a']);
  });
});

describe('§3.10 leadership transfer', () => {
  it('transfer to an up-to-date follower: TimeoutNow, and the target wins the next term despite leases', () => {
    const c = new Cluster(IDS);
    c.elect('a');
    const term = c.core('a').status().term;
    expect(c.core('a').transferLeadership('b').ok).toBe(true);
    c.processReady('a');
    expect(c.inFlight.some((m) => m.type === 'timeoutNow' && m.to === 'b')).toBe(true);
    c.stabilize();
    expect(c.leaderIds()).toEqual(['b']);
    expect(c.core('b').status().term).toBe(term + 1);
    expect(c.core('a').status()).toMatchObject({ role: 'follower', leaderId: 'b' });
  });

  it('transfer to a lagging follower catches it up first, then sends TimeoutNow', () => {
    const c = new Cluster(IDS);
    c.elect('a');
    c.cutLink('a', 'c');
    c.propose('a', 'x');
    c.stabilize();
    expect(c.core('c').status().lastIndex).toBe(1);
    c.heal();
    expect(c.core('a').transferLeadership('c').ok).toBe(true);
    c.processReady('a');
    expect(c.inFlight.some((m) => m.type === 'timeoutNow')).toBe(false);
    c.stabilize();
    expect(c.leaderIds()).toEqual(['c']);
    expect(c.node('c').applied).toEqual(['x']);
  });

  it('proposals are refused during a transfer, which is abandoned after an election timeout', () => {
    const c = new Cluster(IDS);
    c.elect('a');
    c.isolate('b');
    expect(c.core('a').transferLeadership('b').ok).toBe(true);
    expect(c.core('a').propose(enc('x'))).toEqual({ ok: false, reason: 'TRANSFER_IN_PROGRESS', leaderId: 'a' });
    expect(c.core('a').transferLeadership('c')).toEqual({ ok: false, reason: 'TRANSFER_IN_PROGRESS', leaderId: 'a' });
    c.tick('a', 10);
    c.stabilize();
    expect(c.core('a').status().role).toBe('leader');
    expect(c.core('a').propose(enc('x')).ok).toBe(true);
  });

  it('transfer to a non-voter is refused', () => {
    const c = new Cluster(IDS);
    c.elect('a');
    expect(c.core('a').transferLeadership('zz')).toEqual({ ok: false, reason: 'INVALID_CONFIG_CHANGE', leaderId: 'a' });
    expect(c.core('b').transferLeadership('c')).toEqual({ ok: false, reason: 'NOT_LEADER', leaderId: 'a' });
  });
});

describe('§4 membership changes', () => {
  it('a learner receives the log but does not count toward the commit quorum (§4.2.1)', () => {
    const members = [...voters('a', 'b'), { id: 'l', url: 'http://l', voter: false }];
    const c = new Cluster(['a', 'b', 'l'], { members });
    expect(c.core('l').status().role).toBe('learner');
    c.elect('a');
    c.propose('a', 'x');
    c.stabilizeCommits();
    expect(c.node('l').applied).toEqual(['x']);
    c.cutLink('a', 'b');
    c.propose('a', 'y');
    c.stabilizeCommits();
    // The learner has y, but a and b are the voters: no quorum without b.
    expect(c.core('l').status().lastIndex).toBe(3);
    expect(c.core('a').status().commitIndex).toBe(2);
    // A learner never campaigns.
    c.tick('l', 100);
    expect(c.core('l').status().role).toBe('learner');
  });

  it('addLearner then promote: the configuration takes effect when appended, before it commits (§4.1)', () => {
    const c = new Cluster(['a', 'b', 'c'], { members: voters('a', 'b', 'c') });
    c.add('d', initialState(voters('a', 'b', 'c')));
    c.elect('a');
    expect(c.core('a').proposeConfChange({ type: 'addLearner', id: 'd', url: 'http://d' }).ok).toBe(true);
    expect(
      c
        .core('a')
        .status()
        .members.map((m) => `${m.id}:${m.voter}`),
    ).toEqual(['a:true', 'b:true', 'c:true', 'd:false']);
    c.stabilizeCommits();
    expect(c.core('d').status().role).toBe('learner');
    expect(c.core('a').proposeConfChange({ type: 'promote', id: 'd' }).ok).toBe(true);
    c.processReady('a');
    c.deliver((m) => m.to === 'd');
    expect(c.core('d').status().commitIndex).toBeLessThan(c.core('d').status().lastIndex);
    expect(c.core('d').status().role).toBe('follower');
    c.stabilizeCommits();
    c.propose('a', 'x');
    c.stabilizeCommits();
    expect(c.node('d').applied).toEqual(['x']);
  });

  it('one uncommitted change at a time, and none before the leader committed an entry of its term (§4.1, §4.2.3 fix)', () => {
    const c = new Cluster(IDS);
    c.campaign('a');
    const a = c.core('a');
    expect(a.status().role).toBe('leader');
    // Fresh leader whose no-op is not committed yet.
    const fresh = newCore('a');
    makeLeader(fresh);
    expect(fresh.proposeConfChange({ type: 'addLearner', id: 'd', url: 'u' })).toEqual({
      ok: false,
      reason: 'CONFIG_CHANGE_IN_PROGRESS',
      leaderId: 'a',
    });
    expect(a.proposeConfChange({ type: 'addLearner', id: 'd', url: 'u' }).ok).toBe(true);
    expect(a.proposeConfChange({ type: 'addLearner', id: 'e', url: 'u' })).toEqual({
      ok: false,
      reason: 'CONFIG_CHANGE_IN_PROGRESS',
      leaderId: 'a',
    });
    c.stabilize();
    expect(a.proposeConfChange({ type: 'addLearner', id: 'e', url: 'u' }).ok).toBe(true);
  });

  it.each([
    ['removing the last voter', voters('a'), { type: 'remove', id: 'a' }],
    ['promoting an unknown node', voters('a'), { type: 'promote', id: 'zz' }],
    ['promoting a voter', voters('a'), { type: 'promote', id: 'a' }],
    ['adding an existing member', voters('a'), { type: 'addLearner', id: 'a', url: 'u' }],
    ['removing an unknown node', voters('a'), { type: 'remove', id: 'zz' }],
  ] as const)('an invalid change is refused: %s (§4.1)', (_what, members, change) => {
    const c = new Cluster(['a'], { members });
    c.elect('a');
    c.stabilize();
    expect(c.core('a').proposeConfChange(change)).toEqual({ ok: false, reason: 'INVALID_CONFIG_CHANGE', leaderId: 'a' });
  });

  it('a configuration entry that is truncated away reverts the membership (§4.1)', () => {
    const c = newCore('b', { initial: { hardState: { term: 1, vote: null, commitIndex: 1 }, entries: entriesWithTerms([1]) } });
    const withD = [...voters(...IDS), { id: 'd', url: 'http://d', voter: false }];
    c.step(append('a', 'b', 1, [1, 1], [{ kind: 'config', index: 2, term: 1, members: withD }], 1));
    expect(c.status().members.map((m) => m.id)).toEqual(['a', 'b', 'c', 'd']);
    c.step(append('c', 'b', 2, [1, 1], entriesWithTerms([2], 2), 1));
    expect(c.status().members.map((m) => m.id)).toEqual(IDS);
  });

  it('a stale append that re-sends an older configuration entry does not revert a newer one (§4.1)', () => {
    const c = newCore('b', { initial: { hardState: { term: 1, vote: null, commitIndex: 1 }, entries: entriesWithTerms([1]) } });
    const withD = [...voters(...IDS), { id: 'd', url: 'http://d', voter: false }];
    const withE = [...withD, { id: 'e', url: 'http://e', voter: false }];
    const cfg2: Entry = { kind: 'config', index: 2, term: 1, members: withD };
    const cfg3: Entry = { kind: 'config', index: 3, term: 1, members: withE };
    c.step(append('a', 'b', 1, [1, 1], [cfg2, cfg3], 1));
    c.step(append('a', 'b', 1, [1, 1], [cfg2], 1)); // delayed duplicate of an earlier append
    expect(c.status().members.map((m) => m.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('a leader removed from the configuration keeps leading until the removal commits, then steps down (§4.2.2)', () => {
    const c = new Cluster(IDS);
    c.elect('a');
    expect(c.core('a').proposeConfChange({ type: 'remove', id: 'a' }).ok).toBe(true);
    expect(c.core('a').status().role).toBe('leader');
    c.stabilizeCommits();
    expect(c.core('a').status()).toMatchObject({ role: 'learner', leaderId: null });
    expect(
      c
        .core('b')
        .status()
        .members.map((m) => m.id),
    ).toEqual(['b', 'c']);
    const leader = c.tickUntil(() => c.leaderIds()[0]);
    expect(['b', 'c']).toContain(leader);
    c.propose(leader, 'after');
    c.stabilizeCommits();
    expect(c.node(leader === 'b' ? 'c' : 'b').applied).toEqual(['after']);
  });

  it('a leader that removed itself and lost leadership before the removal replicated can still be elected to finish it (§4.2.2)', () => {
    // Two voters: the removed leader's log holds the only copy of C_new = {b}. b still
    // uses C_old = {a, b} and needs a's vote, which a refuses (its log is longer). If
    // a, a voter of the committed configuration, would not campaign, nobody ever could.
    const c = new Cluster(['a', 'b']);
    c.elect('a');
    c.cutLink('a', 'b');
    const removal = c.core('a').proposeConfChange({ type: 'remove', id: 'a' });
    expect(removal.ok).toBe(true);
    c.stabilize();
    c.restart('a');
    expect(
      c
        .core('a')
        .status()
        .members.map((m) => m.id),
    ).toEqual(['b']);
    c.heal();
    c.tickUntil(() => (c.core('b').status().role === 'leader' ? true : undefined));
    const index = removal.ok ? removal.index : 0;
    expect(c.core('b').status().commitIndex).toBeGreaterThan(index);
    expect(
      c
        .core('b')
        .status()
        .members.map((m) => m.id),
    ).toEqual(['b']);
    expect(c.core('a').status().role).toBe('learner');
    c.propose('b', 'after');
    c.stabilize();
    expect(c.node('b').applied).toEqual(['after']);
  });

  it('a removed leader that saw its removal commit never campaigns again (§4.2.2)', () => {
    const c = new Cluster(['a', 'b', 'c', 'd']);
    c.elect('a');
    expect(c.core('a').proposeConfChange({ type: 'remove', id: 'a' }).ok).toBe(true);
    c.stabilize();
    // a committed its own removal and stepped down; it knows the removal is committed.
    expect(c.core('a').status()).toMatchObject({ role: 'learner' });
    c.isolate('a');
    c.tick('a', 100);
    expect(c.core('a').status().role).toBe('learner');
    expect(stepAndCollect(c.core('a'))).toEqual([]);
  });

  it('a node absent from the configuration never campaigns', () => {
    const c = newCore('z');
    for (let i = 0; i < 100; i++) c.tick();
    expect(c.status().role).toBe('learner');
    expect(stepAndCollect(c)).toEqual([]);
  });
});

describe('§6.4 ReadIndex', () => {
  it('the leader serves a read at its commit index once a quorum answered a later heartbeat round', () => {
    const c = new Cluster(IDS);
    c.elect('a');
    c.propose('a', 'x');
    c.stabilize();
    c.core('a').readIndex(7);
    c.processReady('a');
    const round = c.inFlight.filter((m) => m.type === 'heartbeat');
    expect(round.length).toBe(2);
    expect(c.node('a').readStates).toEqual([]);
    c.deliver((m) => m.to === 'b');
    c.processAll();
    c.deliver((m) => m.to === 'a');
    c.processReady('a');
    expect(c.node('a').readStates).toEqual([{ requestId: 7, readIndex: 2 }]);
  });

  it('a read is not confirmed by heartbeat answers from before it arrived', () => {
    const c = new Cluster(IDS);
    c.elect('a');
    c.tick('a');
    c.processReady('a');
    c.deliver();
    c.processAll(); // b and c answer the round-0 heartbeat
    c.core('a').readIndex(1);
    c.deliver((m) => m.type === 'heartbeatResp'); // old answers arrive after the read
    c.processReady('a');
    expect(c.node('a').readStates).toEqual([]);
    c.stabilize();
    expect(c.node('a').readStates).toEqual([{ requestId: 1, readIndex: 1 }]);
  });

  it('a new leader defers reads until it has committed an entry of its term (§6.4 step 1)', () => {
    const c = newCore('a');
    makeLeader(c);
    c.readIndex(1);
    c.step({ type: 'heartbeatResp', from: 'b', to: 'a', term: 1, readSeq: 0 });
    expect(drain(c).flatMap((rd) => rd.readStates)).toEqual([]);
    c.step(appendResp('b', 'a', 1, 1));
    const out = drain(c);
    expect(
      ofType(
        out.flatMap((rd) => rd.messages),
        'heartbeat',
      ).length,
    ).toBeGreaterThan(0);
    c.step({ type: 'heartbeatResp', from: 'b', to: 'a', term: 1, readSeq: 1 });
    expect(drain(c).flatMap((rd) => rd.readStates)).toEqual([{ requestId: 1, readIndex: 1 }]);
  });

  it('a follower forwards its read to the leader and serves the read index it gets back', () => {
    const c = new Cluster(IDS);
    c.elect('a');
    c.propose('a', 'x');
    c.stabilize();
    c.core('c').readIndex(3);
    c.stabilize();
    expect(c.node('c').readStates).toEqual([{ requestId: 3, readIndex: 2 }]);
  });

  it('a forwarded read whose answer was lost is reported dropped after two election timeouts', () => {
    const c = new Cluster(IDS);
    c.elect('a');
    c.core('b').readIndex(9);
    const lost = (m: Message): boolean => m.type !== 'readIndex';
    const tickBoth = (): void => {
      c.tick('a');
      c.tick('b');
      c.processAll();
      c.deliver(lost);
      c.processAll();
      c.deliver(lost);
      c.inFlight = [];
    };
    for (let i = 0; i < 19; i++) tickBoth();
    expect(c.core('b').status().leaderId).toBe('a');
    expect(c.node('b').droppedReads).toEqual([]);
    tickBoth();
    expect(c.node('b').droppedReads).toEqual([9]);
  });

  it('a single-voter cluster answers at once', () => {
    const c = new Cluster(['a']);
    c.elect('a');
    c.stabilize();
    c.core('a').readIndex(5);
    c.processReady('a');
    expect(c.node('a').readStates).toEqual([{ requestId: 5, readIndex: 1 }]);
  });

  it('reads are dropped when no leader is known or leadership is lost before confirmation', () => {
    const c = new Cluster(IDS);
    c.core('b').readIndex(1);
    c.processReady('b');
    expect(c.node('b').droppedReads).toEqual([1]);
    c.elect('a');
    c.isolate('a');
    c.core('a').readIndex(2);
    c.core('b').readIndex(3);
    c.tick('a', 25); // CheckQuorum: a steps down
    c.processAll();
    expect(c.node('a').droppedReads).toEqual([2]);
    c.tickUntil(() => c.leaderIds().find((id) => id !== 'a'));
    expect(c.node('b').droppedReads).toEqual([1, 3]);
  });
});

describe('§7 log compaction and InstallSnapshot', () => {
  function snapshotData(applied: readonly string[]): Uint8Array {
    return enc(JSON.stringify(applied));
  }

  it('compact drops entries up to the snapshot index; the snapshot must not pass the applied index', () => {
    const c = new Cluster(['a']);
    c.elect('a');
    for (let i = 0; i < 5; i++) c.propose('a', `e${i}`);
    c.stabilize();
    const core = c.core('a');
    const meta = core.snapshotMetaAt(4);
    expect(meta).toEqual({ index: 4, term: 1, members: voters('a') });
    core.compact(meta, snapshotData(c.node('a').applied.slice(0, 3)));
    expect(core.status()).toMatchObject({ snapshotIndex: 4, lastIndex: 6 });
    expect(() => core.snapshotMetaAt(7)).toThrow(/beyond applied/);
  });

  it('a follower behind the compacted log gets the snapshot in ordered chunks, installs it, then catches up', () => {
    const c = new Cluster(IDS, { config: { snapshotChunkBytes: 8 } });
    c.elect('a');
    c.isolate('c');
    for (let i = 0; i < 10; i++) c.propose('a', `e${i}`);
    c.stabilize();
    const a = c.node('a');
    const meta = a.core.snapshotMetaAt(a.appliedIndex);
    const data = snapshotData(a.applied);
    a.disk.compact({ meta, data });
    a.core.compact(meta, data);
    c.propose('a', 'after');
    c.stabilize();
    c.heal();
    const offsets: number[] = [];
    for (let i = 0; i < 200 && c.node('c').applied.at(-1) !== 'after'; i++) {
      c.tick('a');
      c.processAll();
      for (const m of c.inFlight) if (m.type === 'snapshot' && m.to === 'c') offsets.push(m.offset);
      c.deliver();
    }
    expect(c.node('c').applied).toEqual([...a.applied]);
    expect(c.node('c').disk.snapshot?.meta).toEqual(meta);
    expect(offsets.length).toBe(Math.ceil(data.byteLength / 8));
    expect(offsets).toEqual([...offsets].sort((x, y) => x - y));
    expect(c.core('c').status()).toMatchObject({ snapshotIndex: meta.index, commitIndex: 12, appliedIndex: 12 });
  });

  it('a snapshot whose last entry the follower already holds is not installed: the longer matching log survives (§7)', () => {
    const c = newCore('b', {
      initial: { hardState: { term: 1, vote: null, commitIndex: 2 }, entries: entriesWithTerms([1, 1, 1, 1, 1, 1]) },
    });
    const meta = { index: 4, term: 1, members: voters(...IDS) };
    const rd = stepAndCollectReady(c, { type: 'snapshot', from: 'a', to: 'b', term: 1, meta, offset: 0, chunk: enc('[]'), done: true });
    expect(rd.snapshot).toBeNull();
    expect(rd.messages).toEqual([
      { type: 'appendResp', from: 'b', to: 'a', term: 1, success: true, matchIndex: 4, rejectHint: 0, rejectTerm: 0 },
    ]);
    expect(c.status()).toMatchObject({ lastIndex: 6, commitIndex: 4, snapshotIndex: 0 });
  });

  it('a follower restarts the accumulation when the snapshot changes or a chunk is out of order', () => {
    const c = newCore('b');
    const meta1 = { index: 5, term: 1, members: voters(...IDS) };
    const chunk = (meta: typeof meta1, offset: number, bytes: string, done: boolean): Message => ({
      type: 'snapshot',
      from: 'a',
      to: 'b',
      term: 1,
      meta,
      offset,
      chunk: enc(bytes),
      done,
    });
    const resp = (m: Message) => ofType(stepAndCollect(c, m), 'snapshotResp')[0];
    expect(resp(chunk(meta1, 0, 'abcd', false))).toMatchObject({ nextOffset: 4, installed: false });
    expect(resp(chunk(meta1, 8, 'ijkl', false))).toMatchObject({ nextOffset: 4, installed: false }); // gap
    const meta2 = { ...meta1, index: 6 };
    expect(resp(chunk(meta2, 4, 'efgh', false))).toMatchObject({ nextOffset: 0, installed: false }); // new snapshot, mid-way
    expect(resp(chunk(meta2, 0, '["x"', false))).toMatchObject({ nextOffset: 4, installed: false });
    c.step(chunk(meta2, 4, ']', true));
    const rd = c.ready();
    expect(rd.snapshot?.meta).toEqual(meta2);
    expect(dec(rd.snapshot?.data ?? new Uint8Array())).toBe('["x"]');
    expect(rd.messages).toEqual([
      { type: 'snapshotResp', from: 'b', to: 'a', term: 1, snapshotIndex: 6, nextOffset: 5, installed: true, success: true },
    ]);
    expect(rd.committedEntries).toEqual([]);
    c.advance(rd);
    expect(c.status()).toMatchObject({ snapshotIndex: 6, commitIndex: 6, appliedIndex: 6, lastIndex: 6 });
  });

  it('a follower drops a half-gathered snapshot once appends bring its log past the snapshot (the leader streams from its trail)', () => {
    const c = newCore('b', {
      initial: { hardState: { term: 1, vote: null, commitIndex: 2 }, entries: entriesWithTerms([1, 1, 1]) },
    });
    const meta = { index: 5, term: 1, members: voters(...IDS) };
    const chunk = (offset: number, bytes: string): Message => ({
      type: 'snapshot',
      from: 'a',
      to: 'b',
      term: 1,
      meta,
      offset,
      chunk: enc(bytes),
      done: false,
    });
    const resp = (m: Message) => ofType(stepAndCollect(c, m), 'snapshotResp')[0];
    expect(resp(chunk(0, 'abcd'))).toMatchObject({ nextOffset: 4 });
    // An append that matches only up to 4 leaves the snapshot at 5 still needed.
    const append = (prev: number, terms: number[]): Message => ({
      type: 'append',
      from: 'a',
      to: 'b',
      term: 1,
      prevLogIndex: prev,
      prevLogTerm: 1,
      entries: entriesWithTerms(terms, prev + 1),
      leaderCommit: 2,
    });
    stepAndCollect(c, append(3, [1]));
    expect(resp(chunk(4, 'efgh'))).toMatchObject({ nextOffset: 8 });
    // Once the log matches through 5 the snapshot is not needed: a late chunk is answered as covered.
    stepAndCollect(c, append(4, [1]));
    expect(stepAndCollect(c, chunk(8, 'ijkl'))).toEqual([
      { type: 'appendResp', from: 'b', to: 'a', term: 1, success: true, matchIndex: 5, rejectHint: 0, rejectTerm: 0 },
    ]);
  });

  it('the snapshot receiver drops gathered chunks once the log covers the snapshot, and only then', () => {
    const r = new SnapshotReceiver();
    const meta = { index: 5, term: 1, members: voters(...IDS) };
    const chunk = (offset: number, bytes: string) =>
      ({ type: 'snapshot', from: 'a', to: 'b', term: 1, meta, offset, chunk: enc(bytes), done: false }) as const;
    expect(r.accept(chunk(0, 'abcd')).nextOffset).toBe(4);
    r.dropCoveredBy(4);
    expect(r.accept(chunk(4, 'efgh')).nextOffset).toBe(8);
    r.dropCoveredBy(5);
    expect(r.accept(chunk(8, 'ijkl')).nextOffset).toBe(0);
  });

  it('restart from the initial state re-delivers committed entries after the snapshot', () => {
    const snapshot = { meta: { index: 2, term: 1, members: voters(...IDS) }, data: enc('[]') };
    const c = newCore('a', {
      initial: { hardState: { term: 2, vote: 'a', commitIndex: 4 }, snapshot, entries: entriesWithTerms([1, 2, 2], 3), appliedIndex: 2 },
    });
    expect(c.status()).toMatchObject({ term: 2, commitIndex: 4, appliedIndex: 2, lastIndex: 5, snapshotIndex: 2 });
    const rd = c.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([3, 4]);
    expect(rd.hardState).toBeNull();
    expect(rd.entries).toEqual([]);
    c.advance(rd);
    expect(c.hasReady()).toBe(false);
  });
});
