// A snapshot captured at one applied index and encoded in slices
// (captureSnapshot) gives exactly the bytes the synchronous snapshot() gives
// at that index, while apply() goes on between the slices: transactions are
// created, voted on (live records changed in place), decided, acknowledged,
// completed (compacted to finished rows), collected by retention, and the state
// machine is even restored from a snapshot midway. The expected bytes come from
// a twin state machine fed the same entries, snapshotted synchronously at the
// capture (encode() writes with the exact-size writer, an independent path).
import { describe, expect, it } from 'vitest';
import type { SnapshotEncoding } from '../../src/raft/state-machine.js';
import { encodeCommand, type TxCommand } from '../../src/tx/commands.js';
import { txConfigDefaults } from '../../src/tx/config.js';
import { createTxStateMachine } from '../../src/tx/state-machine.js';
import type { TxStateMachine } from '../../src/tx/types.js';
import { Prng } from '../../src/util/random.js';

const config = { ...txConfigDefaults, maxActiveTransactions: 10_000 };
const NAMES = ['a', 'b', 'ç'];
const URLS = ['http://127.0.0.1:1', 'http://127.0.0.1:2/ünï', 'http://[::1]:3'];

/** A random but mostly valid command over transaction ids t0..t(idCount-1). */
function randomCommand(rng: Prng, idCount: number, now: number): TxCommand {
  const txId = `t${rng.below(idCount)}`;
  const participant = rng.pick(NAMES);
  switch (rng.below(10)) {
    case 0:
    case 1:
      return {
        type: 'created',
        txId,
        participants: NAMES.slice(0, 1 + rng.below(NAMES.length)).map((name, i) => ({
          name,
          url: URLS[i]!,
          payload: rng.chance(0.5) ? null : { amount: rng.below(1000), note: rng.chance(0.2) ? 'ü\u{1F600}' : 'x' },
        })),
        protocol: rng.chance(0.3) ? '3pc' : '2pc',
        createdAt: now,
        deadlineAt: now + 10_000,
        idempotencyKey: rng.chance(0.3) ? `k${rng.below(50)}` : null,
        requestHash: 'h',
        commitRequested: rng.chance(0.7),
        activeMax: 10_000,
      };
    case 2: {
      const vote = rng.chance(0.8) ? 'commit' : 'abort';
      return { type: 'voteRecorded', txId, participant, vote, reason: null, error: vote === 'abort' ? 'refused' : null };
    }
    case 3: {
      const decision = rng.chance(0.7) ? 'commit' : 'abort';
      const votes = NAMES.map((p) => ({ participant: p, vote: 'commit' as const, reason: null, error: null }));
      return { type: 'decided', txId, decision, votes: decision === 'commit' ? votes : [], decidedAt: now + 1, reason: 'test' };
    }
    case 4:
    case 5:
      return { type: 'acknowledged', txId, participant };
    case 6:
    case 7:
      return { type: 'completed', txId, completedAt: now + 2 };
    case 8:
      return { type: 'participantFailing', txId, participant, error: 'down', failingSince: now };
    default:
      return { type: 'gc', now, retainFinishedMs: 50, retainFinishedMax: 200 + rng.below(200) };
  }
}

class Twins {
  readonly live = createTxStateMachine(config);
  readonly twin = createTxStateMachine(config);
  private index = 0;
  private now = 1_000_000;

  constructor(
    private readonly rng: Prng,
    private readonly idCount: number,
  ) {}

  apply(n: number): void {
    for (let i = 0; i < n; i++) {
      this.now += this.rng.below(3);
      const data = encodeCommand(randomCommand(this.rng, this.idCount, this.now));
      this.index++;
      this.live.apply({ index: this.index, term: 1, data });
      this.twin.apply({ index: this.index, term: 1, data });
    }
  }
}

/** Steps `enc` to its end, calling `between` after every step; the pieces end to end. */
function drain(enc: SnapshotEncoding, between: () => void): { bytes: Buffer; steps: number } {
  const pieces: Buffer[] = [];
  let steps = 0;
  for (let more = true; more; ) {
    more = enc.step();
    steps++;
    pieces.push(Buffer.from(enc.piece()));
    between();
  }
  return { bytes: Buffer.concat(pieces), steps };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

describe('tx snapshot encoded in slices', () => {
  it('is byte for byte the synchronous snapshot at the capture, whatever is applied between the slices', () => {
    let changedMeanwhile = 0;
    let multiStep = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const rng = new Prng(seed);
      const t = new Twins(rng, 40 + rng.below(1500));
      t.apply(500 + rng.below(3000));
      for (let round = 0; round < 4; round++) {
        const enc = t.live.captureSnapshot!();
        const expected = t.twin.snapshot();
        const restoreAt = rng.chance(0.3) ? rng.below(4) : -1;
        let steps = 0;
        const { bytes } = drain(enc, () => {
          t.apply(rng.below(40));
          if (steps++ === restoreAt) t.live.restore(t.twin.snapshot());
        });
        expect(sameBytes(bytes, expected), `seed ${seed} round ${round}`).toBe(true);
        if (!sameBytes(t.live.snapshot(), expected)) changedMeanwhile++;
        if (steps > 1) multiStep++;
        t.apply(rng.below(500));
      }
    }
    // Not vacuous: the state moved on under most captures, and most took several slices.
    expect(changedMeanwhile).toBeGreaterThan(30);
    expect(multiStep).toBeGreaterThan(20);
  });

  it('captures a live record as it was: a vote, an acknowledgement and a completion after the capture are not in it', () => {
    const sm: TxStateMachine = createTxStateMachine(config);
    let index = 0;
    const apply = (cmd: TxCommand): unknown => sm.apply({ index: ++index, term: 1, data: encodeCommand(cmd) });
    apply({
      type: 'created',
      txId: 't1',
      participants: [{ name: 'a', url: 'http://127.0.0.1:1', payload: null }],
      protocol: '2pc',
      createdAt: 1_000,
      deadlineAt: 11_000,
      idempotencyKey: null,
      requestHash: null,
      commitRequested: true,
      activeMax: 10,
    });
    const before = sm.snapshot();
    const enc = sm.captureSnapshot!();
    apply({ type: 'voteRecorded', txId: 't1', participant: 'a', vote: 'commit', reason: null, error: null });
    apply({
      type: 'decided',
      txId: 't1',
      decision: 'commit',
      votes: [{ participant: 'a', vote: 'commit', reason: null, error: null }],
      decidedAt: 2_000,
      reason: 'test',
    });
    apply({ type: 'acknowledged', txId: 't1', participant: 'a' });
    apply({ type: 'completed', txId: 't1', completedAt: 3_000 });
    expect(sm.get('t1')?.state).toBe('committed');
    expect(sameBytes(drain(enc, () => {}).bytes, before)).toBe(true);
    expect(sameBytes(sm.snapshot(), before)).toBe(false);
  });

  it('of an empty table is the empty table', () => {
    const sm = createTxStateMachine(config);
    expect(sameBytes(drain(sm.captureSnapshot!(), () => {}).bytes, sm.snapshot())).toBe(true);
  });
});
