// The in-process network that driver tests use in place of HTTP.
import { afterEach, describe, expect, it } from 'vitest';
import { isRatifyError } from '../../src/errors.js';
import type { Message } from '../../src/raft/types.js';
import { MemoryNetwork } from '../../src/transport/memory-transport.js';
import { samplesFrom } from './samples.js';

function hb(from: string, to: string, leaderCommit = 0): Message {
  return { type: 'heartbeat', from, to, term: 1, leaderCommit, readSeq: 0 };
}

/** Lets every pending setImmediate delivery run. */
function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0)).then(() => new Promise((r) => setImmediate(r)));
}

describe('MemoryNetwork', () => {
  let network: MemoryNetwork;
  const inbox = new Map<string, Message[][]>();

  function attach(...ids: string[]) {
    return ids.map((id) => {
      inbox.set(id, []);
      return network.transport(id, (messages) => inbox.get(id)!.push([...messages]));
    });
  }

  afterEach(() => {
    inbox.clear();
  });

  it('delivers asynchronously, one call per destination per send, in order', async () => {
    network = new MemoryNetwork();
    const [t1] = attach('n1', 'n2', 'n3');
    t1!.send([hb('n1', 'n2', 1), hb('n1', 'n3', 2), hb('n1', 'n2', 3)]);
    t1!.send([hb('n1', 'n2', 4)]);
    expect(inbox.get('n2')).toEqual([]); // not synchronously
    await settle();
    expect(inbox.get('n2')).toEqual([[hb('n1', 'n2', 1), hb('n1', 'n2', 3)], [hb('n1', 'n2', 4)]]);
    expect(inbox.get('n3')).toEqual([[hb('n1', 'n3', 2)]]);
    expect(network.counters()).toEqual({ delivered: 4, dropped: 0 });
  });

  it('round-trips through the wire codec: receivers get copies, bad messages throw at send', async () => {
    network = new MemoryNetwork();
    const [t1] = attach('n1', 'n2');
    const append = samplesFrom('n1', 'n2').append;
    t1!.send([append]);
    await settle();
    const got = inbox.get('n2')![0]![0]!;
    expect(got).toEqual(append);
    expect(got).not.toBe(append);
    let err: unknown;
    try {
      t1!.send([{ ...hb('n1', 'n2'), term: -1 }]);
    } catch (e) {
      err = e;
    }
    expect(isRatifyError(err, 'VALIDATION_FAILED')).toBe(true);
  });

  it('partitions: drops across groups (in flight too), unlisted nodes form one group, heal restores', async () => {
    network = new MemoryNetwork();
    const [t1, t2, t3] = attach('n1', 'n2', 'n3');
    network.partition(['n1']);
    t1!.send([hb('n1', 'n2'), hb('n1', 'n3')]);
    t2!.send([hb('n2', 'n3'), hb('n2', 'n1')]);
    await settle();
    expect(inbox.get('n3')).toEqual([[hb('n2', 'n3')]]);
    expect(inbox.get('n1')).toEqual([]);
    expect(inbox.get('n2')).toEqual([]);
    network.heal();
    t3!.send([hb('n3', 'n1'), hb('n3', 'n2')]);
    network.partition(['n1', 'n3'], ['n2']); // decided at delivery: n3 -> n2 is lost in flight
    await settle();
    expect(inbox.get('n1')).toEqual([[hb('n3', 'n1')]]);
    expect(inbox.get('n2')).toEqual([]);
    network.heal();
    t1!.send([hb('n1', 'n2')]);
    await settle();
    expect(inbox.get('n2')).toEqual([[hb('n1', 'n2')]]);
    expect(network.counters()).toEqual({ delivered: 3, dropped: 4 });
  });

  it('drops messages to unknown or closed nodes; a closed node id can attach again', async () => {
    network = new MemoryNetwork();
    const [t1, t2] = attach('n1', 'n2');
    t1!.send([hb('n1', 'n9')]);
    await t2!.close();
    t1!.send([hb('n1', 'n2')]);
    await settle();
    expect(network.counters()).toEqual({ delivered: 0, dropped: 2 });
    expect(() => network.transport('n1', () => undefined)).toThrow(/already attached/);
    attach('n2');
    t1!.send([hb('n1', 'n2')]);
    await settle();
    expect(inbox.get('n2')).toEqual([[hb('n1', 'n2')]]);
  });

  it('records the membership it was given', () => {
    network = new MemoryNetwork();
    const [t1] = attach('n1');
    const members = [{ id: 'n1', url: 'mem://n1', voter: true }];
    t1!.setMembers(members);
    expect(t1!.members()).toEqual(members);
  });
});
