// The KV state machine's encodings: MessagePack commands and snapshots, the JSON
// of earlier versions still read, equal bytes for equal states, malformed input refused.
import { unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { createKvStateMachine, encodeKvCommand, type KvStateMachine } from '../../src/kv/state-machine.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
let index = 0;
const put = (sm: KvStateMachine, key: string, value: string): void => {
  sm.apply({ index: ++index, term: 1, data: encodeKvCommand({ op: 'put', key, value }) });
};

describe('KV state machine', () => {
  it('encodes commands as MessagePack, not JSON, and applies them', () => {
    const bytes = encodeKvCommand({ op: 'put', key: 'k', value: 'v1' });
    expect(bytes[0]).not.toBe(0x7b);
    expect(unpack(bytes)).toEqual([1, 'k', 'v1']);
    const sm = createKvStateMachine();
    expect(sm.apply({ index: 7, term: 2, data: bytes })).toEqual({ index: 7 });
    expect(sm.get('k')).toBe('v1');
  });

  it('still applies the JSON commands of logs written by earlier versions', () => {
    const sm = createKvStateMachine();
    sm.apply({ index: 1, term: 1, data: utf8(JSON.stringify({ op: 'put', key: 'old', value: 'json' })) });
    expect(sm.get('old')).toBe('json');
  });

  it('skips malformed commands (entries come from the leader: a node must not stop on one)', () => {
    const sm = createKvStateMachine();
    const bad = [
      encodeKvCommand({ op: 'put', key: 'k', value: 'v' }).slice(0, 3),
      utf8('{"op":"del","key":"k"}'),
      new Uint8Array([0x93, 0x02, 0xa1, 0x6b, 0xa1, 0x76]),
      utf8('{not json'),
    ];
    for (const data of bad) expect(sm.apply({ index: 1, term: 1, data })).toEqual({ index: 1, malformed: true });
    expect(sm.size()).toBe(0);
  });

  it('tells a snapshot it cannot restore without changing its state', () => {
    const sm = createKvStateMachine();
    sm.apply({ index: 1, term: 1, data: encodeKvCommand({ op: 'put', key: 'k', value: 'v' }) });
    expect(sm.checkSnapshot?.(sm.snapshot())).toBeNull();
    for (const data of [new Uint8Array([1, 2, 3]), utf8('[1,2'), new Uint8Array([0x91, 0x01])])
      expect(sm.checkSnapshot?.(data)).toEqual(expect.any(String));
    expect(sm.get('k')).toBe('v');
  });

  it('restores its own snapshot, and one replica restored mid-way snapshots the same bytes as one that applied everything', () => {
    const a = createKvStateMachine();
    for (let i = 0; i < 50; i++) put(a, `k${(i * 7) % 23}`, `v${i}`);
    const b = createKvStateMachine();
    b.restore(a.snapshot());
    expect(b.size()).toBe(a.size());
    for (let i = 0; i < 23; i++) expect(b.get(`k${i}`)).toBe(a.get(`k${i}`));
    for (let i = 50; i < 80; i++) {
      const [key, value] = [`k${(i * 5) % 31}`, `v${i}`];
      put(a, key, value);
      b.apply({ index: index, term: 1, data: encodeKvCommand({ op: 'put', key, value }) });
    }
    expect(Buffer.from(b.snapshot()).equals(Buffer.from(a.snapshot()))).toBe(true);
  });

  it('restores the sorted JSON snapshots of earlier versions', () => {
    const sm = createKvStateMachine();
    put(sm, 'gone', 'replaced by the restore');
    sm.restore(
      utf8(
        JSON.stringify([
          ['a', '1'],
          ['b', '2'],
        ]),
      ),
    );
    expect(sm.size()).toBe(2);
    expect(sm.get('b')).toBe('2');
    expect(sm.get('gone')).toBeUndefined();
  });

  it('refuses a snapshot that is not pairs of strings', () => {
    const sm = createKvStateMachine();
    const good = createKvStateMachine();
    put(good, 'a', '1');
    const bytes = good.snapshot();
    expect(() => sm.restore(bytes.slice(0, bytes.length - 1))).toThrow();
    expect(() => sm.restore(utf8('{"a":"1"}'))).toThrow();
    expect(() => sm.restore(new Uint8Array([0x93, 0xa1, 0x61, 0xa1, 0x31, 0xa1, 0x62]))).toThrow(/flat array/);
    expect(() => sm.restore(new Uint8Array([0x92, 0xa1, 0x61, 0x01]))).toThrow(/not a pair of strings/);
  });
});
