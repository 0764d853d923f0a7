// Self-checks of the simulation harness that need no Raft core: each checker is
// fed a violation and must fire, and the building blocks behave as documented.
import { describe, expect, it } from 'vitest';
import type { Entry, HardState, Message, Snapshot } from '../../src/raft/types.js';
import { SimDisk } from './disk.js';
import { InvariantChecker, type LeaderLog } from './invariants.js';
import { SimNetwork } from './network.js';
import { Prng } from '../../src/util/random.js';
import { ListStateMachine, decodeSnapshot } from './state-machine.js';
import { SimViolation, type InvariantName } from './violation.js';

const enc = new TextEncoder();
const normal = (index: number, term: number, data: string): Entry => ({ kind: 'normal', index, term, data: enc.encode(data) });
const hs = (term: number, vote: string | null, commitIndex: number): HardState => ({ term, vote, commitIndex });

function expectViolation(invariant: InvariantName, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SimViolation);
    expect((e as SimViolation).invariant).toBe(invariant);
    return;
  }
  expect.fail(`expected a ${invariant} violation`);
}

function persist(checker: InvariantChecker, id: string, disk: SimDisk, entries: Entry[], hard: HardState | null): void {
  const prev = disk.hardState;
  const removed = disk.save({ hardState: hard, entries, snapshot: null });
  checker.onPersisted(id, disk, prev, entries, removed);
}

describe('InvariantChecker', () => {
  it('Election Safety: a second leader in a term fires', () => {
    const c = new InvariantChecker(() => []);
    c.onLeaderObserved('n1', 3);
    c.onLeaderObserved('n1', 3);
    c.onLeaderObserved('n2', 4);
    expectViolation('election-safety', () => c.onLeaderObserved('n2', 3));
  });

  it('Log Matching: same index and term with a different payload fires', () => {
    const c = new InvariantChecker(() => []);
    persist(c, 'n1', new SimDisk(), [normal(1, 1, 'a')], hs(1, 'n1', 0));
    expectViolation('log-matching', () => persist(c, 'n2', new SimDisk(), [normal(1, 1, 'b')], hs(1, 'n1', 0)));
  });

  it('Log Matching: same index and term after a different predecessor fires', () => {
    const c = new InvariantChecker(() => []);
    persist(c, 'n1', new SimDisk(), [normal(1, 1, 'a'), normal(2, 2, 'b')], hs(2, null, 0));
    expectViolation('log-matching', () => persist(c, 'n2', new SimDisk(), [normal(1, 2, 'x'), normal(2, 2, 'b')], hs(2, null, 0)));
  });

  it('hard state: a changed vote within a term and a falling term fire', () => {
    const c = new InvariantChecker(() => []);
    const d = new SimDisk();
    persist(c, 'n1', d, [], hs(2, 'n2', 0));
    expectViolation('hard-state', () => persist(c, 'n1', d, [], hs(2, 'n3', 0)));
    const d2 = new SimDisk();
    persist(c, 'n2', d2, [], hs(5, null, 0));
    expectViolation('hard-state', () => persist(c, 'n2', d2, [], hs(4, null, 0)));
  });

  it('State Machine Safety: two nodes applying different entries at one index fires', () => {
    const c = new InvariantChecker(() => []);
    c.onApplied('n1', { index: 1, term: 1, fp: 'd:a' }, 1);
    c.onApplied('n2', { index: 1, term: 1, fp: 'd:a' }, 1);
    expectViolation('state-machine-safety', () => c.onApplied('n3', { index: 1, term: 1, fp: 'd:b' }, 1));
  });

  it('Durability: truncating a committed entry fires', () => {
    const c = new InvariantChecker(() => []);
    const d = new SimDisk();
    persist(c, 'n1', d, [normal(1, 1, 'a'), normal(2, 1, 'b')], hs(1, null, 2));
    expectViolation('durability', () => persist(c, 'n1', d, [normal(2, 2, 'z')], hs(2, null, 2)));
  });

  it('Leader Completeness: a later leader lacking a committed entry fires, an earlier-term one does not', () => {
    const c = new InvariantChecker(() => []);
    c.onApplied('n1', { index: 1, term: 2, fp: 'd:a' }, 2);
    const stale = new SimDisk();
    stale.save({ hardState: hs(3, 'n3', 0), entries: [normal(1, 1, 'old')], snapshot: null });
    expectViolation('leader-completeness', () => c.onLeaderLog('n3', 3, stale));
    // Committed no earlier than term 2 is only binding on leaders of term 3 and later.
    c.onLeaderLog('n2', 2, stale);
  });

  it('Leader Completeness: an entry committed later is checked against the current leader', () => {
    const lagging = new SimDisk();
    lagging.save({ hardState: hs(4, 'n2', 0), entries: [normal(1, 1, 'a')], snapshot: null });
    const leaders: LeaderLog[] = [{ id: 'n2', term: 4, disk: lagging }];
    const c = new InvariantChecker(() => leaders);
    c.onApplied('n1', { index: 1, term: 1, fp: 'd:a' }, 3);
    expectViolation('leader-completeness', () => c.onApplied('n1', { index: 2, term: 3, fp: 'd:b' }, 3));
  });

  it('persist-before-send: a granted vote that is not on disk fires', () => {
    const c = new InvariantChecker(() => []);
    const d = new SimDisk();
    d.save({ hardState: hs(3, null, 0), entries: [], snapshot: null });
    const grant: Message = { type: 'voteResp', from: 'n1', to: 'n2', term: 3, granted: true };
    expectViolation('persist-before-send', () => c.onSend('n1', grant, d));
    d.save({ hardState: hs(3, 'n2', 0), entries: [], snapshot: null });
    c.onSend('n1', grant, d);
    const ack: Message = { type: 'appendResp', from: 'n1', to: 'n2', term: 3, success: true, matchIndex: 1, rejectHint: 0, rejectTerm: 0 };
    expectViolation('persist-before-send', () => c.onSend('n1', ack, d));
  });

  it('ReadIndex: a read index below what was committed at request time fires', () => {
    const c = new InvariantChecker(() => []);
    c.onReadRequested('n1', 7, 5);
    c.onReadState('n1', { requestId: 7, readIndex: 5 });
    c.onReadRequested('n1', 8, 6);
    expectViolation('read-linearizability', () => c.onReadState('n1', { requestId: 8, readIndex: 5 }));
    expectViolation('read-linearizability', () => c.onReadState('n1', { requestId: 99, readIndex: 9 }));
  });
});

describe('SimDisk', () => {
  it('rejects a gap and entries inside the snapshot (Ready contract)', () => {
    const d = new SimDisk();
    d.save({ hardState: null, entries: [normal(1, 1, 'a')], snapshot: null });
    expectViolation('ready-contract', () => d.save({ hardState: null, entries: [normal(3, 1, 'c')], snapshot: null }));
    d.compact({ meta: { index: 1, term: 1, members: [] }, data: enc.encode('#1 1\n1 1 d:a') });
    expectViolation('ready-contract', () => d.save({ hardState: null, entries: [normal(1, 1, 'a')], snapshot: null }));
  });

  it('overwrites from entries[0].index and reports what it removed', () => {
    const d = new SimDisk();
    d.save({ hardState: null, entries: [normal(1, 1, 'a'), normal(2, 1, 'b'), normal(3, 1, 'c')], snapshot: null });
    const removed = d.save({ hardState: null, entries: [normal(2, 2, 'x')], snapshot: null });
    expect(removed.map((e) => e.index)).toEqual([2, 3]);
    expect(d.lastIndex).toBe(2);
    expect(d.termAt(2)).toBe(2);
  });

  it('a leader snapshot keeps a matching suffix and drops a conflicting log', () => {
    const snap = (index: number, term: number): Snapshot => ({ meta: { index, term, members: [] }, data: new Uint8Array() });
    const d = new SimDisk();
    d.save({ hardState: null, entries: [normal(1, 1, 'a'), normal(2, 1, 'b'), normal(3, 1, 'c')], snapshot: null });
    d.save({ hardState: null, entries: [], snapshot: snap(2, 1) });
    expect([d.snapshotIndex, d.lastIndex]).toEqual([2, 3]);
    const removed = d.save({ hardState: null, entries: [], snapshot: snap(5, 2) });
    expect(removed.map((e) => e.index)).toEqual([]);
    expect([d.snapshotIndex, d.lastIndex, d.termAt(5)]).toEqual([5, 5, 2]);
    const init = d.load([]);
    expect(init.appliedIndex).toBe(5);
    expect(init.entries).toEqual([]);
  });
});

describe('SimNetwork', () => {
  const msg = (from: string, to: string): Message => ({ type: 'timeoutNow', from, to, term: 1 });

  it('blocks partitioned pairs at send and at delivery, and heals', () => {
    const net = new SimNetwork(new Prng(1), { dropRate: 0, duplicateRate: 0, delayMaxSteps: 0 }, 100);
    net.send(msg('a', 'b'), 0);
    net.partition([['a'], ['b']]);
    net.send(msg('a', 'b'), 0);
    expect(net.takeRandom(0)).toBeNull();
    net.heal();
    net.send(msg('a', 'b'), 0);
    expect(net.takeRandom(0)).not.toBeNull();
  });

  it('drops, duplicates and delays as configured', () => {
    const dropAll = new SimNetwork(new Prng(2), { dropRate: 1, duplicateRate: 0, delayMaxSteps: 0 }, 100);
    dropAll.send(msg('a', 'b'), 0);
    expect(dropAll.inFlight).toBe(0);
    const dup = new SimNetwork(new Prng(3), { dropRate: 0, duplicateRate: 1, delayMaxSteps: 5 }, 100);
    dup.send(msg('a', 'b'), 10);
    expect(dup.inFlight).toBe(2);
    expect(dup.takeRandom(9)).toBeNull();
    let got = 0;
    for (let now = 10; now <= 15; now++) while (dup.takeRandom(now) !== null) got++;
    expect(got).toBe(2);
  });

  it('cuts one direction only, and heals', () => {
    const net = new SimNetwork(new Prng(5), { dropRate: 0, duplicateRate: 0, delayMaxSteps: 0 }, 100);
    net.cutOneWay([['a', 'b']]);
    net.send(msg('a', 'b'), 0);
    net.send(msg('b', 'a'), 0);
    expect(net.peek().map((m) => `${m.from}->${m.to}`)).toEqual(['b->a']);
    expect(net.isPartitioned()).toBe(true);
    net.heal();
    expect(net.canReach('a', 'b')).toBe(true);
  });

  it("links behave as the transport's: a full queue drops the newest, a failure loses what is in flight and backs off, doubling", () => {
    const net = new SimNetwork(new Prng(6), { dropRate: 0, duplicateRate: 0, delayMaxSteps: 0 }, 100, {
      queueMax: 2,
      streamFailures: true,
      backoffMinSteps: 2,
      backoffMaxSteps: 8,
    });
    for (let i = 0; i < 3; i++) net.send(msg('a', 'b'), 0);
    net.send(msg('a', 'c'), 0);
    expect([net.inFlight, net.stats.queueFull]).toEqual([3, 1]);
    net.linkFailed('a', 'b', 10);
    expect([net.inFlight, net.stats.lostOnFailure]).toEqual([1, 2]);
    net.send(msg('a', 'b'), 11);
    expect(net.stats.backoffDropped).toBe(1);
    net.send(msg('a', 'b'), 12);
    expect(net.inFlight).toBe(2);
    net.linkFailed('a', 'b', 20); // the second failure in a row waits twice as long
    net.send(msg('a', 'b'), 23);
    expect(net.stats.backoffDropped).toBe(2);
    net.send(msg('a', 'b'), 24);
    expect(net.takeRandom(24)).not.toBeNull();
  });

  it('bounds in-flight messages by dropping the oldest', () => {
    const net = new SimNetwork(new Prng(4), { dropRate: 0, duplicateRate: 0, delayMaxSteps: 0 }, 2);
    for (const to of ['b', 'c', 'd']) net.send(msg('a', to), 0);
    expect(net.peek().map((m) => m.to)).toEqual(['c', 'd']);
    expect(net.stats.overflowed).toBe(1);
  });
});

describe('SimDisk: unsynced writes', () => {
  it('keeps an unsynced hard state across a process crash, loses it with power, and an fsync makes it durable', () => {
    const d = new SimDisk();
    d.save({ hardState: hs(2, 'n1', 1), entries: [normal(1, 1, 'a'), normal(2, 2, 'b')], snapshot: null });
    d.saveUnsynced(hs(2, 'n1', 2));
    expect(d.load([]).hardState).toEqual(hs(2, 'n1', 2));
    d.powerLoss();
    expect(d.hardState).toEqual(hs(2, 'n1', 1));
    d.saveUnsynced(hs(2, 'n1', 2));
    d.save({ hardState: null, entries: [normal(3, 2, 'c')], snapshot: null });
    d.powerLoss();
    expect(d.hardState).toEqual(hs(2, 'n1', 2));
  });
});

describe('ListStateMachine', () => {
  it('snapshots exactly what it applied and restores it', () => {
    const sm = new ListStateMachine([]);
    sm.apply(normal(1, 1, 'a'));
    sm.apply({ kind: 'noop', index: 2, term: 2 });
    sm.apply({ kind: 'config', index: 3, term: 2, members: [{ id: 'n1', url: 'u', voter: true }] });
    const data = sm.snapshotData();
    expect(decodeSnapshot(data)).toEqual([
      { index: 1, term: 1, fp: 'd:a' },
      { index: 2, term: 2, fp: 'noop' },
      { index: 3, term: 2, fp: 'c:n1+' },
    ]);
    const copy = new ListStateMachine([]);
    copy.restore(data, 3, 2, sm.members);
    copy.apply(normal(4, 2, 'b'));
    expect(copy.appliedIndex).toBe(4);
    expectViolation('ready-contract', () => copy.apply(normal(6, 2, 'c')));
    expectViolation('state-machine-safety', () => new ListStateMachine([]).restore(data, 3, 3, []));
    // Chunks of an older snapshot followed by the rest of a newer one do not decode.
    const older = (() => {
      const sm2 = new ListStateMachine([]);
      sm2.apply(normal(1, 1, 'a'));
      return sm2.snapshotData();
    })();
    const mixed = new Uint8Array([...older.subarray(0, 4), ...data.subarray(4)]);
    expectViolation('state-machine-safety', () => decodeSnapshot(mixed));
    expect(decodeSnapshot(new ListStateMachine([]).snapshotData())).toEqual([]);
  });
});
