// ratify_event_loop_delay_seconds: per-scrape quantiles of the event-loop delay,
// which the benchmark reads around each phase (README, "Performance").
import { describe, expect, it } from 'vitest';
import { createMetrics, EVENT_LOOP_DELAY_QUANTILES } from '../../src/metrics.js';
import { prometheusLabelled } from '../../scripts/bench/node-stats.js';

const NAME = 'ratify_event_loop_delay_seconds';

function blockFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Busy: the monitor's timer cannot fire until this returns.
  }
}

const turn = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('event-loop delay metric', () => {
  it('shows a stall of the loop in its maximum and p99.9, then starts over after the scrape', async () => {
    const { registry } = createMetrics({ processMetrics: true, nodeId: 'n1' });
    await turn(30);
    blockFor(80);
    await turn(30);
    const first = prometheusLabelled(await registry.metrics(), NAME, 'quantile');
    expect([...first.keys()].sort()).toEqual([...EVENT_LOOP_DELAY_QUANTILES].sort());
    expect(first.get('1')).toBeGreaterThanOrEqual(0.06);
    expect(first.get('0.999')).toBeGreaterThanOrEqual(0.06);
    expect(first.get('0.5')).toBeLessThanOrEqual(first.get('0.99') ?? 0);
    // No loop turn between the two scrapes: the reset leaves nothing to report.
    const second = prometheusLabelled(await registry.metrics(), NAME, 'quantile');
    expect(second.get('1')).toBe(0);
    expect(second.get('0.999')).toBe(0);
  });

  it('is absent without process metrics (unit tests build many registries)', async () => {
    const { registry } = createMetrics({ processMetrics: false, nodeId: 'n1' });
    expect(await registry.metrics()).not.toContain(NAME);
  });
});
