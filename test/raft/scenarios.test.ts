// Scripted interaction scenarios on a tiny in-memory network (see helpers.ts).
// Each reads like etcd's testdata scripts: campaign, stabilize, partition, heal.
import { describe, expect, it } from 'vitest';
import { RaftCore } from '../../src/raft/raft.js';
import { Cluster, dec, enc, initialState, testConfig, voters } from './helpers.js';

describe('scenarios', () => {
  it('campaign → elect → propose → commit and apply on every node', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.propose('a', 'x');
    c.propose('a', 'y');
    c.stabilizeCommits();
    for (const id of ['a', 'b', 'c']) {
      expect(c.node(id).applied).toEqual(['x', 'y']);
      expect(c.core(id).status().commitIndex).toBe(3);
      expect(c.core(id).status().leaderId).toBe('a');
    }
  });

  it('many proposals before one ready() go out as one append per follower', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    for (let i = 0; i < 50; i++) c.propose('a', `p${i}`);
    const rd = c.core('a').ready();
    expect(rd.entries).toHaveLength(50);
    const appends = rd.messages.filter((m) => m.type === 'append');
    expect(appends.map((m) => m.to).sort()).toEqual(['b', 'c']);
    for (const m of appends) expect(m.type === 'append' && m.entries.length).toBe(50);
    c.core('a').advance(rd);
    c.inFlight.push(...rd.messages);
    c.stabilizeCommits();
    expect(c.node('c').applied).toHaveLength(50);
  });

  it('a partitioned leader is replaced; on rejoin it steps down and its uncommitted entries are overwritten', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.propose('a', 'committed');
    c.stabilize();
    c.isolate('a');
    c.propose('a', 'lost-1');
    c.propose('a', 'lost-2');
    c.stabilize();
    expect(c.core('a').status().lastIndex).toBe(4);
    // CheckQuorum: the cut-off leader gives up on its own, and the majority elects another.
    const newLeader = c.tickUntil(() => (c.core('a').status().role === 'leader' ? undefined : c.leaderIds()[0]));
    expect(c.core('a').status().role).toBe('follower');
    c.propose(newLeader, 'new');
    c.stabilize();
    expect(c.node(newLeader).applied).toEqual(['committed', 'new']);
    c.heal();
    c.tickAll(3);
    expect(c.leaderIds()).toEqual([newLeader]);
    expect(c.node('a').applied).toEqual(['committed', 'new']);
    expect(c.logOf('a')).toEqual(c.logOf(newLeader));
    expect(c.logOf('a')).not.toContain('3@1');
  });

  it('persist-before-send: a crashed voter restarted from its disk keeps its vote', () => {
    const c = new Cluster(['a', 'b', 'c'], { config: { preVote: false } });
    c.tick('a', 30);
    expect(c.core('a').status().role).toBe('candidate');
    c.processReady('a');
    c.deliver((m) => m.to === 'b');
    // b voted for a in its Ready; the vote must be in the same Ready as the answer.
    const rd = c.core('b').ready();
    expect(rd.hardState?.vote).toBe('a');
    expect(rd.messages.some((m) => m.type === 'voteResp' && m.granted)).toBe(true);
    c.node('b').disk.save(rd);
    c.core('b').advance(rd);
    const term = c.core('a').status().term;
    c.restart('b');
    expect(c.core('b').status().hardState).toEqual({ term, vote: 'a', commitIndex: 0 });
    c.inFlight = [];
    // Another candidate in the same term gets no vote from the restarted b.
    c.core('b').step({ type: 'vote', from: 'c', to: 'b', term, lastLogIndex: 10, lastLogTerm: 10, transfer: false });
    const out = c.core('b').ready().messages;
    expect(out).toContainEqual({ type: 'voteResp', from: 'b', to: 'c', term, granted: false });
  });

  it('single-node cluster elects itself and commits after its own persist', () => {
    const core = new RaftCore(testConfig('solo'), initialState(voters('solo')));
    for (let i = 0; i < 20 && core.status().role !== 'leader'; i++) core.tick();
    expect(core.status().role).toBe('leader');
    const r = core.propose(enc('v'));
    expect(r.ok).toBe(true);
    const rd1 = core.ready();
    expect(rd1.committedEntries).toEqual([]); // not persisted yet
    core.advance(rd1);
    const rd2 = core.ready();
    expect(rd2.committedEntries.map((e) => e.kind === 'normal' ? dec(e.data) : e.kind)).toEqual(['noop', 'v']);
    core.advance(rd2);
  });

  it('a lagging follower catches up through a chunked snapshot install, even when a chunk is lost', () => {
    const c = new Cluster(['a', 'b', 'c'], { config: { snapshotChunkBytes: 10 } });
    c.elect('a');
    c.isolate('c');
    for (let i = 0; i < 8; i++) c.propose('a', `e${i}`);
    c.stabilize();
    const a = c.node('a');
    const meta = a.core.snapshotMetaAt(a.appliedIndex);
    const data = enc(JSON.stringify(a.applied));
    a.disk.compact({ meta, data });
    a.core.compact(meta, data);
    c.heal();
    let dropped = false;
    for (let i = 0; i < 300 && c.node('c').appliedIndex < meta.index; i++) {
      c.tick('a');
      c.processAll();
      // Lose the second chunk once: the leader must resend it after an election timeout.
      c.inFlight = c.inFlight.filter((m) => {
        if (!dropped && m.type === 'snapshot' && m.offset > 0) return !(dropped = true);
        return true;
      });
      c.deliver();
    }
    expect(dropped).toBe(true);
    expect(c.node('c').applied).toEqual(a.applied);
    expect(c.node('c').disk.snapshot?.meta.index).toBe(meta.index);
    c.propose('a', 'after');
    c.stabilize();
    expect(c.node('c').applied.at(-1)).toBe('after');
    // c restarts from its disk (snapshot + entries after it) and re-applies the rest.
    c.restart('c');
    c.tickAll(2);
    expect(c.node('c').applied).toEqual(a.applied);
  });

  it('a new commit index rides on the next append, or goes out at the next tick, never in an append of its own at once', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.propose('a', 'x');
    c.stabilize();
    expect(c.node('a').applied).toEqual(['x']);
    expect([c.node('b').applied, c.node('c').applied]).toEqual([[], []]); // committed, not yet announced
    c.propose('a', 'y');
    c.processReady('a');
    const appends = c.inFlight.filter((m) => m.type === 'append');
    expect(appends.map((m) => (m.type === 'append' ? [m.to, m.leaderCommit] : null))).toEqual([['b', 2], ['c', 2]]);
    c.stabilize();
    expect([c.node('b').applied, c.node('c').applied]).toEqual([['x'], ['x']]); // y's append carried x's commit
    c.tick('a');
    c.stabilize();
    expect([c.node('b').applied, c.node('c').applied]).toEqual([['x', 'y'], ['x', 'y']]); // the tick announced y's
  });

  it('learner add + promote: the new voter then counts toward the quorum', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.add('d', initialState(voters('a', 'b', 'c')));
    expect(c.core('d').status().role).toBe('learner');
    c.elect('a');
    expect(c.core('a').proposeConfChange({ type: 'addLearner', id: 'd', url: 'http://d' }).ok).toBe(true);
    c.stabilizeCommits();
    expect(c.core('a').proposeConfChange({ type: 'promote', id: 'd' }).ok).toBe(true);
    c.stabilizeCommits();
    expect(c.core('d').status().role).toBe('follower');
    // With b and c cut off, a and d are only 2 of 4 voters: nothing commits.
    c.cutLink('a', 'b');
    c.cutLink('a', 'c');
    c.propose('a', 'x');
    c.stabilizeCommits();
    expect(c.node('a').applied).toEqual([]);
    c.heal();
    c.cutLink('a', 'c');
    c.tickAll(1);
    expect(c.node('a').applied).toEqual(['x']);
    c.tickAll(1); // d learns the commit with a's next broadcast
    expect(c.node('d').applied).toEqual(['x']);
  });

  it('removing the leader: it steps down after the removal commits, the rest elect a new leader, it never campaigns again', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.propose('a', 'before');
    c.stabilizeCommits();
    expect(c.core('a').proposeConfChange({ type: 'remove', id: 'a' }).ok).toBe(true);
    c.stabilizeCommits();
    expect(c.core('a').status().role).toBe('learner');
    const leader = c.tickUntil(() => c.leaderIds()[0]);
    expect(leader).not.toBe('a');
    c.tickAll(100);
    expect(c.core('a').status().role).toBe('learner');
    expect(c.leaderIds()).toEqual([leader]);
    c.propose(leader, 'after');
    c.stabilizeCommits();
    for (const id of ['b', 'c']) expect(c.node(id).applied).toEqual(['before', 'after']);
  });

  it('the whole cluster restarts from disk and keeps every committed entry', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    for (let i = 0; i < 5; i++) c.propose('a', `v${i}`);
    c.stabilizeCommits();
    const term = c.core('a').status().term;
    for (const id of ['a', 'b', 'c']) c.restart(id);
    for (const id of ['a', 'b', 'c']) expect(c.core(id).status().term).toBe(term);
    const leader = c.tickUntil(() => c.leaderIds()[0]);
    c.propose(leader, 'v5');
    c.stabilizeCommits();
    for (const id of ['a', 'b', 'c']) expect(c.node(id).applied).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'v5']);
  });

  it('a follower that crashes before persisting loses only what it never acknowledged', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.propose('a', 'x');
    c.processReady('a');
    c.deliver((m) => m.to === 'b');
    // b has x in memory but crashes before its Ready is persisted: nothing was acknowledged.
    expect(c.core('b').status().lastIndex).toBe(2);
    c.restart('b');
    expect(c.core('b').status().lastIndex).toBe(1);
    c.stabilize();
    c.tickAll(2);
    for (const id of ['a', 'b', 'c']) expect(c.node(id).applied).toEqual(['x']);
  });

  it('leadership transfer, then the new leader serves proposals and reads', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.propose('a', 'x');
    c.stabilize();
    expect(c.core('a').transferLeadership('c').ok).toBe(true);
    c.stabilize();
    expect(c.leaderIds()).toEqual(['c']);
    c.propose('c', 'y');
    c.stabilize();
    c.core('a').readIndex(1);
    c.stabilize();
    expect(c.node('a').readStates).toEqual([{ requestId: 1, readIndex: c.core('c').status().commitIndex }]);
    expect(c.node('a').applied).toEqual(['x', 'y']);
  });
});
