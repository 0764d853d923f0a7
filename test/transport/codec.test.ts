// The wire and disk codecs, and the guard that validates decoded messages.
import { Packr } from 'msgpackr';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRatifyError } from '../../src/errors.js';
import type { Message } from '../../src/raft/types.js';
import { decodeEntry, decodeEnvelope, encodeEntry, encodeEnvelope } from '../../src/transport/codec.js';
import { DEFAULT_WIRE_LIMITS, parseMessage, type Envelope } from '../../src/transport/message-guard.js';
import { ALL_SAMPLES, ENTRIES, SAMPLES, messageArb } from './samples.js';

function envelope(messages: readonly Message[]): Envelope {
  return { v: 1, clusterId: 'cluster-a', from: 'n1', messages };
}

/** Runs fn; passes if it returns or throws RatifyError VALIDATION_FAILED, fails on anything else. */
function validatesOrRefuses(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (isRatifyError(e, 'VALIDATION_FAILED')) return true;
    throw e;
  }
}

function expectRefused(fn: () => unknown, message?: RegExp): void {
  let err: unknown = null;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(isRatifyError(err, 'VALIDATION_FAILED'), `expected VALIDATION_FAILED, got ${String(err)}`).toBe(true);
  if (message !== undefined) expect((err as Error).message).toMatch(message);
}

/** Values that are invalid wherever a value like `original` is expected. */
function wrongValuesFor(original: unknown): unknown[] {
  const common = [null, undefined, {}, new Map()];
  if (typeof original === 'number') return [...common, 'x', -1, 1.5, Number.NaN, Infinity, 2 ** 53, true, [], new Uint8Array(1), 1n];
  if (typeof original === 'boolean') return [...common, 'true', 0, 1, []];
  if (typeof original === 'string') return [...common, '', 5, true, [], 'x'.repeat(DEFAULT_WIRE_LIMITS.maxIdLength + 1)];
  if (original instanceof Uint8Array) return [...common, 'x', 5, [], [1, 2], new Uint16Array(2)];
  if (Array.isArray(original)) return [...common, 'x', 5, [1], [null]];
  return [...common, 'x', 5, [], new Uint8Array(1)];
}

describe('envelope codec', () => {
  it('round-trips every message type, binary data included', () => {
    for (const m of ALL_SAMPLES) {
      expect(decodeEnvelope(encodeEnvelope(envelope([m])))).toEqual(envelope([m]));
    }
    expect(decodeEnvelope(encodeEnvelope(envelope(ALL_SAMPLES)))).toEqual(envelope(ALL_SAMPLES));
    expect(decodeEnvelope(encodeEnvelope(envelope([])))).toEqual(envelope([]));
  });

  it('returns bytes as plain Uint8Arrays, whatever the decoder produced', () => {
    const decoded = decodeEnvelope(encodeEnvelope(envelope([SAMPLES.append, SAMPLES.snapshot])));
    const [append, snapshot] = decoded.messages;
    expect(append?.type === 'append' && append.entries[0]?.kind === 'normal' && append.entries[0].data.constructor).toBe(Uint8Array);
    expect(snapshot?.type === 'snapshot' && snapshot.chunk.constructor).toBe(Uint8Array);
  });

  it('drops unknown fields instead of passing them on', () => {
    const extra = { ...SAMPLES.heartbeat, future: 'field', __proto__: { polluted: true } };
    const decoded = decodeEnvelope(encodeEnvelope({ ...envelope([extra as Message]), extraTop: 1 } as Envelope));
    expect(decoded.messages[0]).toEqual(SAMPLES.heartbeat);
    expect(Object.keys(decoded.messages[0]!)).toEqual(Object.keys(SAMPLES.heartbeat));
    expect(Object.keys(decoded)).toEqual(['v', 'clusterId', 'from', 'messages']);
  });

  it('refuses other envelope versions and envelopes over the limits', () => {
    expectRefused(() => decodeEnvelope(encodeEnvelope({ ...envelope([]), v: 2 } as unknown as Envelope)), /envelope\.v/);
    const many = Array.from({ length: 5 }, () => SAMPLES.heartbeat);
    expectRefused(
      () => decodeEnvelope(encodeEnvelope(envelope(many)), { ...DEFAULT_WIRE_LIMITS, maxMessagesPerEnvelope: 4 }),
      /at most 4 items/,
    );
    expectRefused(
      () => decodeEnvelope(encodeEnvelope(envelope([SAMPLES.append])), { ...DEFAULT_WIRE_LIMITS, maxEntriesPerAppend: 2 }),
      /entries/,
    );
    expectRefused(() => decodeEnvelope(encodeEnvelope({ ...envelope([]), clusterId: 'x'.repeat(129) })), /clusterId/);
  });

  it('refuses bytes that are not MessagePack, or trail garbage', () => {
    expectRefused(() => decodeEnvelope(new Uint8Array(0)), /not valid MessagePack/);
    expectRefused(() => decodeEnvelope(new Uint8Array([0xc1])), /envelope: expected/); // msgpackr decodes the reserved byte to a marker object
    const good = encodeEnvelope(envelope([SAMPLES.vote]));
    expectRefused(() => decodeEnvelope(good.subarray(0, good.length - 1)));
    expectRefused(() => decodeEnvelope(new Uint8Array([...good, 0x00])));
  });
});

describe('entry codec (disk)', () => {
  it('round-trips every entry kind', () => {
    for (const e of ENTRIES) expect(decodeEntry(encodeEntry(e))).toEqual(e);
  });

  it('uses plain MessagePack maps, readable by any decoder', () => {
    const plain = new Packr({ useRecords: false, mapsAsObjects: true }).unpack(encodeEntry(ENTRIES[0]!)) as Record<string, unknown>;
    expect(plain['index']).toBe(11);
    expect(plain['kind']).toBe('normal');
  });
});

describe('parseMessage', () => {
  it('refuses each sample with any field missing, or holding a wrong value', () => {
    for (const sample of ALL_SAMPLES) {
      for (const [key, original] of Object.entries(sample)) {
        const without: Record<string, unknown> = { ...sample };
        delete without[key];
        expectRefused(() => parseMessage(without), new RegExp(key === 'type' ? 'type' : `\\.${key}`));
        for (const wrong of wrongValuesFor(original)) expectRefused(() => parseMessage({ ...sample, [key]: wrong }));
      }
    }
  });

  it('checks entries, members and snapshot meta in depth', () => {
    const append = SAMPLES.append;
    expectRefused(() => parseMessage({ ...append, prevLogIndex: 9 }), /entries\[0\]\.index.*contiguous/);
    expectRefused(() => parseMessage({ ...append, entries: [{ ...ENTRIES[0], kind: 'bogus' }] }), /kind/);
    expectRefused(() => parseMessage({ ...append, entries: [{ ...ENTRIES[0], index: 0 }] }), /index/);
    expectRefused(() => parseMessage({ ...append, entries: [{ ...ENTRIES[0], data: 'text' }] }), /data: expected bytes/);
    const config = ENTRIES[2]!;
    const dupMembers = [...(config.kind === 'config' ? config.members : []), { id: 'n1', url: 'http://x', voter: true }];
    expectRefused(() => parseMessage({ ...append, prevLogIndex: 12, entries: [{ ...config, members: dupMembers }] }), /unique member ids/);
    expectRefused(
      () => parseMessage({ ...append, prevLogIndex: 12, entries: [{ ...config, members: [{ id: 'n1', url: 'u' }] }] }),
      /voter/,
    );
    expectRefused(() => parseMessage({ ...SAMPLES.snapshot, meta: { ...SAMPLES.snapshot.meta, term: -1 } }), /meta\.term/);
    expectRefused(() => parseMessage({ ...SAMPLES.snapshot, meta: 'x' }), /meta: expected an object/);
    expectRefused(() => parseMessage({ ...SAMPLES.heartbeat, type: 'hello' }), /Raft message type/);
    expectRefused(() => parseMessage({ ...SAMPLES.heartbeat, type: 'toString' }), /Raft message type/);
    expectRefused(() => parseMessage({ ...SAMPLES.heartbeat, to: '' }), /\.to/);
    expectRefused(() => parseMessage(Object.assign(new Map(), SAMPLES.heartbeat)), /plain object/);
  });

  it('never throws anything but VALIDATION_FAILED on arbitrary values', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withTypedArray: true }), (x) => validatesOrRefuses(() => parseMessage(x))),
      {
        numRuns: 2000,
      },
    );
  });

  it('never throws anything but VALIDATION_FAILED on samples with one field replaced', () => {
    const arb = fc.record({
      sample: fc.constantFrom(...ALL_SAMPLES),
      keyPick: fc.nat(),
      value: fc.oneof(fc.anything({ withTypedArray: true }), fc.integer(), fc.string(), fc.uint8Array()),
    });
    fc.assert(
      fc.property(arb, ({ sample, keyPick, value }) => {
        const keys = Object.keys(sample);
        const key = keys[keyPick % keys.length]!;
        return validatesOrRefuses(() => parseMessage({ ...sample, [key]: value }));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('decodeEnvelope fuzzing', () => {
  it('random bytes never throw anything but VALIDATION_FAILED', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => validatesOrRefuses(() => decodeEnvelope(bytes))),
      { numRuns: 5000 },
    );
  });

  it('random values encoded as MessagePack never throw anything but VALIDATION_FAILED', () => {
    const packrs = [new Packr({ useRecords: true }), new Packr({ useRecords: false }), new Packr({ structuredClone: true })];
    fc.assert(
      fc.property(fc.anything({ withTypedArray: true, withMap: true, withSet: true, withDate: true }), fc.nat(2), (x, p) =>
        validatesOrRefuses(() => decodeEnvelope(packrs[p]!.pack({ v: 1, clusterId: 'c', from: 'n1', messages: [x] }))),
      ),
      { numRuns: 2000 },
    );
  });

  it('flipped bits in a valid envelope never throw anything but VALIDATION_FAILED', () => {
    const good = encodeEnvelope(envelope(ALL_SAMPLES.filter((m) => m.type !== 'append')));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(good.length - 1), fc.nat(7)), { minLength: 1, maxLength: 4 }), (flips) => {
        const bad = new Uint8Array(good);
        for (const [at, bit] of flips) bad[at] = bad[at]! ^ (1 << bit);
        return validatesOrRefuses(() => decodeEnvelope(bad));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('envelope codec, property', () => {
  it('round-trips arbitrary well-formed messages', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 8 }), (messages) => {
        expect(decodeEnvelope(encodeEnvelope(envelope(messages)))).toEqual(envelope(messages));
      }),
      { numRuns: 1000 },
    );
  });
});
