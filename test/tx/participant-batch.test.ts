// The coordinator's batching of participant calls (src/tx/participant-batch.ts)
// against a node:http participant whose /batch behaviour each test sets.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getEventListeners } from 'node:events';
import { Agent } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  batchResults,
  ParticipantCaller,
  type BatchOptions,
  type CallAnswer,
  type CallName,
  type OneCall,
} from '../../src/tx/participant-batch.js';
import { createHttpParticipantClient } from '../../src/tx/participant-client.js';
import { waitUntil } from '../helpers/wait.js';
import { loopbackUrlPolicy } from './harness.js';

/** ok: answer every batch. 404/500: answer /batch with that status. short: a 200 with one result too few. drop: destroy the socket. hang: never answer. */
type BatchMode = 'ok' | '404' | '500' | 'short' | 'drop' | 'hang';

interface Seen {
  readonly path: string;
  readonly headerTerm: string | undefined;
  readonly body: unknown;
}

class BatchParticipant {
  readonly seen: Seen[] = [];
  batchMode: BatchMode = 'ok';
  /** Answer to one call: by default commit votes and acks naming the call. */
  static readonly defaultAnswer = (call: string, body: { txId: string }): { status: number; body: unknown } =>
    call === 'prepare'
      ? { status: 200, body: body.txId.startsWith('no') ? { vote: 'abort', reason: `no to ${body.txId}` } : { vote: 'commit' } }
      : { status: 200, body: { ok: true, state: call === 'commit' ? 'committed' : `${call}ed` } };
  answer = BatchParticipant.defaultAnswer;
  /** txId of the first call of every hanging batch whose request the coordinator closed. */
  readonly closedBatches: string[] = [];
  private readonly hanging = new Set<ServerResponse>();
  private server: Server | null = null;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/p`;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }

  paths(): string[] {
    return this.seen.map((s) => s.path);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      const headerTerm = req.headers['x-ratify-term'];
      this.seen.push({ path, headerTerm: Array.isArray(headerTerm) ? headerTerm[0] : headerTerm, body });
      if (path === '/p/batch') return this.batch(body, res);
      const call = path.slice('/p/'.length);
      const a = this.answer(call, body as { txId: string });
      reply(res, a.status, a.body);
    });
  }

  private batch(body: Record<string, unknown>, res: ServerResponse): void {
    const calls = body.calls as Array<{ call: string; body: { txId: string } }>;
    switch (this.batchMode) {
      case 'ok':
        return reply(res, 200, { results: calls.map((c) => this.answer(c.call, c.body)) });
      case '404':
        return reply(res, 404, { error: { code: 'ROUTE_NOT_FOUND', message: 'no route' } });
      case '500':
        return reply(res, 500, { error: { code: 'INTERNAL', message: 'boom' } });
      case 'short':
        return reply(res, 200, { results: calls.slice(1).map((c) => this.answer(c.call, c.body)) });
      case 'drop':
        res.socket?.destroy();
        return;
      case 'hang':
        this.hanging.add(res);
        res.on('close', () => {
          this.closedBatches.push(calls[0]?.body.txId ?? '');
          this.hanging.delete(res);
        });
        return;
    }
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

describe('participant call batching', () => {
  const p = new BatchParticipant();
  const agent = new Agent({ connections: 8 });
  let nowMs = 1_000;
  const requests: Array<[string, number]> = [];
  const kinds: CallName[] = [];
  const options = (over: Partial<BatchOptions> = {}): BatchOptions => ({
    callsMax: 64,
    bytesMax: 256 * 1024,
    unsupportedForMs: 60_000,
    now: () => nowMs,
    onRequest: (shape, calls, name) => {
      requests.push([shape, calls]);
      kinds.push(name);
    },
    ...over,
  });
  /** The caller's answer to one call, as a promise (the client passes a sink object of its own). */
  const ask = (caller: ParticipantCaller, call: OneCall): Promise<CallAnswer> =>
    new Promise((resolve, reject) => caller.dispatch(call, { answered: resolve, failed: reject }));
  const one = (name: CallName, txId: string, over: Partial<OneCall> = {}): OneCall => ({
    name,
    baseUrl: p.url,
    term: 5,
    json: JSON.stringify(
      name === 'prepare' ? { txId, participant: 'a', payload: null, protocol: '2pc', term: 5 } : { txId, participant: 'a', term: 5 },
    ),
    timeoutMs: 5_000,
    identity: null,
    signal: new AbortController().signal,
    ...over,
  });

  beforeAll(() => p.start());
  afterAll(async () => {
    await agent.close();
    await p.close();
  });
  afterEach(() => {
    p.seen.length = 0;
    p.batchMode = 'ok';
    p.answer = BatchParticipant.defaultAnswer;
    requests.length = 0;
    kinds.length = 0;
  });

  it('sends calls of one kind, term and URL issued in one turn as one batch, and gives each call its own answer', async () => {
    const caller = new ParticipantCaller(agent, options());
    const answers = await Promise.all([
      ask(caller, one('prepare', 'yes1')),
      ask(caller, one('prepare', 'no2')),
      ask(caller, one('prepare', 'yes3')),
    ]);
    expect(answers).toEqual([
      { status: 200, body: { vote: 'commit' } },
      { status: 200, body: { vote: 'abort', reason: 'no to no2' } },
      { status: 200, body: { vote: 'commit' } },
    ]);
    expect(p.paths()).toEqual(['/p/batch']);
    const [seen] = p.seen;
    expect(seen?.headerTerm).toBe('5');
    expect(seen?.body).toEqual({
      term: 5,
      calls: ['yes1', 'no2', 'yes3'].map((txId) => ({
        call: 'prepare',
        body: { txId, participant: 'a', payload: null, protocol: '2pc', term: 5 },
      })),
    });
    expect(requests).toEqual([['batch', 3]]);
  });

  it('sends a lone call singly, and never mixes kinds, terms or URLs in a batch', async () => {
    const caller = new ParticipantCaller(agent, options());
    expect(await ask(caller, one('commit', 'a1'))).toEqual({ status: 200, body: { ok: true, state: 'committed' } });
    expect(p.paths()).toEqual(['/p/commit']);
    p.seen.length = 0;
    await Promise.all([
      ask(caller, one('commit', 'b1')),
      ask(caller, one('abort', 'b2')),
      ask(caller, one('commit', 'b3', { term: 6, json: JSON.stringify({ txId: 'b3', participant: 'a', term: 6 }) })),
      ask(caller, one('commit', 'b4', { baseUrl: `${p.url}/` })),
    ]);
    expect(p.paths().sort()).toEqual(['/p/abort', '/p/commit', '/p/commit', '/p/commit']);
  });

  it('sends the calls a decision waits for (prepare, precommit) before phase 2 calls queued earlier in the turn', async () => {
    const caller = new ParticipantCaller(agent, options());
    await Promise.all([
      ask(caller, one('commit', 'f1')),
      ask(caller, one('commit', 'f2')),
      ask(caller, one('abort', 'f3')),
      ask(caller, one('prepare', 'f4')),
      ask(caller, one('precommit', 'f5')),
    ]);
    expect(kinds).toEqual(['prepare', 'precommit', 'commit', 'abort']);
    expect(requests).toEqual([
      ['single', 1],
      ['single', 1],
      ['batch', 2],
      ['single', 1],
    ]);
  });

  it('splits at callsMax and at bytesMax', async () => {
    const caller = new ParticipantCaller(agent, options({ callsMax: 2 }));
    await Promise.all(['c1', 'c2', 'c3', 'c4', 'c5'].map((id) => ask(caller, one('commit', id))));
    expect(requests).toEqual([
      ['batch', 2],
      ['batch', 2],
      ['single', 1],
    ]);
    requests.length = 0;
    const small = new ParticipantCaller(agent, options({ bytesMax: 100 }));
    // Each body is ~45 bytes: two fit in 100, a third does not.
    await Promise.all(['d1', 'd2', 'd3'].map((id) => ask(small, one('commit', id))));
    expect(requests).toEqual([
      ['batch', 2],
      ['single', 1],
    ]);
  });

  it('never batches with callsMax 1', async () => {
    const caller = new ParticipantCaller(agent, options({ callsMax: 1 }));
    await Promise.all(['e1', 'e2'].map((id) => ask(caller, one('commit', id))));
    expect(p.paths()).toEqual(['/p/commit', '/p/commit']);
  });

  it('after a 404 sends the calls singly, and keeps to single calls for unsupportedForMs', async () => {
    const caller = new ParticipantCaller(agent, options());
    p.batchMode = '404';
    const first = await Promise.all([ask(caller, one('prepare', 'f1')), ask(caller, one('prepare', 'no-f2'))]);
    expect(first.map((a) => a.body)).toEqual([{ vote: 'commit' }, { vote: 'abort', reason: 'no to no-f2' }]);
    expect(p.paths()).toEqual(['/p/batch', '/p/prepare', '/p/prepare']);
    p.seen.length = 0;
    p.batchMode = 'ok';
    await Promise.all([ask(caller, one('commit', 'f1')), ask(caller, one('commit', 'f2'))]);
    expect(p.paths()).toEqual(['/p/commit', '/p/commit']);
    p.seen.length = 0;
    nowMs += 60_000;
    await Promise.all([ask(caller, one('commit', 'f1')), ask(caller, one('commit', 'f2'))]);
    expect(p.paths()).toEqual(['/p/batch']);
  });

  it('after a 500 or a malformed 200 sends the calls singly, and tries a batch again next time', async () => {
    const caller = new ParticipantCaller(agent, options());
    for (const mode of ['500', 'short'] as const) {
      p.batchMode = mode;
      const answers = await Promise.all([ask(caller, one('commit', 'g1')), ask(caller, one('commit', 'g2'))]);
      expect(answers).toEqual([
        { status: 200, body: { ok: true, state: 'committed' } },
        { status: 200, body: { ok: true, state: 'committed' } },
      ]);
      expect(p.paths()).toEqual(['/p/batch', '/p/commit', '/p/commit']);
      p.seen.length = 0;
    }
  });

  it('fails every call of a batch whose connection drops, without resending them', async () => {
    const caller = new ParticipantCaller(agent, options());
    p.batchMode = 'drop';
    const settled = await Promise.allSettled([ask(caller, one('commit', 'h1')), ask(caller, one('commit', 'h2'))]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(p.paths()).toEqual(['/p/batch']);
  });

  it('times a batch out at the smallest timeout of its calls', async () => {
    const caller = new ParticipantCaller(agent, options());
    p.batchMode = 'hang';
    const settled = await Promise.allSettled([
      ask(caller, one('commit', 'i1', { timeoutMs: 100 })),
      ask(caller, one('commit', 'i2', { timeoutMs: 60_000 })),
    ]);
    for (const s of settled) expect(s).toMatchObject({ status: 'rejected', reason: { name: 'TimeoutError' } });
  });

  it('cancels one call of a batch at once, and the batch request only when every call is cancelled', async () => {
    const caller = new ParticipantCaller(agent, options());
    p.batchMode = 'hang';
    const term = new AbortController();
    const own = new AbortController();
    const calls = [
      ask(caller, one('commit', 'j1', { signal: own.signal })),
      ask(caller, one('commit', 'j2', { signal: term.signal })),
      ask(caller, one('commit', 'j3', { signal: term.signal })),
    ];
    await waitUntil(() => p.seen.length === 1);
    // Two calls share the term's signal: still one listener on it.
    expect(getEventListeners(term.signal, 'abort')).toHaveLength(1);
    own.abort();
    await expect(calls[0]).rejects.toMatchObject({ name: 'AbortError' });
    // The other two still wait on the same request.
    const later = await Promise.race([
      calls[1]!.then(
        () => 'settled',
        () => 'settled',
      ),
      new Promise((r) => setTimeout(() => r('pending'), 100)),
    ]);
    expect(later).toBe('pending');
    expect(p.closedBatches).not.toContain('j1');
    term.abort();
    await expect(calls[1]).rejects.toMatchObject({ name: 'AbortError' });
    await expect(calls[2]).rejects.toMatchObject({ name: 'AbortError' });
    await waitUntil(() => p.closedBatches.includes('j1'), { what: 'the batch request to be aborted' });
    // Already-cancelled calls never leave.
    const gone = new AbortController();
    gone.abort();
    p.seen.length = 0;
    const settled = await Promise.allSettled([
      ask(caller, one('commit', 'k1', { signal: gone.signal })),
      ask(caller, one('commit', 'k2', { signal: gone.signal })),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(p.seen).toEqual([]);
  });

  it('reads votes, acknowledged states and refusal codes from batch answers through the participant client', async () => {
    const client = createHttpParticipantClient({ connectionsPerOrigin: 4, batchCallsMax: 64, urlPolicy: loopbackUrlPolicy() });
    try {
      const signal = new AbortController().signal;
      const req = (txId: string) => ({ url: p.url, txId, participant: 'a', payload: { n: 1 }, protocol: '2pc' as const, term: 9 });
      const votes = await Promise.all([
        client.prepare(req('m1'), { timeoutMs: 5_000, signal }),
        client.prepare(req('no-m2'), { timeoutMs: 5_000, signal }),
      ]);
      expect(votes).toEqual([
        { kind: 'vote', vote: 'commit' },
        { kind: 'vote', vote: 'abort', reason: 'no to no-m2' },
      ]);
      p.answer = (_call, body) =>
        body.txId === 'm1'
          ? { status: 200, body: { ok: true, state: 'committed' } }
          : { status: 409, body: { error: { code: 'TX_ALREADY_ABORTED', message: 'aborted' } } };
      const acks = await Promise.all(
        ['m1', 'm2'].map((txId) =>
          client.deliver('precommit', { url: p.url, txId, participant: 'a', term: 9 }, { timeoutMs: 5_000, signal }),
        ),
      );
      expect(acks).toEqual([
        { kind: 'ack', state: 'committed' },
        { kind: 'failure', error: 'precommit answered HTTP 409 TX_ALREADY_ABORTED: aborted', code: 'TX_ALREADY_ABORTED' },
      ]);
      expect(p.paths()).toEqual(['/p/batch', '/p/batch']);
    } finally {
      await client.close();
    }
  });
});

describe('batch answer parsing', () => {
  it('accepts only one {status, body} per call', () => {
    expect(batchResults('{"results":[{"status":200,"body":{"vote":"commit"}},{"status":409}]}', 2)).toEqual([
      { status: 200, body: { vote: 'commit' } },
      { status: 409, body: undefined },
    ]);
    expect(batchResults('{"results":[{"status":200}]}', 2)).toBeNull();
    expect(batchResults('{"results":[{"status":"200"},{"status":200}]}', 2)).toBeNull();
    expect(batchResults('{"results":[{"status":99},{"status":200}]}', 2)).toBeNull();
    expect(batchResults('[1,2]', 2)).toBeNull();
    expect(batchResults('not json', 2)).toBeNull();
  });
});
