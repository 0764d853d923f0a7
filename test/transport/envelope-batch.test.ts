// The size estimate behind the envelope byte cap must never guess low.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeEnvelope } from '../../src/transport/codec.js';
import { envelopeBytesAtMost, takeBatch } from '../../src/transport/envelope-batch.js';
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
          expect(encoded).toBeLessThanOrEqual(envelopeBytesAtMost({ clusterId, from, messages }));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('is not wildly pessimistic for the samples (the cap would batch too little)', () => {
    const encoded = encodeEnvelope({ v: 1, clusterId: 'c1', from: 'n1', messages: ALL_SAMPLES }).byteLength;
    const estimate = envelopeBytesAtMost({ clusterId: 'c1', from: 'n1', messages: ALL_SAMPLES });
    expect(estimate).toBeLessThan(encoded * 1.2);
  });

  it('takeBatch sums the same bound for the messages it takes, within the caps', () => {
    fc.assert(
      fc.property(
        fc.array(messageArb, { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 200, max: 20_000 }),
        (queue, maxMessages, maxBytes) => {
          const limits = { clusterId: 'c1', nodeId: 'n1', maxEnvelopeBytes: maxBytes, maxMessagesPerEnvelope: maxMessages };
          const before = queue.length;
          const { messages, bytesAtMost } = takeBatch(queue, limits);
          expect(messages.length).toBeGreaterThanOrEqual(1);
          expect(messages.length + queue.length).toBe(before);
          expect(bytesAtMost).toBe(envelopeBytesAtMost({ clusterId: 'c1', from: 'n1', messages }));
          if (messages.length > 1) expect(bytesAtMost).toBeLessThanOrEqual(maxBytes);
        },
      ),
      { numRuns: 300 },
    );
  });
});
