// The state digests of the consistency check are a function of the applied log
// only: a replica that took a snapshot (from a leader, a backup or its own disk)
// and applied the same entries after it digests the same bytes at the same
// indexes as one that applied every entry. Otherwise the check would report
// healthy replicas restored from a snapshot as corrupt.
import { describe, expect, it } from 'vitest';
import { StateDigests } from '../../src/node/state-digests.js';
import { encodeCommand, type TxCommand } from '../../src/tx/commands.js';
import { txConfigDefaults } from '../../src/tx/config.js';
import { createTxStateMachine } from '../../src/tx/state-machine.js';
import type { TxStateMachine } from '../../src/tx/types.js';

/** Transactions that are created, decided both ways, finished, some left open, and collected. */
function commands(n: number): TxCommand[] {
  const out: TxCommand[] = [];
  for (let i = 0; i < n; i++) {
    const txId = `tx-${i}`;
    out.push({
      type: 'created',
      txId,
      participants: [{ name: 'a', url: 'http://127.0.0.1:1', payload: { i } }],
      protocol: '2pc',
      createdAt: 1_000 + i,
      deadlineAt: 100_000,
      idempotencyKey: `k${i}`,
      requestHash: `h${i}`,
      commitRequested: true,
      activeMax: 1000,
    });
    if (i % 4 === 3) continue; // left open
    const commit = i % 2 === 0;
    out.push({
      type: 'decided',
      txId,
      decision: commit ? 'commit' : 'abort',
      votes: commit ? [{ participant: 'a', vote: 'commit', reason: null, error: null }] : [],
      decidedAt: 2_000 + i,
      reason: 'test',
    });
    out.push({ type: 'acknowledged', txId, participant: 'a' });
    out.push({ type: 'completed', txId, completedAt: 3_000 + i });
    if (i % 5 === 4) out.push({ type: 'gc', now: 3_000 + i, retainFinishedMs: 3, retainFinishedMax: 6 });
  }
  return out;
}

function applyAll(sm: TxStateMachine, digests: StateDigests, cmds: readonly TxCommand[], fromIndex: number): void {
  cmds.forEach((cmd, k) => {
    const index = fromIndex + k;
    sm.apply({ index, term: 1, data: encodeCommand(cmd) });
    digests.applied(index, () => sm.snapshot());
  });
}

describe('state digests', () => {
  it('are taken only at multiples of the interval, the newest 16 kept', () => {
    const d = new StateDigests(3);
    for (let i = 1; i <= 100; i++) d.applied(i, () => new Uint8Array([i]));
    expect(d.list().map((x) => x.index)).toEqual(Array.from({ length: 16 }, (_, k) => 3 * (18 + k)));
    expect(() => new StateDigests(0)).toThrow(RangeError);
  });

  it('agree between a replica that applied every entry and one restored from a snapshot midway', () => {
    const cmds = commands(40);
    const cut = 37;
    const full = createTxStateMachine(txConfigDefaults);
    const fullDigests = new StateDigests(5);
    applyAll(full, fullDigests, cmds, 1);

    const early = createTxStateMachine(txConfigDefaults);
    applyAll(early, new StateDigests(5), cmds.slice(0, cut), 1);
    const restored = createTxStateMachine(txConfigDefaults);
    restored.restore(early.snapshot());
    const restoredDigests = new StateDigests(5);
    applyAll(restored, restoredDigests, cmds.slice(cut), cut + 1);

    const theirs = new Map(restoredDigests.list().map((d) => [d.index, d.sha256]));
    const common = fullDigests.list().filter((d) => theirs.has(d.index));
    expect(common.length).toBeGreaterThan(10);
    for (const d of common) expect(theirs.get(d.index), `digest at ${d.index}`).toBe(d.sha256);
  });

  it('differ when one replica lost an entry', () => {
    const cmds = commands(10);
    const a = createTxStateMachine(txConfigDefaults);
    const b = createTxStateMachine(txConfigDefaults);
    const da = new StateDigests(5);
    const db = new StateDigests(5);
    applyAll(a, da, cmds, 1);
    applyAll(
      b,
      db,
      cmds.map((c, k) => (k === 2 ? { type: 'gc', now: 0, retainFinishedMs: 1e9, retainFinishedMax: 1e6 } : c)),
      1,
    );
    expect(da.list().at(-1)!.sha256).not.toBe(db.list().at(-1)!.sha256);
  });
});
