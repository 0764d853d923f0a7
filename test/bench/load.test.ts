import { describe, expect, it } from 'vitest';
import { errorKind, type LoadSpec, runClosedLoop } from '../../scripts/bench/load.js';
import { phaseDiskStalls } from './fixtures.js';

/** A loop with no duration, warm-up or error backoff: it runs until countMax or its signal. */
function instant(spec: Omit<LoadSpec, 'label' | 'durationMs' | 'warmupMs' | 'errorBackoffMs'>): LoadSpec {
  return { label: 't', durationMs: 0, warmupMs: 0, errorBackoffMs: 0, ...spec };
}

/** What the disk-stall source was asked for. */
interface Asked {
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly slowestMs: number[];
  readonly ok: number;
}

describe('runClosedLoop', () => {
  it('stops at countMax and gives every worker its own sequence', async () => {
    const seen = new Set<string>();
    const result = await runClosedLoop(
      instant({
        concurrency: 4,
        countMax: 40,
        op: async ({ worker, seq }) => {
          const key = `${worker}/${seq}`;
          expect(seen.has(key)).toBe(false);
          seen.add(key);
          await Promise.resolve();
        },
      }),
    );
    // Workers check the count before starting, so at most concurrency-1 extra finish.
    expect(result.ok).toBeGreaterThanOrEqual(40);
    expect(result.ok).toBeLessThan(44);
    expect(result.latency.count).toBe(result.ok);
    expect(result.errors).toBe(0);
  });

  it('hands its measured window and slowest operations to the disk-stall source', async () => {
    let asked: Asked | null = null;
    const summary = phaseDiskStalls();
    let n = 0;
    const result = await runClosedLoop(
      instant({
        concurrency: 1,
        countMax: 6,
        diskStalls: {
          phase: (startNs, endNs, spans, ok) => {
            asked = { startNs, endNs, slowestMs: spans.slowest(2).map((s) => Math.round((s.endNs - s.startNs) / 1e6)), ok };
            return summary;
          },
        },
        op: async () => {
          n += 1;
          // One operation far slower than the rest.
          await new Promise((r) => setTimeout(r, n === 3 ? 60 : 1));
        },
      }),
    );
    expect(result.diskStalls).toBe(summary);
    expect(asked).not.toBeNull();
    const a = asked as unknown as Asked;
    expect(a.ok).toBe(result.ok);
    expect([a.startNs, a.endNs]).toEqual([result.measuredFromNs, result.measuredToNs]);
    expect(a.slowestMs[0]).toBeGreaterThanOrEqual(55);
    expect(a.slowestMs[1]).toBeLessThan(55);
  });

  it('counts failures by kind and keeps going', async () => {
    let calls = 0;
    const result = await runClosedLoop(
      instant({
        concurrency: 1,
        countMax: 5,
        op: async () => {
          calls += 1;
          if (calls % 2 === 0) throw Object.assign(new Error('boom'), { code: 'NOT_LEADER' });
        },
      }),
    );
    expect(result.ok).toBe(5);
    expect(result.errors).toBe(4);
    expect(result.errorKinds).toEqual({ NOT_LEADER: 4 });
  });

  it('stops when its signal aborts', async () => {
    const abort = new AbortController();
    let n = 0;
    const result = await runClosedLoop(
      instant({
        concurrency: 2,
        signal: abort.signal,
        op: async () => {
          if (++n === 10) abort.abort();
          await Promise.resolve();
        },
      }),
    );
    expect(result.ok).toBeGreaterThanOrEqual(10);
  });

  it('refuses a load that could never stop, and a bad concurrency', async () => {
    const op = async (): Promise<void> => {};
    await expect(runClosedLoop(instant({ concurrency: 1, op }))).rejects.toThrow(/never stops/);
    await expect(runClosedLoop({ label: 't', concurrency: 0, durationMs: 1, warmupMs: 0, errorBackoffMs: 0, op })).rejects.toThrow(
      'concurrency (0) must be an integer between 1 and 4096',
    );
  });
});

describe('errorKind', () => {
  it('prefers an error code and falls back to the message head', () => {
    expect(errorKind(Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' }))).toBe('UND_ERR_SOCKET');
    expect(errorKind(new Error('plain failure'))).toBe('plain failure');
    expect(errorKind('string thrown')).toBe('string thrown');
  });
});
