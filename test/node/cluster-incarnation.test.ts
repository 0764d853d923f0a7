// The cluster incarnation around the tx state machine: the first entry wins on
// every node, it survives snapshots (and a joining node learns it from one),
// snapshots from before it are still read, and a leader replicates one when the
// applied state has none.
import { describe, expect, it } from 'vitest';
import {
  clusterCaller,
  decodeIncarnationEntry,
  encodeIncarnationEntry,
  IncarnatedStateMachine,
  replicateIncarnation,
} from '../../src/node/cluster-incarnation.js';
import type { LeadershipEvent, NodeStatus, ReplicatedLog } from '../../src/node/replicated-log.js';
import { encodeCommand } from '../../src/tx/commands.js';
import { createTxStateMachine } from '../../src/tx/state-machine.js';
import { txConfigDefaults } from '../../src/tx/config.js';

const created = (txId: string) =>
  encodeCommand({
    type: 'created',
    txId,
    participants: [],
    protocol: '2pc',
    createdAt: 1,
    deadlineAt: 2,
    idempotencyKey: null,
    requestHash: null,
    commitRequested: false,
    activeMax: 10,
  });
const fresh = () => new IncarnatedStateMachine(createTxStateMachine(txConfigDefaults));

describe('cluster incarnation', () => {
  it('takes the first incarnation entry in log order and ignores later ones', () => {
    const sm = fresh();
    sm.apply({ index: 1, term: 1, data: created('t1') });
    expect(sm.incarnation()).toBeNull();
    sm.apply({ index: 2, term: 1, data: encodeIncarnationEntry('aaaa') });
    sm.apply({ index: 3, term: 2, data: encodeIncarnationEntry('bbbb') });
    expect(sm.incarnation()).toBe('aaaa');
    expect(decodeIncarnationEntry(created('t2'))).toBeNull();
  });

  it('keeps the incarnation in snapshots; a node restored from one (a joiner) learns it; an old snapshot has none', () => {
    const leader = fresh();
    leader.apply({ index: 1, term: 1, data: encodeIncarnationEntry('cafe01') });
    leader.apply({ index: 2, term: 1, data: created('t1') });
    const snapshot = leader.snapshot();
    const joiner = fresh();
    expect(joiner.checkSnapshot(snapshot)).toBeNull();
    joiner.restore(snapshot);
    expect(joiner.incarnation()).toBe('cafe01');
    const inner = createTxStateMachine(txConfigDefaults);
    inner.apply({ index: 1, term: 1, data: created('old') });
    const oldSnapshot = inner.snapshot();
    joiner.restore(oldSnapshot);
    expect(joiner.incarnation()).toBeNull();
  });

  it('has a leader replicate an incarnation when the applied state has none, and calls wait for it', async () => {
    const sm = fresh();
    const listeners: Array<(e: LeadershipEvent) => void> = [];
    let index = 0;
    const log: ReplicatedLog = {
      nodeId: 'n1',
      status: () => ({ role: 'follower', term: 1 }) as unknown as NodeStatus,
      propose: async (data) => sm.apply({ index: ++index, term: 2, data }),
      readBarrier: async () => undefined,
      onLeadership: (l) => {
        listeners.push(l);
        return () => undefined;
      },
    };
    const caller = clusterCaller('ratify', sm);
    const waiting = caller.incarnation(new AbortController().signal, 5_000);
    const stop = replicateIncarnation(log, sm, () => undefined);
    for (const l of listeners) l({ isLeader: true, term: 2 });
    const incarnation = await waiting;
    expect(incarnation).toMatch(/^[0-9a-f]{32}$/);
    expect(sm.incarnation()).toBe(incarnation);
    // Leading again with one in place proposes nothing.
    for (const l of listeners) l({ isLeader: true, term: 3 });
    expect(index).toBe(1);
    stop();
  });
});
