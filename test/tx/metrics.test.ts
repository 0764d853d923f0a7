import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createTxMetrics } from '../../src/tx/metrics.js';

describe('transaction metrics', () => {
  it('counts participant requests by shape and the calls that rode in batches', async () => {
    const registry = new Registry();
    const m = createTxMetrics(registry, { inFlight: () => 3, failingParticipants: () => 0 });
    m.participantRequest('single', 1);
    m.participantRequest('batch', 5);
    m.participantRequest('batch', 2);
    m.callFailed('commit');
    m.decision('commit');
    const text = await registry.metrics();
    expect(text).toContain('ratify_tx_participant_requests_total{shape="single"} 1');
    expect(text).toContain('ratify_tx_participant_requests_total{shape="batch"} 2');
    expect(text).toContain('ratify_tx_participant_batched_calls_total 7');
    expect(text).toContain('ratify_tx_participant_call_failures_total{call="commit"} 1');
    expect(text).toContain('ratify_tx_decisions_total{decision="commit"} 1');
    expect(text).toContain('ratify_tx_in_flight 3');
  });
});
