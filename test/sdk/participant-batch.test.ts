// Batch calls (POST {prefix}/batch, README "Participant protocol"): each item is
// answered exactly as its single call would be, in call order, and the envelope
// is checked the same way by every transport: the core's handleBatch(), the
// fastify plugin (inject, no socket) and the node:http handler (loopback).
import { createServer } from 'node:http';
import Fastify from 'fastify';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BATCH_CALLS_MAX,
  createNodeHandler,
  createParticipant,
  MemoryParticipantStore,
  ratifyParticipant,
  type CallPath,
  type Participant,
  type ParticipantTxRecord,
} from '../../src/sdk/participant/index.js';
import { recordKey } from '../../src/sdk/participant/record.js';
import { callBody, eventually, ManualClock, prepareBody, quiet, recordingHandlers, type RecordingHandlers } from './helpers.js';

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

/** One participant behind one transport. `headerTerm` null sends no X-Ratify-Term header. */
interface Rig {
  readonly p: Participant;
  readonly store: MemoryParticipantStore;
  readonly h: RecordingHandlers;
  single(path: CallPath, body: unknown, headerTerm: number | null): Promise<Answer>;
  batch(body: unknown, headerTerm: number | null): Promise<Answer>;
}

interface RigOptions {
  readonly bodyLimit?: number;
}

type RigFactory = (o?: RigOptions) => Promise<Rig>;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Prepare votes abort for txIds starting "no-"; commit throws for txIds starting "boom". */
function scriptedHandlers(): RecordingHandlers {
  const h = recordingHandlers();
  const { prepare, commit } = h;
  h.prepare = async (tx) => {
    const vote = await prepare(tx);
    return tx.txId.startsWith('no-') ? { vote: 'abort', reason: 'declined: "quoted" ✓' } : vote;
  };
  h.commit = async (tx) => {
    await commit(tx);
    if (tx.txId.startsWith('boom')) throw new Error('disk full');
  };
  return h;
}

function newParticipant(): Pick<Rig, 'p' | 'store' | 'h'> {
  const store = new MemoryParticipantStore();
  const h = scriptedHandlers();
  // A fixed clock makes records from two participants comparable field by field.
  const p = createParticipant({ name: 'batch', store, handlers: h, logger: quiet, now: new ManualClock().now });
  cleanups.push(() => p.close());
  return { p, store, h };
}

function headers(headerTerm: number | null): Record<string, string> {
  return headerTerm === null ? {} : { 'x-ratify-term': String(headerTerm) };
}

const coreRig: RigFactory = async () => {
  const base = newParticipant();
  return {
    ...base,
    single: (path, body, term) => base.p.handle(path, body, headers(term)),
    batch: (body, term) => base.p.handleBatch(body, headers(term)),
  };
};

const fastifyRig: RigFactory = async (o = {}) => {
  const base = newParticipant();
  const app = Fastify({ logger: false });
  await app.register(ratifyParticipant, {
    prefix: '/ratify',
    participant: base.p,
    ...(o.bodyLimit === undefined ? {} : { bodyLimit: o.bodyLimit }),
  });
  cleanups.push(() => app.close());
  const post = async (path: string, body: unknown, term: number | null): Promise<Answer> => {
    const res = await app.inject({
      method: 'POST',
      url: `/ratify/${path}`,
      payload: JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...headers(term) },
    });
    return { status: res.statusCode, body: res.json() };
  };
  return { ...base, single: post, batch: (body, term) => post('batch', body, term) };
};

const nodeRig: RigFactory = async (o = {}) => {
  const base = newParticipant();
  const server = createServer(
    createNodeHandler(base.p, { prefix: '/tx', ...(o.bodyLimit === undefined ? {} : { bodyLimit: o.bodyLimit }) }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const post = async (path: string, body: unknown, term: number | null): Promise<Answer> => {
    const res = await request(`${origin}/tx/${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...headers(term) },
    });
    return { status: res.statusCode, body: await res.body.json() };
  };
  return { ...base, single: post, batch: (body, term) => post('batch', body, term) };
};

const rigs: [string, RigFactory][] = [
  ['core', coreRig],
  ['fastify', fastifyRig],
  ['node:http', nodeRig],
];

interface Item {
  readonly call: unknown;
  readonly body: unknown;
}

const item = (call: unknown, body: unknown): Item => ({ call, body });

function envelope(term: unknown, calls: readonly unknown[]): { term: unknown; calls: readonly unknown[] } {
  return { term, calls };
}

function results(a: Answer): Answer[] {
  expect(a.status, JSON.stringify(a.body)).toBe(200);
  return (a.body as { results: Answer[] }).results;
}

const validationFailed = { status: 400, body: { error: { code: 'VALIDATION_FAILED', message: expect.any(String) } } };

describe.each(rigs)('batch calls (%s)', (_name, makeRig) => {
  it('answers mixed items in call order, each with its own status', async () => {
    const rig = await makeRig();
    expect((await rig.single('prepare', prepareBody('stale', 3), 3)).status).toBe(200);
    // No header here: the items carry terms 3 and 2, and a header would make the term-2 item a 400.
    const answer = await rig.batch(
      envelope(3, [
        item('prepare', prepareBody('yes', 3)),
        item('prepare', prepareBody('no-1', 3)),
        item('commit', callBody('stale', 2)),
        item('prepare', { participant: 'p1', term: 3, protocol: '2pc' }),
        item('rollback', callBody('yes', 3)),
        item('commit', 'not an object'),
        { body: callBody('yes', 3) },
        42,
        item('abort', callBody('never-prepared', 3)),
      ]),
      null,
    );
    expect(results(answer)).toEqual([
      { status: 200, body: { vote: 'commit' } },
      { status: 200, body: { vote: 'abort', reason: 'declined: "quoted" ✓' } },
      { status: 409, body: { error: { code: 'STALE_TERM', message: expect.any(String), highestTerm: 3 } } },
      validationFailed,
      validationFailed,
      validationFailed,
      validationFailed,
      validationFailed,
      { status: 200, body: { ok: true, state: 'aborted' } },
    ]);
    expect(rig.h.calls.map((c) => `${c.handler}:${c.tx.txId}`).sort()).toEqual(['prepare:no-1', 'prepare:stale', 'prepare:yes']);
  });

  it('runs each item with the batch headers: an item whose term differs from the header is a 400', async () => {
    const rig = await makeRig();
    const answer = await rig.batch(envelope(4, [item('prepare', prepareBody('a', 4)), item('prepare', prepareBody('b', 5))]), 4);
    expect(results(answer)).toEqual([{ status: 200, body: { vote: 'commit' } }, validationFailed]);
    expect(rig.p.highestTerm()).toBe(4);
  });

  it('serializes the same item twice through the lock and answers both alike', async () => {
    const rig = await makeRig();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    rig.h.vote = async () => {
      await gate;
      return { vote: 'commit' };
    };
    const pending = rig.batch(envelope(1, [item('prepare', prepareBody('t', 1)), item('prepare', prepareBody('t', 1))]), 1);
    await eventually(() => rig.h.count('prepare') === 1, 'the first prepare entered the handler');
    release();
    expect(results(await pending)).toEqual([
      { status: 200, body: { vote: 'commit' } },
      { status: 200, body: { vote: 'commit' } },
    ]);
    const commits = await rig.batch(envelope(1, [item('commit', callBody('t', 1)), item('commit', callBody('t', 1))]), 1);
    expect(results(commits)).toEqual([
      { status: 200, body: { ok: true, state: 'committed' } },
      { status: 200, body: { ok: true, state: 'committed' } },
    ]);
    expect(rig.h.count('prepare')).toBe(1);
    expect(rig.h.count('commit')).toBe(1);
  });

  it('runs items about one record in call order', async () => {
    const rig = await makeRig();
    const answer = await rig.batch(
      envelope(1, [
        item('abort', callBody('late', 1)),
        item('prepare', prepareBody('late', 1)),
        item('prepare', prepareBody('ok', 1)),
        item('commit', callBody('ok', 1)),
      ]),
      1,
    );
    expect(results(answer)).toEqual([
      { status: 200, body: { ok: true, state: 'aborted' } },
      { status: 200, body: { vote: 'abort', reason: expect.any(String) } },
      { status: 200, body: { vote: 'commit' } },
      { status: 200, body: { ok: true, state: 'committed' } },
    ]);
  });

  it('refuses a malformed envelope with 400 VALIDATION_FAILED and runs none of it', async () => {
    const rig = await makeRig();
    const one = [item('prepare', prepareBody('t', 1))];
    const tooMany = Array.from({ length: BATCH_CALLS_MAX + 1 }, (_, i) => item('prepare', prepareBody(`t${i}`, 1)));
    const cases: [string, unknown, number | null][] = [
      ['an array', one, null],
      ['a string', 'calls', null],
      ['no calls', { term: 1 }, 1],
      ['calls not an array', { term: 1, calls: { 0: one[0] } }, 1],
      ['empty', envelope(1, []), 1],
      ['too many calls', envelope(1, tooMany), 1],
      ['no term', { calls: one }, null],
      ['a negative term', envelope(-1, one), null],
      ['a term as a string', envelope('1', one), null],
      ['a fractional term', envelope(1.5, one), null],
      ['header term != body term', envelope(1, one), 2],
    ];
    for (const [what, body, term] of cases) {
      const answer = await rig.batch(body, term);
      expect(answer, what).toEqual(validationFailed);
    }
    expect(rig.h.calls).toEqual([]);
    expect(rig.p.highestTerm()).toBe(0);
    await rig.p.close();
    expect(await rig.store.open()).toEqual({ highestTerm: 0, fences: [], inDoubt: [] });
    expect(await rig.store.get(recordKey('t', 'p1'))).toBeUndefined();
    expect(await rig.store.get(recordKey('t0', 'p1'))).toBeUndefined();
  });

  it(`accepts ${BATCH_CALLS_MAX} calls, the limit`, async () => {
    const rig = await makeRig();
    const calls = Array.from({ length: BATCH_CALLS_MAX }, (_, i) => item('prepare', prepareBody(`t${i}`, 1)));
    const answer = results(await rig.batch(envelope(1, calls), 1));
    expect(answer).toHaveLength(BATCH_CALLS_MAX);
    expect(answer.every((r) => r.status === 200 && (r.body as { vote?: string }).vote === 'commit')).toBe(true);
    expect(rig.p.inDoubtCount()).toBe(BATCH_CALLS_MAX);
  });

  it('answers every item as the single call would, and leaves the same durable records', async () => {
    const singly = await makeRig();
    const batched = await makeRig();
    const fromSingles: Answer[][] = [];
    const fromBatches: Answer[][] = [];
    for (const phase of EQUIVALENCE_PHASES) {
      const answers: Answer[] = [];
      for (const one of phase.items) answers.push(await singly.single(one.call as CallPath, one.body, phase.term));
      fromSingles.push(answers);
      fromBatches.push(results(await batched.batch(envelope(phase.term, phase.items), phase.term)));
    }
    expect(fromBatches).toEqual(fromSingles);
    // Not merely equal to each other: the scenario reaches what it means to reach.
    expect(fromBatches.flat().map((a) => a.status)).toEqual(EXPECTED_STATUSES);
    expect(await durableState(batched)).toEqual(await durableState(singly));
    expect(handlerLog(batched.h)).toEqual(handlerLog(singly.h));
  });
});

/** Every item is a well-formed call (a single route exists for it); batches go out with the header. */
const EQUIVALENCE_PHASES: readonly { term: number; items: readonly Item[] }[] = [
  {
    term: 2,
    items: [
      item('prepare', prepareBody('c1', 2)),
      item('prepare', prepareBody('no-1', 2)),
      item('prepare', prepareBody('c3', 2, { protocol: '3pc', payload: { nested: [1, { deep: null }], s: 'ü' } })),
      item('abort', callBody('ab', 2)),
      item('prepare', prepareBody('boom', 2)),
      item('prepare', { participant: 'p1', term: 2, protocol: '2pc' }),
      item('prepare', prepareBody('wrong-header', 3)),
    ],
  },
  {
    term: 2,
    items: [
      item('commit', callBody('c1', 2)),
      item('prepare', prepareBody('c1', 2)),
      item('commit', callBody('no-1', 2)),
      item('commit', callBody('never', 2)),
      item('precommit', callBody('c3', 2)),
      item('prepare', prepareBody('ab', 2)),
      item('commit', callBody('boom', 2)),
    ],
  },
  { term: 5, items: [item('prepare', prepareBody('p5', 5)), item('commit', callBody('c3', 5))] },
  { term: 4, items: [item('commit', callBody('p5', 4)), item('abort', callBody('p5', 4))] },
];

const EXPECTED_STATUSES = [200, 200, 200, 200, 200, 400, 400, 200, 200, 409, 404, 200, 200, 500, 200, 200, 409, 409];

const EQUIVALENCE_TX_IDS = ['c1', 'no-1', 'c3', 'ab', 'boom', 'never', 'wrong-header', 'p5'];

async function durableState(rig: Rig): Promise<{ highestTerm: number; records: (ParticipantTxRecord | undefined)[] }> {
  await rig.p.close();
  const loaded = await rig.store.open();
  const records = await Promise.all(EQUIVALENCE_TX_IDS.map((txId) => rig.store.get(recordKey(txId, 'p1'))));
  await rig.store.close();
  return { highestTerm: loaded.highestTerm, records };
}

function handlerLog(h: RecordingHandlers): string[] {
  return h.calls.map((c) => `${c.handler}:${c.tx.txId}:${c.tx.source}:${c.tx.term}:${JSON.stringify(c.tx.payload)}`).sort();
}

describe.each(rigs.filter(([name]) => name !== 'core'))('batch body limit (%s)', (_name, makeRig) => {
  it('answers an oversized batch with 413 BODY_TOO_LARGE, as for single calls', async () => {
    const rig = await makeRig({ bodyLimit: 2048 });
    const calls = Array.from({ length: 4 }, (_, i) => item('prepare', prepareBody(`t${i}`, 1, { payload: 'x'.repeat(600) })));
    const answer = await rig.batch(envelope(1, calls), 1);
    expect(answer).toMatchObject({ status: 413, body: { error: { code: 'BODY_TOO_LARGE' } } });
    expect(rig.h.calls).toEqual([]);
  });
});
