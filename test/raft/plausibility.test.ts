// The inbound plausibility check (src/raft/plausibility.ts).
//
// 1. Every core assertion a peer's message can reach: the message, stepped into the
//    real core without the check, throws (so the rule is not hypothetical), and the
//    check names the reason that drops it.
// 2. No false alarms: the seeded simulation runs every message its honest nodes
//    deliver through the check, across crashes, partitions, reorders, snapshots,
//    membership changes and transfers, and fails on any refusal.
import { describe, expect, it } from 'vitest';
import type { RaftCoreApi } from '../../src/raft/api.js';
import { RaftInvariantError } from '../../src/raft/assert.js';
import { implausibility, WIRE_COUNTER_MAX, type PlausibilityLimits, type RejectReason } from '../../src/raft/plausibility.js';
import { RaftCore } from '../../src/raft/raft.js';
import type { Message } from '../../src/raft/types.js';
import { runSeed } from '../sim/schedule.js';
import type { CoreFactory } from '../sim/sim-node.js';
import { Cluster, enc, entriesWithTerms } from './helpers.js';

const LIMITS: PlausibilityLimits = { snapshotBytesMax: 1024 * 1024 };

/** a leads term 2 (after one election at term 1 was won by b and lost), b and c follow; 3 entries committed. */
function cluster(): Cluster {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.propose('a', 'x');
  c.propose('a', 'y');
  c.stabilize();
  return c;
}

function reasonOf(core: RaftCore, m: Message): RejectReason | undefined {
  return implausibility(m, core.localState(), LIMITS)?.reason;
}

/** Steps `m` into the unguarded core and returns what it threw. */
function crash(core: RaftCore, m: Message): unknown {
  try {
    core.step(m);
    core.tick(); // some breakage surfaces at the next send (replication.ts)
    while (core.hasReady()) core.advance(core.ready());
  } catch (e) {
    return e;
  }
  return null;
}

describe('plausibility: every core assertion a peer can reach is out of its reach', () => {
  it('a heartbeat committing beyond the log (log.ts commitTo)', () => {
    const c = cluster();
    const b = c.core('b');
    const { term, lastIndex } = b.status();
    const m: Message = { type: 'heartbeat', from: 'a', to: 'b', term, leaderCommit: lastIndex + 5, readSeq: 0 };
    expect(reasonOf(b, m)).toBe('commit_beyond_log');
    expect(crash(b, m)).toBeInstanceOf(RaftInvariantError);
    // Also from a new leader in a higher term.
    const c2 = cluster();
    expect(reasonOf(c2.core('b'), { ...m, from: 'c', term: term + 1 })).toBe('commit_beyond_log');
    expect(crash(c2.core('b'), { ...m, from: 'c', term: term + 1 })).toBeInstanceOf(RaftInvariantError);
  });

  it('an entry of a term above the message term (raft.ts: last log term <= term)', () => {
    const c = cluster();
    const b = c.core('b');
    const { term, lastIndex } = b.status();
    const prevTerm = b.status().term;
    const m: Message = {
      type: 'append',
      from: 'a',
      to: 'b',
      term,
      prevLogIndex: lastIndex,
      prevLogTerm: prevTerm,
      entries: entriesWithTerms([term + 3], lastIndex + 1),
      leaderCommit: 0,
    };
    expect(reasonOf(b, m)).toBe('entry_term_above_message_term');
    expect(crash(b, m)).toBeInstanceOf(RaftInvariantError);
  });

  it('entry terms that go down (log.ts: terms never decrease)', () => {
    const c = cluster();
    const b = c.core('b');
    const { term, lastIndex } = b.status();
    const m: Message = {
      type: 'append',
      from: 'a',
      to: 'b',
      term,
      prevLogIndex: lastIndex,
      prevLogTerm: term,
      entries: entriesWithTerms([term - 1], lastIndex + 1),
      leaderCommit: 0,
    };
    expect(reasonOf(b, m)).toBe('entry_terms_decrease');
    expect(crash(b, m)).toBeInstanceOf(RaftInvariantError);
  });

  it('a success acknowledgement beyond the leader log (replication.ts: next <= last index + 1)', () => {
    const c = cluster();
    const a = c.core('a');
    const { term, lastIndex } = a.status();
    const m: Message = {
      type: 'appendResp',
      from: 'b',
      to: 'a',
      term,
      success: true,
      matchIndex: lastIndex + 10,
      rejectHint: 0,
      rejectTerm: 0,
    };
    expect(reasonOf(a, m)).toBe('match_beyond_log');
    a.propose(enc('z')); // something left to send, so the leader uses the bogus progress
    expect(crash(a, m)).toBeInstanceOf(RaftInvariantError);
  });

  it('leader traffic to the leader in its own term (leader.ts: two leaders)', () => {
    const c = cluster();
    const a = c.core('a');
    const { term } = a.status();
    const m: Message = { type: 'heartbeat', from: 'c', to: 'a', term, leaderCommit: 0, readSeq: 0 };
    expect(reasonOf(a, m)).toBe('two_leaders');
    expect(crash(a, m)).toBeInstanceOf(RaftInvariantError);
  });

  it('leader traffic from a second leader to a follower (raft.ts heardFromLeader: two leaders)', () => {
    const c = cluster();
    const b = c.core('b');
    const { term } = b.status();
    const m: Message = { type: 'append', from: 'c', to: 'b', term, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0 };
    expect(reasonOf(b, m)).toBe('two_leaders');
    expect(crash(b, m)).toBeInstanceOf(RaftInvariantError);
  });

  it('a snapshot whose last term is above the message term (raft.ts: last log term <= term)', () => {
    const c = cluster();
    const b = c.core('b');
    const { term, lastIndex, members } = b.status();
    const m: Message = {
      type: 'snapshot',
      from: 'a',
      to: 'b',
      term,
      meta: { index: lastIndex + 5, term: term + 1, members },
      offset: 0,
      chunk: enc('[]'),
      done: true,
    };
    expect(reasonOf(b, m)).toBe('snapshot_term_above_message_term');
    expect(crash(b, m)).toBeInstanceOf(RaftInvariantError);
  });

  it('a message to another node or from this one (raft.ts step asserts both)', () => {
    const c = cluster();
    const b = c.core('b');
    const { term } = b.status();
    const toOther: Message = { type: 'timeoutNow', from: 'a', to: 'c', term };
    const fromSelf: Message = { type: 'timeoutNow', from: 'b', to: 'b', term };
    for (const m of [toOther, fromSelf]) {
      expect(reasonOf(b, m)).toBe('misaddressed');
      expect(crash(b, m)).toBeInstanceOf(RaftInvariantError);
    }
  });

  it('refuses implausible values that do not trip an assertion but mislead the core', () => {
    const c = cluster();
    const b = c.core('b');
    const a = c.core('a');
    const { term, lastIndex, members } = b.status();
    const cases: Array<[RaftCore, Message, RejectReason]> = [
      [b, { type: 'vote', from: 'c', to: 'b', term: term + 1, lastLogIndex: 0, lastLogTerm: 3, transfer: false }, 'log_position'],
      [b, { type: 'preVote', from: 'c', to: 'b', term: term + 1, lastLogIndex: 9, lastLogTerm: term + 1 }, 'log_term_above_term'],
      [b, { type: 'heartbeat', from: 'a', to: 'b', term: WIRE_COUNTER_MAX + 1, leaderCommit: 0, readSeq: 0 }, 'out_of_range'],
      [
        b,
        {
          type: 'append',
          from: 'a',
          to: 'b',
          term,
          prevLogIndex: lastIndex,
          prevLogTerm: term,
          entries: [{ kind: 'config', index: lastIndex + 1, term, members: members.map((m) => ({ ...m, voter: false })) }],
          leaderCommit: 0,
        },
        'config_without_voters',
      ],
      [
        b,
        {
          type: 'snapshot',
          from: 'a',
          to: 'b',
          term,
          meta: { index: 50, term, members },
          offset: LIMITS.snapshotBytesMax - 1,
          chunk: new Uint8Array(2),
          done: false,
        },
        'snapshot_too_large',
      ],
      [
        a,
        { type: 'appendResp', from: 'b', to: 'a', term, success: false, matchIndex: 1, rejectHint: 2, rejectTerm: 1 },
        'reject_hint_beyond_match',
      ],
      [b, { type: 'readIndexResp', from: 'c', to: 'b', term, requestId: 1, readIndex: 3, ok: true }, 'not_from_leader'],
      [b, { type: 'timeoutNow', from: 'c', to: 'b', term }, 'two_leaders'],
    ];
    for (const [core, m, reason] of cases) expect(reasonOf(core, m), JSON.stringify(m)).toBe(reason);
  });
});

/** Every message an honest node delivers passes the check, or the run fails with the seed. */
function guardChecking(real: CoreFactory, stats: { checked: number }): CoreFactory {
  return (config, initial) => {
    const core = real(config, initial);
    const step = (m: Message): void => {
      const bad = implausibility(m, core.localState(), { snapshotBytesMax: Number.MAX_SAFE_INTEGER });
      if (bad !== null)
        throw new Error(`plausibility check refused an honest message (${bad.reason}: ${bad.detail}): ${JSON.stringify(m)}`);
      stats.checked++;
      core.step(m);
    };
    return new Proxy(core, {
      get: (target, prop) => (prop === 'step' ? step : (Reflect.get(target, prop) as unknown)),
    }) as RaftCoreApi;
  };
}

describe('plausibility: no false alarms on honest traffic', () => {
  // 1,000 seeds passed when the rules were written (25 s); CI runs 400 of them.
  it('refuses no message in 400 seeded simulation schedules', () => {
    const stats = { checked: 0 };
    const factory = guardChecking((config, initial) => new RaftCore(config, initial), stats);
    for (let seed = 1; seed <= 400; seed++) runSeed(seed, factory, 1000);
    console.log(`plausibility: ${stats.checked} honest messages checked, none refused`);
    expect(stats.checked).toBeGreaterThan(100_000);
  }, 300_000);
});
