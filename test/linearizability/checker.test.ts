// The search itself: its budget (a pruned search says "unknown", never "yes"), the
// shrinking of a failing partition, and the rule that shrinking never manufactures a
// failure by dropping the write a read depends on.
import { describe, expect, it } from 'vitest';
import { checkHistory } from './check.js';
import { kvModel, type KvOperation } from './kv-model.js';

let nextId = 0;
function put(key: string, value: string, index: number, callMs: number, returnMs: number): KvOperation {
  return { id: nextId++, client: 'w', input: { op: 'put', key, value }, output: { op: 'put', index }, callMs, returnMs };
}
function get(key: string, value: string | null, callMs: number, returnMs: number): KvOperation {
  return { id: nextId++, client: 'r', input: { op: 'get', key }, output: { op: 'get', value }, callMs, returnMs };
}

/** A long linearizable run on one key: overlapping puts, each followed by reads of it. */
function longRun(key: string, writes: number): KvOperation[] {
  const h: KvOperation[] = [];
  for (let i = 1; i <= writes; i++) {
    const t = i * 100;
    h.push(put(key, `v${i}`, i, t, t + 60));
    h.push(get(key, i === 1 ? null : `v${i - 1}`, t + 5, t + 20)); // overlaps the put: the old value
    h.push(get(key, `v${i}`, t + 70, t + 80));
  }
  return h;
}

describe('checker budget', () => {
  it('answers "unknown" with the reason when a search runs out of steps, never "yes"', () => {
    const r = checkHistory(kvModel, longRun('x', 20), { stepsMax: 10 });
    expect(r.verdict).toBe('unknown');
    expect(r.reason).toMatch(/^partition x \(60 operations\): search pruned after 10 steps \(stepsMax\) over 60 operations/);
    expect(r.pruned).toHaveLength(1);
    expect(checkHistory(kvModel, longRun('x', 20)).verdict).toBe('yes');
  });

  it('still answers "no" when another partition fails', () => {
    const h = [...longRun('x', 20), put('y', 'a', 1, 0, 1), put('y', 'b', 2, 2, 3), get('y', 'a', 4, 5)];
    const r = checkHistory(kvModel, h, { stepsMax: 30 });
    expect(r.verdict).toBe('no');
    expect(r.failingPartitions).toEqual(['y']);
    expect(r.pruned.map((p) => p.partition)).toEqual(['x']);
  });

  it('answers "unknown" for partitions left unsearched at the time limit', () => {
    const r = checkHistory(kvModel, [...longRun('x', 3), ...longRun('y', 3)], { timeMaxMs: -1 });
    expect(r.verdict).toBe('unknown');
    expect(r.pruned.map((p) => p.reason)).toEqual([
      'not searched: the time limit of the check was reached',
      'not searched: the time limit of the check was reached',
    ]);
  });
});

describe('shrinking a violation', () => {
  it('reduces a long failing history to the stale read and the writes it contradicts', () => {
    const h = longRun('x', 60);
    // After v30 was written and read, a read that returns v29.
    const stale = get('x', 'v29', 30 * 100 + 85, 30 * 100 + 90);
    const r = checkHistory(kvModel, [...h, stale]);
    expect(r.verdict).toBe('no');
    const ce = r.counterexample!;
    expect(ce.minimal).toBe(true);
    expect(ce.partitionOperations).toBe(181);
    expect(
      ce.operations.map(
        (o) => `${o.input.op} ${o.input.op === 'put' ? o.input.value : String(o.output?.op === 'get' ? o.output.value : '?')}`,
      ),
    ).toEqual(['put v29', 'put v30', 'get v29']);
    // The witness fails on its own.
    expect(checkHistory(kvModel, ce.operations).verdict).toBe('no');
  });

  it('keeps the write a read depends on, rather than report a value nobody wrote', () => {
    // b is read, then a (older) is read: the second read went back in time. Dropping
    // put b would also fail ("b was never written"), but that is a different story.
    const h = [put('x', 'a', 1, 0, 1), put('x', 'b', 2, 2, 20), get('x', 'b', 3, 4), get('x', 'a', 5, 6)];
    const r = checkHistory(kvModel, h);
    expect(r.verdict).toBe('no');
    expect(r.counterexample!.operations.map((o) => o.id)).toEqual(h.map((o) => o.id));
  });

  it('reports the whole partition when shrinking is off', () => {
    const h = [...longRun('x', 5), get('x', 'v1', 1_000, 1_001)];
    const r = checkHistory(kvModel, h, { minimize: false });
    expect(r.counterexample).toMatchObject({ partition: 'x', partitionOperations: 16, minimal: false });
    expect(r.counterexample!.operations).toHaveLength(16);
  });
});
