import { describe, expect, it } from 'vitest';
import { RaftCore } from '../../src/raft/raft.js';
import type { Message } from '../../src/raft/types.js';
import { Cluster, drain, enc, entriesWithTerms, initialState, stepAndCollect, testConfig, voters } from './helpers.js';

const ofType = <T extends Message['type']>(ms: readonly Message[], t: T) => ms.filter((m): m is Extract<Message, { type: T }> => m.type === t);

describe('probe', () => {
  it('leader own unpersisted entry does not count', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.isolate('c');
    c.propose('a', 'x');
    const a = c.core('a');
    const rd = a.ready();
    c.inFlight.push(...rd.messages);
    c.deliver((m) => m.to === 'b');
    c.processReady('b');
    c.deliver((m) => m.to === 'a');
    expect(a.status().commitIndex).toBe(1);
    a.advance(rd);
    expect(a.status().commitIndex).toBe(2);
  });

  it('learners do not keep a leader alive under CheckQuorum', () => {
    const members = [...voters('a', 'b', 'c'), { id: 'l', url: 'http://l', voter: false }];
    const c = new Cluster(['a', 'b', 'c', 'l'], { members });
    c.elect('a');
    c.cutLink('a', 'b');
    c.cutLink('a', 'c');
    for (let i = 0; i < 30; i++) { c.tick('a'); c.stabilize(); }
    expect(c.core('a').status().role).toBe('follower');
  });

  it('snapshot with longer matching log keeps log', () => {
    const core = new RaftCore(testConfig('b'), initialState(voters('a', 'b', 'c'), { hardState: { term: 1, vote: null, commitIndex: 2 }, entries: entriesWithTerms([1, 1, 1, 1, 1, 1]) }));
    const out = stepAndCollect(core, { type: 'snapshot', from: 'a', to: 'b', term: 1, meta: { index: 4, term: 1, members: voters('a', 'b', 'c') }, offset: 0, chunk: enc('[]'), done: true });
    expect(core.status()).toMatchObject({ lastIndex: 6, commitIndex: 4, snapshotIndex: 0 });
    expect(ofType(out, 'appendResp')[0]).toMatchObject({ success: true, matchIndex: 4 });
  });

  it('read deferred then stepdown drops it', () => {
    const core = new RaftCore(testConfig('a', { preVote: false }), initialState(voters('a', 'b', 'c')));
    for (let i = 0; i < 30 && core.status().role !== 'candidate'; i++) core.tick();
    core.step({ type: 'voteResp', from: 'b', to: 'a', term: 1, granted: true });
    drain(core);
    core.readIndex(1);
    core.step({ type: 'readIndex', from: 'c', to: 'a', term: 1, requestId: 2 });
    core.step({ type: 'appendResp', from: 'b', to: 'a', term: 2, success: false, matchIndex: 0, rejectHint: 0, rejectTerm: 0 });
    const rds = drain(core);
    expect(rds.flatMap((r) => r.droppedReads)).toEqual([1]);
    expect(ofType(rds.flatMap((r) => r.messages), 'readIndexResp')).toMatchObject([{ to: 'c', ok: false, requestId: 2 }]);
  });
});
