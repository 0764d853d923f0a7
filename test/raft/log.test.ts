// Unit tests of the in-memory log and the replication progress tracker.
import { describe, expect, it } from 'vitest';
import { RaftLog } from '../../src/raft/log.js';
import { Inflights, Progress } from '../../src/raft/progress.js';
import { entriesWithTerms, voters } from './helpers.js';

function logWith(terms: number[], commitIndex = 0): RaftLog {
  return new RaftLog({ snapshot: null, entries: entriesWithTerms(terms), commitIndex, appliedIndex: 0 });
}

describe('RaftLog', () => {
  it('term lookup covers the snapshot boundary and nothing outside the log', () => {
    const log = new RaftLog({
      snapshot: { meta: { index: 3, term: 2, members: voters('a') }, data: new Uint8Array() },
      entries: entriesWithTerms([2, 3], 4),
      commitIndex: 3,
      appliedIndex: 3,
    });
    expect([log.termAt(2), log.termAt(3), log.termAt(4), log.termAt(5), log.termAt(6)]).toEqual([undefined, 2, 2, 3, undefined]);
    expect(log.firstIndex()).toBe(4);
    expect(log.lastConfig()).toEqual({ index: 3, members: voters('a') });
  });

  it('findConflictByTerm returns the last index whose term is <= the given term', () => {
    const log = logWith([1, 1, 2, 2, 5, 5]);
    expect(log.findConflictByTerm(6, 4)).toEqual({ index: 4, term: 2 });
    expect(log.findConflictByTerm(6, 5)).toEqual({ index: 6, term: 5 });
    expect(log.findConflictByTerm(6, 0)).toEqual({ index: 0, term: 0 });
  });

  it('maybeAppend truncates a conflicting suffix and marks it unstable again', () => {
    const log = logWith([1, 1, 1, 1], 1);
    expect(log.unstableEntries()).toEqual([]);
    expect(log.maybeAppend(2, 1, 3, entriesWithTerms([2, 2], 3))).toBe(4);
    expect(log.unstableEntries().map((e) => `${e.index}@${e.term}`)).toEqual(['3@2', '4@2']);
    expect(log.commitIndex).toBe(3);
    expect(log.maybeAppend(4, 1, 4, [])).toBeNull();
  });

  it('never truncates a committed entry', () => {
    const log = logWith([1, 1, 1], 2);
    expect(() => log.maybeAppend(1, 1, 2, entriesWithTerms([2], 2))).toThrow(/truncating committed entry 2/);
  });

  it('stableTo ignores a Ready whose entries were overwritten meanwhile', () => {
    const log = logWith([1], 1);
    log.maybeAppend(1, 1, 1, entriesWithTerms([1, 1], 2));
    const handedOut = log.unstableEntries();
    log.maybeAppend(1, 1, 1, entriesWithTerms([2], 2)); // truncates 2..3 before the driver is done
    log.stableTo(3, handedOut.at(-1)?.term ?? 0);
    expect(log.stableIndex).toBe(1);
    expect(log.unstableEntries().map((e) => `${e.index}@${e.term}`)).toEqual(['2@2']);
  });

  it('slice respects the byte budget but always returns at least one entry', () => {
    const log = logWith([1, 1, 1]);
    expect(log.slice(1, 1, 100)).toHaveLength(1);
    expect(log.slice(1, 10_000, 2)).toHaveLength(2);
    expect(log.slice(4, 10_000, 2)).toEqual([]);
  });

  it('compact keeps a trail of entries behind the snapshot, and a later snapshot moves it up', () => {
    const log = logWith([1, 1, 2, 2, 2, 3, 3, 3], 8);
    for (let i = 1; i <= 8; i++) log.appliedTo(i);
    const snap = (index: number, term: number) => ({ index, term, members: voters('a') });
    expect(log.compact(snap(6, 3), new Uint8Array(), 3)).toBe(true);
    // Entries 4..6 stay behind the snapshot at 6; 1..3 are gone, and 3 is the base.
    expect([log.snapshotIndex, log.firstIndex(), log.lastIndex()]).toEqual([6, 4, 8]);
    expect([log.termAt(2), log.termAt(3), log.termAt(4), log.termAt(6), log.termAt(7)]).toEqual([undefined, 2, 2, 3, 3]);
    expect(log.slice(4, 10_000, 10).map((e) => e.index)).toEqual([4, 5, 6, 7, 8]);
    expect(() => log.slice(3, 10_000, 10)).toThrow(/slice from compacted index 3/);
    // Membership is still that of the snapshot, not of the trail's config entries.
    expect(log.lastConfig()).toEqual({ index: 6, members: voters('a') });
    // A follower whose log matches at 4 (in the trail) gets appends, not the snapshot.
    expect(log.matchTerm(4, 2)).toBe(true);
    // The next snapshot drops what falls out of its own trail; a trail longer than the log keeps all.
    expect(log.compact(snap(8, 3), new Uint8Array(), 1)).toBe(true);
    expect([log.snapshotIndex, log.firstIndex(), log.termAt(7)]).toEqual([8, 8, 3]);
    const whole = logWith([1, 1, 1], 3);
    for (let i = 1; i <= 3; i++) whole.appliedTo(i);
    whole.compact(snap(3, 1), new Uint8Array(), 100);
    expect([whole.snapshotIndex, whole.firstIndex(), whole.termAt(0)]).toEqual([3, 1, 0]);
  });

  it('a trail never moves the base backwards, and an installed snapshot drops the trail', () => {
    const log = logWith([1, 1, 1, 1, 1, 1], 6);
    for (let i = 1; i <= 6; i++) log.appliedTo(i);
    log.compact({ index: 5, term: 1, members: voters('a') }, new Uint8Array(), 1);
    expect(log.firstIndex()).toBe(5);
    // A longer trail at the next snapshot cannot bring back what was dropped.
    log.compact({ index: 6, term: 1, members: voters('a') }, new Uint8Array(), 4);
    expect([log.snapshotIndex, log.firstIndex()]).toEqual([6, 5]);
    log.restore({ meta: { index: 9, term: 2, members: voters('a') }, data: new Uint8Array() });
    expect([log.snapshotIndex, log.firstIndex(), log.lastIndex(), log.termAt(6)]).toEqual([9, 10, 9, undefined]);
  });

  it('sends an installed snapshot from the stored bytes once it is persisted, and only that snapshot', () => {
    const log = logWith([1, 1], 1);
    const meta = { index: 5, term: 2, members: voters('a', 'b') };
    const received = { meta, data: new Uint8Array([1, 2, 3]) };
    log.restore(received);
    const stored = { byteLength: 3, subarray: (b: number, e: number) => new Uint8Array([1, 2, 3]).subarray(b, e) };
    // Not before it is durable: until then only the received array is known to be right.
    expect(log.snapshotStored(meta, stored)).toBe(false);
    log.snapshotPersisted(meta);
    // Another snapshot's bytes, or bytes of another length, are refused.
    expect(log.snapshotStored({ ...meta, term: 3 }, stored)).toBe(false);
    expect(log.snapshotStored({ ...meta, index: 4 }, stored)).toBe(false);
    expect(log.snapshotStored(meta, { ...stored, byteLength: 4 })).toBe(false);
    expect(log.snapshot?.data).toBe(received.data);
    expect(log.snapshotStored(meta, stored)).toBe(true);
    expect(log.snapshot).toEqual({ meta, data: stored });
  });
});

describe('Progress and Inflights', () => {
  it('inflights fill up to the limit and free by acknowledged index', () => {
    const f = new Inflights(3);
    f.add(2);
    f.add(5);
    f.add(9);
    expect(f.full()).toBe(true);
    f.freeLE(5);
    expect(f.count).toBe(1);
    f.freeFirstOne();
    expect(f.count).toBe(0);
  });

  it('probe sends one append at a time; a rejection of that append moves next back using the hint', () => {
    const p = new Progress(11, 4);
    expect(p.isPaused()).toBe(false);
    p.sentAppend(10);
    expect(p.isPaused()).toBe(true);
    expect(p.maybeDecrTo(7, 3)).toBe(false); // not the append we sent: stale
    expect(p.maybeDecrTo(10, 3)).toBe(true);
    expect(p.next).toBe(4);
    expect(p.isPaused()).toBe(false);
  });

  it('replicate advances next optimistically and pauses when the pipeline is full', () => {
    const p = new Progress(1, 2);
    p.maybeUpdate(3);
    p.becomeReplicate();
    p.sentAppend(5);
    p.sentAppend(8);
    expect(p.next).toBe(9);
    expect(p.isPaused()).toBe(true);
    expect(p.maybeDecrTo(2, 0)).toBe(false); // at or below match: stale
    expect(p.maybeDecrTo(6, 0)).toBe(true);
    expect(p.next).toBe(4);
  });
});
