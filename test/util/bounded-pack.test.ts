// msgpackr's shared write buffer stays bounded after a large message (bounded-pack.ts).
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../src/raft/types.js';
import { decodeEntry, decodeEnvelope, encodeEntry, encodeEnvelope } from '../../src/transport/codec.js';
import { envelopeBytesAtMost } from '../../src/transport/envelope-batch.js';
import type { Envelope } from '../../src/transport/message-guard.js';
import { PACK_BUFFER_BYTES_INITIAL, PACK_BUFFER_BYTES_MAX, packBounded } from '../../src/util/bounded-pack.js';

const MIB = 1024 * 1024;

function entry(index: number, bytes: number): Extract<Entry, { kind: 'normal' }> {
  return { kind: 'normal', index, term: 1, data: new Uint8Array(bytes).fill(index & 0xff) };
}

/** A catch-up append of about `bytes`, in entries of 4 KiB. */
function catchUp(bytes: number): Envelope {
  const entries = Array.from({ length: Math.ceil(bytes / 4096) }, (_, i) => entry(i + 2, 4096));
  return {
    v: 1,
    clusterId: 'cluster-a',
    from: 'n1',
    messages: [{ type: 'append', term: 1, from: 'n1', to: 'n2', prevLogIndex: 1, prevLogTerm: 1, entries, leaderCommit: 1 }],
  };
}

const heartbeat: Envelope = {
  v: 1,
  clusterId: 'cluster-a',
  from: 'n1',
  messages: [{ type: 'append', term: 1, from: 'n1', to: 'n2', prevLogIndex: 1, prevLogTerm: 1, entries: [], leaderCommit: 1 }],
};

describe('packBounded', () => {
  it('packs a 1 MiB catch-up append into one buffer of its bound, and later messages into buffers of at most PACK_BUFFER_BYTES_MAX', () => {
    const envelope = catchUp(MIB);
    const large = encodeEnvelope(envelope);
    expect(large.byteLength).toBeGreaterThan(MIB);
    // msgpackr on its own would have grown its buffer 4x at a time, to over 2 MiB.
    expect(large.buffer.byteLength).toBeGreaterThanOrEqual(large.byteLength);
    expect(large.buffer.byteLength).toBeLessThanOrEqual(envelopeBytesAtMost(envelope) + 64);
    // Enough small messages to fill several buffers: each one is a view of a small buffer.
    const sizes = new Set<number>();
    for (let i = 0; i < 2_000; i++) {
      sizes.add(encodeEnvelope(heartbeat).buffer.byteLength);
      sizes.add(encodeEntry(entry(i + 2, 300)).buffer.byteLength);
    }
    expect(Math.max(...sizes)).toBeLessThanOrEqual(PACK_BUFFER_BYTES_MAX);
    // The large message, packed before the switch, is intact.
    const decoded = decodeEnvelope(large);
    const m = decoded.messages[0]!;
    expect(m.type === 'append' && m.entries.length).toBe(256);
  });

  it('a large message without a bound does not leave a large buffer behind either', () => {
    const big = encodeEntry(entry(7, 600 * 1024));
    expect(big.buffer.byteLength).toBeGreaterThan(PACK_BUFFER_BYTES_MAX);
    expect(encodeEntry(entry(8, 10)).buffer.byteLength).toBeLessThanOrEqual(PACK_BUFFER_BYTES_MAX);
    const back = decodeEntry(big);
    expect(back.kind === 'normal' && Buffer.from(back.data).equals(entry(7, 600 * 1024).data)).toBe(true);
  });

  it('keeps a buffer up to the bound: medium messages share it with the ones after them', () => {
    const packr = new Packr({ useRecords: false });
    packr.useBuffer(Buffer.allocUnsafeSlow(PACK_BUFFER_BYTES_INITIAL)); // as msgpackr starts, whatever ran before
    const medium = packBounded(packr, new Uint8Array(40 * 1024));
    expect(medium.buffer.byteLength).toBeGreaterThan(PACK_BUFFER_BYTES_INITIAL);
    expect(medium.buffer.byteLength).toBeLessThanOrEqual(PACK_BUFFER_BYTES_MAX);
    const next = packBounded(packr, { small: true });
    expect(next.buffer).toBe(medium.buffer);
  });
});
