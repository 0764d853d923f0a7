// The log's transaction commands: encoded once by the leader, decoded by every
// node's state machine from the entry the log keeps.
import { describe, expect, it } from 'vitest';
import { decodeCommand, encodeCommand, type TxCommand } from '../../src/tx/commands.js';

describe('decodeCommand', () => {
  it('reads back what encodeCommand wrote, and null for bytes that are not a command', () => {
    const cmd: TxCommand = { type: 'commitRequested', txId: '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9' };
    expect(decodeCommand(encodeCommand(cmd))).toEqual(cmd);
    expect(decodeCommand(new Uint8Array([0xc1]))).toBeNull();
    expect(decodeCommand(encodeCommand({ type: 'nonsense' } as unknown as TxCommand))).toBeNull();
  });

  it("leaves the entry's buffer as it was: the log keeps it, so nothing may hang on it", () => {
    const data = encodeCommand({ type: 'acknowledged', txId: 't1', participant: 'bank' });
    // A view into a larger buffer, as a follower's entries may be.
    const inside = new Uint8Array(data.length + 8);
    inside.set(data, 4);
    const view = inside.subarray(4, 4 + data.length);
    for (const bytes of [data, view]) {
      expect(decodeCommand(bytes)).toEqual({ type: 'acknowledged', txId: 't1', participant: 'bank' });
      expect(Object.keys(bytes).filter((k) => !/^\d+$/.test(k))).toEqual([]);
      expect('dataView' in bytes).toBe(false);
    }
  });
});
