import { describe, expect, it } from 'vitest';
import { RatifyError } from '../../src/errors.js';
import { decodeCommand, encodeCommand, type CompletedCommand, type TxCommand } from '../../src/tx/commands.js';
import { CompletionQueue, type CompletionQueueOptions } from '../../src/tx/completion-queue.js';
import { txConfigDefaults } from '../../src/tx/config.js';
import { createTxStateMachine } from '../../src/tx/state-machine.js';
import type { TxStateMachine } from '../../src/tx/types.js';
import { FakeCluster } from './fake-log.js';

const NEVER = 600_000;

function setup(opts: Partial<CompletionQueueOptions> = {}): { cluster: FakeCluster; sm: TxStateMachine; queue: CompletionQueue } {
  const cluster = new FakeCluster();
  const sm = createTxStateMachine(txConfigDefaults);
  const log = cluster.addNode('n1', sm);
  cluster.elect('n1');
  const queue = new CompletionQueue(log, { delayMs: NEVER, itemsMax: 256, bytesMax: 64 * 1024, proposeTimeoutMs: 5_000, ...opts });
  return { cluster, sm, queue };
}

/** Decided (commit, both voted), not completed. */
async function decidedTx(cluster: FakeCluster, txId: string): Promise<void> {
  const votes = ['a', 'b'].map((participant) => ({ participant, vote: 'commit' as const, reason: null, error: null }));
  const commands: TxCommand[] = [
    {
      type: 'created',
      txId,
      participants: [
        { name: 'a', url: 'http://127.0.0.1:1', payload: null },
        { name: 'b', url: 'http://127.0.0.1:2', payload: null },
      ],
      protocol: '2pc',
      createdAt: 1,
      deadlineAt: 10_000,
      idempotencyKey: null,
      requestHash: null,
      commitRequested: true,
      activeMax: 100,
    },
    { type: 'decided', txId, decision: 'commit', votes, decidedAt: 2, reason: 'test' },
  ];
  for (const cmd of commands) await cluster.node('n1').propose(encodeCommand(cmd));
}

const completion = (txId: string): CompletedCommand => ({ type: 'completed', txId, completedAt: 3, acknowledged: ['a', 'b'] });
const entryTypes = (cluster: FakeCluster): string[] => cluster.entries.map((e) => decodeCommand(e.data)?.type ?? '?');

describe('completion queue', () => {
  it('holds completions until flush(), then proposes them as one entry and answers each with its own result', async () => {
    const { cluster, sm, queue } = setup();
    await decidedTx(cluster, 't1');
    await decidedTx(cluster, 't2');
    const a = queue.complete(completion('t1'));
    const b = queue.complete(completion('t2'));
    const missing = queue.complete(completion('nope'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(queue.size).toBe(3);
    expect(entryTypes(cluster)).toEqual(['created', 'decided', 'created', 'decided']);
    queue.flush();
    expect(queue.size).toBe(0);
    const results = await Promise.all([a, b, missing]);
    expect(results.map((r) => (r.ok ? r.tx?.state : r.code))).toEqual(['committed', 'committed', 'TX_NOT_FOUND']);
    expect(entryTypes(cluster).slice(4)).toEqual(['completedBatch']);
    expect(sm.finishingCount()).toBe(0);
  });

  it('one completion goes as a plain completed entry (what every node version applies)', async () => {
    const { cluster, queue } = setup();
    await decidedTx(cluster, 't1');
    const done = queue.complete(completion('t1'));
    queue.flush();
    expect((await done).ok).toBe(true);
    expect(entryTypes(cluster).slice(2)).toEqual(['completed']);
  });

  it('bounds the wait: the timer (delayMs), itemsMax and bytesMax each propose the queue without a flush()', async () => {
    const timed = setup({ delayMs: 20 });
    await decidedTx(timed.cluster, 't1');
    expect((await timed.queue.complete(completion('t1'))).ok).toBe(true);

    const counted = setup({ itemsMax: 2 });
    await decidedTx(counted.cluster, 't1');
    await decidedTx(counted.cluster, 't2');
    const results = await Promise.all([counted.queue.complete(completion('t1')), counted.queue.complete(completion('t2'))]);
    expect(results.every((r) => r.ok)).toBe(true);

    const sized = setup({ bytesMax: 1 });
    await decidedTx(sized.cluster, 't1');
    expect((await sized.queue.complete(completion('t1'))).ok).toBe(true);
  });

  it('a failed proposal fails every completion it carried; close() fails the queued ones and proposes nothing', async () => {
    const { cluster, queue } = setup();
    await decidedTx(cluster, 't1');
    await decidedTx(cluster, 't2');
    cluster.interceptor = () => {
      throw new RatifyError('NOT_LEADER', 'gone');
    };
    const a = queue.complete(completion('t1'));
    const b = queue.complete(completion('t2'));
    queue.flush();
    await expect(a).rejects.toThrow('gone');
    await expect(b).rejects.toThrow('gone');
    cluster.interceptor = null;

    const held = queue.complete(completion('t1'));
    queue.close();
    await expect(held).rejects.toMatchObject({ code: 'LEADERSHIP_LOST' });
    await expect(queue.complete(completion('t2'))).rejects.toMatchObject({ code: 'LEADERSHIP_LOST' });
    expect(entryTypes(cluster)).toEqual(['created', 'decided', 'created', 'decided']);
  });

  it('refuses an itemsMax an entry could not carry', () => {
    expect(() => setup({ itemsMax: 0 })).toThrow(RangeError);
    expect(() => setup({ itemsMax: 100_000 })).toThrow(RangeError);
  });
});
