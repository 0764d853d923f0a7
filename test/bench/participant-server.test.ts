import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { ParticipantFleet } from '../../scripts/bench/participant-server.js';

let fleet: ParticipantFleet | null = null;
afterEach(async () => {
  await fleet?.close();
  fleet = null;
});

async function post(url: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const res = await request(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: res.statusCode, body: await res.body.json() };
}

describe('ParticipantFleet', () => {
  it('votes commit and reports a transaction once every participant acknowledged it', async () => {
    fleet = new ParticipantFleet(2);
    const [p1, p2] = await fleet.listen();
    if (p1 === undefined || p2 === undefined) throw new Error('two urls expected');
    expect(await post(`${p1}/prepare`, { txId: 't1', participant: 'p1', payload: null, protocol: '2pc', term: 1 })).toEqual({
      status: 200,
      body: { vote: 'commit' },
    });
    expect((await post(`${p1}/commit`, { txId: 't1', participant: 'p1', term: 1 })).status).toBe(200);
    let drain = fleet.drain();
    expect(drain.complete).toEqual([]);
    expect(drain.partial).toBe(1);

    // A retried commit from the same participant does not complete the transaction.
    await post(`${p1}/commit`, { txId: 't1', participant: 'p1', term: 2 });
    expect(fleet.drain().complete).toEqual([]);

    await post(`${p2}/commit`, { txId: 't1', participant: 'p2', term: 1 });
    drain = fleet.drain();
    expect(drain.complete.map(([id]) => id)).toEqual(['t1']);
    expect(BigInt(drain.complete[0]?.[1] ?? '0')).toBeGreaterThan(0n);
    expect(drain.partial).toBe(0);
    expect(drain.prepares).toBe(1);
    // Drained entries are handed over once.
    expect(fleet.drain().complete).toEqual([]);
  });

  it('acknowledges aborts and precommits, and rejects unknown paths and methods', async () => {
    fleet = new ParticipantFleet(1);
    const [p1] = await fleet.listen();
    expect((await post(`${p1}/abort`, { txId: 'x', participant: 'p1', term: 1 })).status).toBe(200);
    expect((await post(`${p1}/precommit`, { txId: 'x', participant: 'p1', term: 1 })).status).toBe(200);
    expect((await post(`${p1}/other`, {})).status).toBe(404);
    const get = await request(`${p1}/prepare`);
    await get.body.dump();
    expect(get.statusCode).toBe(405);
    expect(fleet.drain().aborts).toBe(1);
  });

  it('answers a batch call by call, in order, counting and recording each as a single call', async () => {
    fleet = new ParticipantFleet(2);
    const [p1, p2] = await fleet.listen();
    if (p1 === undefined || p2 === undefined) throw new Error('two urls expected');
    const calls = [
      { call: 'prepare', body: { txId: 'b1', participant: 'p1', payload: null, protocol: '2pc', term: 1 } },
      { call: 'commit', body: { txId: 'b1', participant: 'p1', term: 1 } },
      { call: 'abort', body: { txId: 'b2', participant: 'p1', term: 1 } },
      { call: 'nonsense', body: {} },
    ];
    expect(await post(`${p1}/batch`, { term: 1, calls })).toEqual({
      status: 200,
      body: {
        results: [
          { status: 200, body: { vote: 'commit' } },
          { status: 200, body: {} },
          { status: 200, body: {} },
          { status: 400, body: { error: 'unknown call' } },
        ],
      },
    });
    expect(
      (await post(`${p2}/batch`, { term: 1, calls: [{ call: 'commit', body: { txId: 'b1', participant: 'p2', term: 1 } }] })).status,
    ).toBe(200);
    const drain = fleet.drain();
    expect(drain.complete.map(([id]) => id)).toEqual(['b1']);
    expect(drain.prepares).toBe(1);
    expect(drain.aborts).toBe(1);
    expect((await post(`${p1}/batch`, { term: 1, calls: [] })).status).toBe(400);
  });

  it('validates its participant count', () => {
    expect(() => new ParticipantFleet(0)).toThrow('participant count (0) must be between 1 and 30');
  });
});
