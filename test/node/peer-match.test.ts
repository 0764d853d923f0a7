// PeerMatch: what a leader may conclude about a peer's log from the responses it got.
import { describe, expect, it } from 'vitest';
import { PeerMatch } from '../../src/node/peer-match.js';
import type { Message } from '../../src/raft/types.js';

const ack = (from: string, term: number, matchIndex: number, success = true): Message => ({
  type: 'appendResp',
  from,
  to: 'n1',
  term,
  success,
  matchIndex,
  rejectHint: 0,
  rejectTerm: 0,
});

describe('PeerMatch', () => {
  it('keeps the highest acknowledged index of the current term and ignores rejections', () => {
    const p = new PeerMatch();
    expect(p.matchIndex('n4', 2)).toBeNull();
    p.observe(ack('n4', 2, 7));
    p.observe(ack('n4', 2, 5)); // a late, reordered answer does not move it back
    p.observe(ack('n4', 2, 40, false)); // a rejection echoes the probed index: no match there
    expect(p.matchIndex('n4', 2)).toBe(7);
  });

  it('says nothing about a term it has no acknowledgement from', () => {
    const p = new PeerMatch();
    p.observe(ack('n4', 2, 7));
    // A new leader's log may differ after index 7: the old acknowledgement does not count.
    expect(p.matchIndex('n4', 3)).toBeNull();
    p.observe(ack('n4', 3, 3));
    p.observe(ack('n4', 2, 9)); // older term: ignored
    expect(p.matchIndex('n4', 3)).toBe(3);
  });

  it('counts an installed snapshot, and forgets removed peers', () => {
    const p = new PeerMatch();
    p.observe({ type: 'snapshotResp', from: 'n4', to: 'n1', term: 2, snapshotIndex: 100, nextOffset: 10, installed: false, success: true });
    expect(p.matchIndex('n4', 2)).toBeNull();
    p.observe({ type: 'snapshotResp', from: 'n4', to: 'n1', term: 2, snapshotIndex: 100, nextOffset: 20, installed: true, success: true });
    expect(p.matchIndex('n4', 2)).toBe(100);
    p.retain(new Set(['n1', 'n2', 'n3']));
    expect(p.matchIndex('n4', 2)).toBeNull();
  });
});
