import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallObserver } from '../../src/tx/instrumented-client.js';
import { createHttpParticipantClient, parseVote } from '../../src/tx/participant-client.js';
import { NO_ANSWER } from '../../src/tx/participant-error.js';
import { Cancel } from '../../src/util/abort-registry.js';
import { FakeParticipant } from './fake-participant.js';
import { loopbackUrlPolicy } from './harness.js';

// FakeParticipant has no /batch: these also cover the fallback to single calls.
describe('HTTP participant client', () => {
  const client = createHttpParticipantClient({ connectionsPerOrigin: 4, batchCallsMax: 64, urlPolicy: loopbackUrlPolicy() });
  let p: FakeParticipant;
  const call = (timeoutMs = 2_000) => ({ timeoutMs, signal: new AbortController().signal });
  const prepareReq = (url: string) => ({ url, txId: 't1', participant: 'a', payload: { x: 1 }, protocol: '2pc' as const, term: 7 });

  beforeAll(async () => {
    p = await FakeParticipant.start();
  });
  afterAll(async () => {
    await client.close();
    await p.close();
  });

  it('sends the protocol body and the term header, and reads votes', async () => {
    expect(await client.prepare(prepareReq(p.url), call())).toEqual({ kind: 'vote', vote: 'commit' });
    const [recorded] = p.callsOf('prepare');
    expect(recorded?.headerTerm).toBe(7);
    expect(recorded?.body).toEqual({ txId: 't1', participant: 'a', payload: { x: 1 }, protocol: '2pc', term: 7 });
    p.vote = { vote: 'abort', reason: 'insufficient funds' };
    expect(await client.prepare(prepareReq(`${p.url}/`), call())).toEqual({ kind: 'vote', vote: 'abort', reason: 'insufficient funds' });
    p.vote = { vote: 'commit' };
  });

  it('delivers phase 2 calls with term in body and header', async () => {
    for (const kind of ['precommit', 'commit', 'abort'] as const) {
      expect(await client.deliver(kind, { url: p.url, txId: 't2', participant: 'b', term: 3 }, call())).toEqual({
        kind: 'ack',
        state: null,
      });
      const last = p.callsOf(kind, 't2').at(-1);
      expect(last?.body).toEqual({ txId: 't2', participant: 'b', term: 3 });
      expect(last?.headerTerm).toBe(3);
    }
  });

  it('counts non-2xx, dropped connections, timeouts and refused connections as failures', async () => {
    p.setMode('error');
    expect(await client.prepare(prepareReq(p.url), call())).toMatchObject({ kind: 'failure', error: 'prepare answered HTTP 500' });
    expect(await client.deliver('commit', { url: p.url, txId: 't', participant: 'a', term: 1 }, call())).toMatchObject({ kind: 'failure' });
    p.setMode('down');
    expect(await client.prepare(prepareReq(p.url), call())).toMatchObject({ kind: 'failure' });
    p.setMode('hang');
    expect(await client.deliver('abort', { url: p.url, txId: 't', participant: 'a', term: 1 }, call(100))).toEqual({
      kind: 'failure',
      error: `abort failed: ${NO_ANSWER}`,
      code: null,
    });
    p.setMode('ok');
    const dead = await FakeParticipant.start();
    const deadUrl = dead.url;
    await dead.close();
    // The view says what kind of thing failed, not the network's detail (no port scanning through lastError).
    const refused = await client.prepare(prepareReq(deadUrl), call());
    expect(refused).toEqual({ kind: 'failure', error: `prepare failed: ${NO_ANSWER}` });
    expect(JSON.stringify(refused)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|:\d{2,5}/);
  });

  it("reads a refusal's error code and the participant state an acknowledgement names", async () => {
    const req = { url: p.url, txId: 't3', participant: 'a', term: 1 };
    p.setMode('already-aborted', ['precommit']);
    expect(await client.deliver('precommit', req, call())).toEqual({
      kind: 'failure',
      error: 'precommit answered HTTP 409 TX_ALREADY_ABORTED: precommit after aborting on its own',
      code: 'TX_ALREADY_ABORTED',
    });
    p.setMode('error', ['commit']);
    expect(await client.deliver('commit', req, call())).toEqual({ kind: 'failure', error: 'commit answered HTTP 500', code: null });
    p.setMode('ok');
    p.ackBodies.precommit = { ok: true, state: 'committed' };
    expect(await client.deliver('precommit', req, call())).toEqual({ kind: 'ack', state: 'committed' });
    p.ackBodies.precommit = { ok: true, state: 42 };
    expect(await client.deliver('precommit', req, call())).toEqual({ kind: 'ack', state: null });
    p.ackBodies.precommit = { ok: true };
  });

  it('ends a call at once when its signal aborts', async () => {
    p.setMode('hang');
    const controller = new AbortController();
    const pending = client.prepare(prepareReq(p.url), { timeoutMs: 60_000, signal: controller.signal });
    await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    expect(await pending).toEqual({ kind: 'failure', error: 'prepare failed: cancelled' });
    p.setMode('ok');
  });

  it("ends a call at once when its phase's Cancel aborts", async () => {
    p.setMode('hang');
    const phase = new Cancel();
    const pending = client.prepare(prepareReq(p.url), { timeoutMs: 60_000, signal: phase });
    await new Promise((r) => setTimeout(r, 50));
    phase.abort();
    expect(await pending).toEqual({ kind: 'failure', error: 'prepare failed: cancelled' });
    expect(phase.waiting).toBe(0);
    p.setMode('ok');
  });

  it('answers a call that cannot even be sent (a payload JSON cannot hold) with a failure, not a rejection', async () => {
    const req = { ...prepareReq(p.url), payload: { amount: 10n } };
    await expect(client.prepare(req, call())).resolves.toMatchObject({ kind: 'failure', error: expect.stringMatching(/^prepare failed/) });
  });

  it('fails an answer larger than 64 KiB', async () => {
    p.ackBodies.commit = { ok: true, filler: 'x'.repeat(70 * 1024) };
    const res = await client.deliver('commit', { url: p.url, txId: 't4', participant: 'a', term: 1 }, call());
    expect(res).toMatchObject({ kind: 'failure', error: expect.stringMatching(/answer larger than 65536 bytes/) });
    p.ackBodies.commit = { ok: true };
    // The connection pool is still good afterwards.
    expect(await client.deliver('commit', { url: p.url, txId: 't4', participant: 'a', term: 1 }, call())).toEqual({
      kind: 'ack',
      state: null,
    });
  });

  it('ends every call under a term at once with one listener on its signal, and refuses calls after it ended', async () => {
    p.setMode('hang');
    const term = new AbortController();
    const pending = Array.from({ length: 20 }, (_, i) =>
      client.deliver('commit', { url: p.url, txId: `h${i}`, participant: 'a', term: 2 }, { timeoutMs: 60_000, signal: term.signal }),
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(getEventListeners(term.signal, 'abort')).toHaveLength(1);
    term.abort();
    for (const r of await Promise.all(pending)) expect(r).toEqual({ kind: 'failure', error: 'commit failed: cancelled', code: null });
    p.setMode('ok');
    expect(await client.prepare(prepareReq(p.url), { timeoutMs: 1000, signal: term.signal })).toEqual({
      kind: 'failure',
      error: 'prepare failed: cancelled',
    });
  });

  it('tells its observer of every call as it goes out and as it ends, whatever the ending', async () => {
    const seen: string[] = [];
    const observer: CallObserver = {
      started: (kind, req) => seen.push(`start ${kind} ${req.txId} ${req.participant} ${req.term}`),
      ended: (kind, req, seconds, cancelled) => {
        expect(seconds).toBeGreaterThanOrEqual(0);
        seen.push(`end ${kind} ${req.txId}${cancelled ? ' cancelled' : ''}`);
      },
    };
    const observed = createHttpParticipantClient({ connectionsPerOrigin: 2, batchCallsMax: 64, urlPolicy: loopbackUrlPolicy(), observer });
    try {
      expect(await observed.prepare({ ...prepareReq(p.url), txId: 'o1' }, call())).toEqual({ kind: 'vote', vote: 'commit' });
      expect(await observed.deliver('commit', { url: p.url, txId: 'o2', participant: 'b', term: 4 }, call())).toMatchObject({
        kind: 'ack',
      });
      // Refused by the URL policy, never sent; a payload JSON cannot hold; a call its phase cancels.
      expect(await observed.prepare({ ...prepareReq('http://user:pw@127.0.0.1:9/p'), txId: 'o3' }, call())).toMatchObject({
        kind: 'failure',
        error: expect.stringMatching(/refused by the participant URL policy/),
      });
      expect(await observed.prepare({ ...prepareReq(p.url), txId: 'o4', payload: 1n }, call())).toMatchObject({ kind: 'failure' });
      p.setMode('hang');
      const phase = new Cancel();
      const pending = observed.deliver(
        'abort',
        { url: p.url, txId: 'o5', participant: 'a', term: 4 },
        { timeoutMs: 60_000, signal: phase },
      );
      await new Promise((r) => setTimeout(r, 20));
      phase.abort();
      expect(await pending).toMatchObject({ kind: 'failure', error: 'abort failed: cancelled' });
    } finally {
      p.setMode('ok');
      await observed.close();
    }
    expect(seen).toEqual([
      'start prepare o1 a 7',
      'end prepare o1',
      'start commit o2 b 4',
      'end commit o2',
      'start prepare o3 a 7',
      'end prepare o3',
      'start prepare o4 a 7',
      'end prepare o4',
      'start abort o5 a 4',
      'end abort o5 cancelled',
    ]);
  });

  it('treats a malformed prepare answer as a failure', () => {
    expect(parseVote('not json')).toMatchObject({ kind: 'failure' });
    expect(parseVote('{"vote":"maybe"}')).toMatchObject({ kind: 'failure' });
    expect(parseVote('null')).toMatchObject({ kind: 'failure' });
    expect(parseVote('{"vote":"abort"}')).toEqual({ kind: 'vote', vote: 'abort', reason: null });
  });
});
