// The transport's membership rules as pure functions, with the node-side
// bookkeeping that feeds them (AppliedMembership, SelfRemoval) and the wire
// form of a refusal.
import { describe, expect, it } from 'vitest';
import { AppliedMembership } from '../../src/node/applied-membership.js';
import { SelfRemoval, type SelfView } from '../../src/node/self-removal.js';
import type { Member } from '../../src/raft/types.js';
import { admitPeer, reachablePeers, removalNoticeHolds } from '../../src/transport/peer-admission.js';
import { memberRemovedError, removalNoticeOf } from '../../src/transport/removal-answer.js';

const m = (id: string, voter = true, url = `http://${id}`): Member => ({ id, url, voter });
const C_OLD = [m('n1'), m('n2'), m('n3')];
const C_NEW = [m('n1'), m('n2')];

describe('admitPeer and reachablePeers', () => {
  it('keep a member the latest configuration drops until its removal is applied', () => {
    const applied = new AppliedMembership('n1', C_OLD, null);
    const view = () => ({ latest: C_NEW, applied: applied.members, removed: applied.removed, appliedIndex: 10 });
    expect(admitPeer(view(), 'n3')).toEqual({ kind: 'admit' });
    expect(reachablePeers(view(), 'n1').map((p) => p.id)).toEqual(['n2', 'n3']);
    applied.apply(C_NEW);
    expect(admitPeer(view(), 'n3')).toEqual({ kind: 'removed', appliedIndex: 10 });
    expect(reachablePeers(view(), 'n1').map((p) => p.id)).toEqual(['n2']);
  });

  it("admit a sender never heard of (a member added past this node's log), and one added back", () => {
    const applied = new AppliedMembership('n1', C_OLD, null);
    applied.apply(C_NEW);
    const view = { latest: [...C_NEW, m('n3', false)], applied: applied.members, removed: applied.removed, appliedIndex: 4 };
    expect(admitPeer(view, 'n9')).toEqual({ kind: 'admit' });
    expect(admitPeer(view, 'n3')).toEqual({ kind: 'admit' });
  });

  it("prefer the latest configuration's URL when both list an id", () => {
    const peers = reachablePeers({ latest: [m('n2', true, 'http://new')], applied: [m('n2', true, 'http://old'), m('n3')] }, 'n1');
    expect(peers).toEqual([m('n2', true, 'http://new'), m('n3')]);
  });
});

describe('AppliedMembership', () => {
  it('remembers removals, forgets them when an id is added back, and knows the initial voters missing from a snapshot', () => {
    const a = new AppliedMembership('n1', C_OLD, null);
    a.apply(C_NEW);
    expect([...a.removed]).toEqual(['n3']);
    a.apply([...C_NEW, m('n3', false)]);
    expect([...a.removed]).toEqual([]);
    const restarted = new AppliedMembership('n1', C_OLD, C_NEW);
    expect([...restarted.removed]).toEqual(['n3']);
  });

  it('calls a node removed only once it left a configuration it was in (a joining learner is not)', () => {
    const joiner = new AppliedMembership('n4', C_OLD, null);
    expect(joiner.selfRemoved).toBe(false);
    joiner.apply(C_NEW);
    expect(joiner.selfRemoved).toBe(false);
    joiner.apply([...C_NEW, m('n4', false)]);
    joiner.apply(C_NEW);
    expect(joiner.selfRemoved).toBe(true);
  });
});

describe('SelfRemoval', () => {
  const self = (latest: readonly Member[], latestConfigIndex: number): SelfView => ({ id: 'n3', latest, latestConfigIndex });

  it("believes a notice unless its own latest configuration re-added it after the peer's applied index", () => {
    expect(removalNoticeHolds({ by: 'n1', appliedIndex: 9 }, self(C_OLD, 5))).toBe(true);
    expect(removalNoticeHolds({ by: 'n1', appliedIndex: 9 }, self(C_NEW, 12))).toBe(true);
    expect(removalNoticeHolds({ by: 'n1', appliedIndex: 9 }, self(C_OLD, 12))).toBe(false);
  });

  it('is removed when told or when it applies its removal, and a member again once added back', () => {
    const r = new SelfRemoval();
    expect(r.told({ by: 'n1', appliedIndex: 9 }, self(C_OLD, 12))).toBe(false);
    expect(r.told({ by: 'n1', appliedIndex: 9 }, self(C_OLD, 5))).toBe(true);
    expect(r.state).toEqual({ kind: 'removed', how: 'told', notice: { by: 'n1', appliedIndex: 9 } });
    expect(r.update(false, () => self(C_OLD, 5))).toBe(false);
    expect(r.update(false, () => self([...C_NEW, m('n3', false)], 20))).toBe(true);
    expect(r.removed).toBe(false);
    expect(r.update(true, () => self(C_NEW, 21))).toBe(true);
    expect(r.state).toEqual({ kind: 'removed', how: 'applied' });
    expect(r.update(false, () => self(C_OLD, 30))).toBe(true);
    expect(r.removed).toBe(false);
  });
});

describe('the MEMBER_REMOVED answer', () => {
  it('round-trips through the error body, and anything else is no notice', () => {
    const body = JSON.stringify(memberRemovedError('n3', 17).toJSON());
    expect(removalNoticeOf('n1', 410, body)).toEqual({ by: 'n1', appliedIndex: 17 });
    expect(removalNoticeOf('n1', 403, body)).toBeNull();
    expect(removalNoticeOf('n1', 410, 'not json')).toBeNull();
    expect(removalNoticeOf('n1', 410, JSON.stringify({ error: { code: 'MEMBER_REMOVED', appliedIndex: -1 } }))).toBeNull();
    expect(removalNoticeOf('n1', 410, JSON.stringify({ error: { code: 'FORBIDDEN', appliedIndex: 3 } }))).toBeNull();
  });
});
