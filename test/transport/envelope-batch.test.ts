// The size estimate behind the envelope byte cap must never guess low.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeEnvelope } from '../../src/transport/codec.js';
import { envelopeOverheadBytes, estimateBytes } from '../../src/transport/envelope-batch.js';
import { ALL_SAMPLES, messageArb } from './samples.js';

describe('estimateBytes', () => {
  it('bounds the encoded size of any envelope from above', () => {
    const clusterIdArb = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(
        clusterIdArb,
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
        fc.array(messageArb, { maxLength: 12 }),
        (clusterId, from, messages) => {
          const encoded = encodeEnvelope({ v: 1, clusterId, from, messages }).byteLength;
          const estimate = envelopeOverheadBytes(clusterId, from) + messages.reduce((sum, m) => sum + estimateBytes(m), 0);
          expect(encoded).toBeLessThanOrEqual(estimate);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('is not wildly pessimistic for the samples (the cap would batch too little)', () => {
    const encoded = encodeEnvelope({ v: 1, clusterId: 'c1', from: 'n1', messages: ALL_SAMPLES }).byteLength;
    const estimate = envelopeOverheadBytes('c1', 'n1') + ALL_SAMPLES.reduce((sum, m) => sum + estimateBytes(m), 0);
    expect(estimate).toBeLessThan(encoded * 1.2);
  });
});
