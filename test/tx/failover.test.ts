// Leadership changes on a fake cluster of coordinator nodes: fencing of a
// deposed leader, the new leader's scan (finish decided transactions, re-drive
// or abort undecided ones), and idempotency-key retries across a failover.
import { afterEach, describe, expect, it } from 'vitest';
import { decodeCommand } from '../../src/tx/commands.js';
import type { TxView } from '../../src/tx/types.js';
import { FakeCluster } from './fake-log.js';
import { FakeParticipant } from './fake-participant.js';
import { eventually, participant, startNode, type NodeOptions, type TestNode } from './harness.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function participants(n: number, fenceByTerm = false): Promise<FakeParticipant[]> {
  const ps = await Promise.all(Array.from({ length: n }, () => FakeParticipant.start({ fenceByTerm })));
  for (const p of ps) cleanups.push(() => p.close());
  return ps;
}

async function clusterOf(
  ids: string[],
  optsOf: (id: string) => NodeOptions = () => ({}),
): Promise<{ cluster: FakeCluster; nodes: Record<string, TestNode> }> {
  const cluster = new FakeCluster();
  const nodes: Record<string, TestNode> = {};
  for (const id of ids) {
    const node = await startNode(cluster, id, optsOf(id));
    nodes[id] = node;
    cleanups.push(() => node.close());
  }
  return { cluster, nodes };
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function post(node: TestNode, url: string, payload?: object, headers: Record<string, string> = {}) {
  return node.app.inject({ method: 'POST', url, headers, ...(payload && { payload }) });
}

describe('completions held by a leader that stops leading (completion-queue.ts)', () => {
  it('the next leader delivers the decision again and completes the transaction; the outcome stays', async () => {
    const [a, b] = await participants(2);
    // n1 holds completions for good: only a decision of its own would propose them.
    const { cluster, nodes } = await clusterOf(['n1', 'n2'], (id) => (id === 'n1' ? { completionQueue: { delayMs: 600_000 } } : {}));
    cluster.elect('n1');
    const res = await post(nodes.n1!, '/v1/transactions', {
      participants: [participant('a', a!.url), participant('b', b!.url)],
      commit: true,
    });
    expect(res.statusCode).toBe(200);
    const id = res.json<TxView>().id;
    await eventually(() => a!.callsOf('commit', id).length > 0 && b!.callsOf('commit', id).length > 0, 'commit delivered by n1');
    await pause(100); // the acknowledgements reach n1's queue (not asserted on time: the state below is what counts)
    expect(nodes.n2!.sm.get(id)?.state).toBe('committing');
    cluster.elect('n2');
    await eventually(() => nodes.n2!.sm.get(id)?.state === 'committed', 'completed by n2');
    expect(nodes.n1!.sm.get(id)?.state).toBe('committed');
    // n2 delivered the same decision again (participants answer a repeated commit the same); nobody heard abort.
    expect(a!.callsOf('commit', id).length).toBeGreaterThanOrEqual(2);
    expect([...a!.callsOf('abort', id), ...b!.callsOf('abort', id)]).toEqual([]);
    const completions = cluster.entries.flatMap((e) => {
      const cmd = decodeCommand(e.data);
      return cmd?.type === 'completed' && cmd.txId === id ? [cmd] : [];
    });
    expect(completions).toHaveLength(1);
  });
});

describe('fencing a deposed leader', () => {
  it('after a term change the old driver makes no further participant calls', async () => {
    const { cluster, nodes } = await clusterOf(['n1']);
    const [a, b] = await participants(2);
    cluster.elect('n1');
    a!.setMode('down', ['commit']);
    const res = await post(nodes.n1!, '/v1/transactions', {
      participants: [participant('a', a!.url), participant('b', b!.url)],
      commit: true,
    });
    const id = res.json<TxView>().id;
    await eventually(() => a!.callsOf('commit', id).length >= 2, 'commit retried');
    const oldTerm = cluster.term;
    cluster.noLeader();
    await pause(50); // a call already on the wire may still land
    const frozen = a!.calls.length;
    await pause(400); // many backoff periods (cap 50 ms)
    expect(a!.calls.length).toBe(frozen);
    expect(a!.calls.every((c) => c.headerTerm === oldTerm)).toBe(true);
    // leading again in a new term, it finishes with the new term on every call
    a!.setMode('ok');
    const newTerm = cluster.elect('n1');
    await eventually(() => nodes.n1!.sm.get(id)?.state === 'committed', 'committed');
    expect(a!.answered('commit', id).map((c) => c.headerTerm)).toEqual([newTerm]);
  });

  it('a partitioned old leader is fenced by term at the participant; the outcome stays single', async () => {
    const { cluster, nodes } = await clusterOf(['n1', 'n2']);
    const [a, b] = await participants(2, true);
    cluster.elect('n1');
    a!.setMode('error', ['commit']);
    const res = await post(nodes.n1!, '/v1/transactions', {
      participants: [participant('a', a!.url), participant('b', b!.url)],
      commit: true,
    });
    const id = res.json<TxView>().id;
    await eventually(() => a!.callsOf('commit', id).length >= 1, 'commit tried');
    // n1 is cut off without hearing about it; n2 takes over in a new term
    nodes.n1!.log.crash();
    const term2 = cluster.elect('n2');
    // once a has seen the new term, every call from n1 is stale to it
    await eventually(() => a!.highestTerm === term2, 'a saw the new term');
    a!.setMode('ok');
    await eventually(() => nodes.n2!.sm.get(id)?.state === 'committed', 'committed by n2');
    // n1 still retries commit with its old term, and the participant refuses it
    a!.setMode('error', ['commit']);
    await eventually(() => a!.callsOf('commit', id).some((c) => c.answer === 'fenced'), 'stale call fenced');
    expect(a!.answered('commit', id).every((c) => c.headerTerm === term2)).toBe(true);
    // once n1 hears the news it stops at once
    nodes.n1!.log.recover();
    await pause(50);
    const frozen = a!.callsOf(undefined, id).length;
    await pause(300);
    expect(a!.callsOf(undefined, id).length).toBe(frozen);
    expect(nodes.n1!.sm.get(id)?.state).toBe('committed');
    for (const p of [a!, b!]) expect(p.callsOf('abort')).toEqual([]);
  });
});

describe('a new leader scans the table', () => {
  it('finishes a decided transaction exactly as decided', async () => {
    const { cluster, nodes } = await clusterOf(['n1', 'n2']);
    const [a, b] = await participants(2);
    cluster.elect('n1');
    a!.setMode('down', ['commit']);
    const res = await post(nodes.n1!, '/v1/transactions', {
      participants: [participant('a', a!.url), participant('b', b!.url)],
      commit: true,
    });
    const id = res.json<TxView>().id;
    expect(res.json<TxView>().outcome).toBe('committed');
    await nodes.n1!.close(); // the old leader dies
    nodes.n1!.log.crash();
    a!.setMode('ok');
    const term2 = cluster.elect('n2');
    await eventually(() => nodes.n2!.sm.get(id)?.state === 'committed', 'committed by n2');
    expect(a!.answered('commit', id).map((c) => c.headerTerm)).toEqual([term2]);
    expect(a!.callsOf('abort')).toEqual([]);
    expect(b!.callsOf('abort')).toEqual([]);
  });

  it('reports a participant its predecessor found failing from the start: failingSince kept, gauge recomputed', async () => {
    const { cluster, nodes } = await clusterOf(['n1', 'n2']);
    const [a, b] = await participants(2);
    const gauge = async (node: TestNode): Promise<number> =>
      (await node.registry.getSingleMetric('ratify_tx_participants_failing')?.get())?.values[0]?.value ?? -1;
    cluster.elect('n1');
    a!.setMode('down', ['commit']);
    const res = await post(nodes.n1!, '/v1/transactions', {
      participants: [participant('a', a!.url), participant('b', b!.url)],
      commit: true,
    });
    const id = res.json<TxView>().id;
    const since = await eventually(
      () => nodes.n1!.sm.get(id)?.participants.find((p) => p.name === 'a')?.failingSince ?? undefined,
      'a reported failing',
    );
    expect(await gauge(nodes.n1!)).toBe(1);
    // a follower sees the same table but does not report: only the leader drives phase 2
    expect(nodes.n2!.sm.get(id)?.participants.find((p) => p.name === 'a')?.failingSince).toBe(since);
    expect(await gauge(nodes.n2!)).toBe(0);
    await nodes.n1!.close();
    nodes.n1!.log.crash();
    // Calls now hang until phase2CallTimeoutMs: n2 itself reaches the threshold (3 calls) only seconds from now.
    a!.setMode('hang', ['commit']);
    cluster.elect('n2');
    expect(await gauge(nodes.n2!)).toBe(1);
    const view = (await nodes.n2!.app.inject({ method: 'GET', url: `/v1/transactions/${id}` })).json<TxView>();
    expect(view.participants.find((p) => p.name === 'a')?.failingSince).toBe(new Date(since).toISOString());
    a!.setMode('ok');
    await eventually(() => nodes.n2!.sm.get(id)?.state === 'committed', 'committed by n2');
    expect(await gauge(nodes.n2!)).toBe(0);
  });

  it('re-drives prepare for an undecided transaction still inside its deadline', async () => {
    const { cluster, nodes } = await clusterOf(['n1', 'n2']);
    const [a, b] = await participants(2);
    cluster.elect('n1');
    a!.setMode('hang', ['prepare']);
    const created = await post(nodes.n1!, '/v1/transactions', {
      participants: [participant('a', a!.url), participant('b', b!.url)],
      timeoutMs: 60_000,
    });
    const id = created.json<TxView>().id;
    void post(nodes.n1!, `/v1/transactions/${id}/commit`).catch(() => undefined);
    await eventually(() => a!.callsOf('prepare', id).length > 0 && b!.answered('prepare', id).length > 0, 'prepare sent');
    nodes.n1!.log.crash();
    await nodes.n1!.close();
    a!.setMode('ok');
    const term2 = cluster.elect('n2');
    await eventually(() => nodes.n2!.sm.get(id)?.state === 'committed', 'committed by n2');
    // prepare is idempotent at the participant, so asking again is safe
    expect(b!.answered('prepare', id).map((c) => c.headerTerm)).toEqual([1, term2]);
    expect(a!.answered('commit', id)).toHaveLength(1);
  });

  it('aborts an undecided transaction past its deadline', async () => {
    const { cluster, nodes } = await clusterOf(['n1', 'n2']);
    const [a, b] = await participants(2);
    cluster.elect('n1');
    a!.setMode('hang', ['prepare']);
    const created = await post(nodes.n1!, '/v1/transactions', {
      participants: [participant('a', a!.url), participant('b', b!.url)],
      timeoutMs: 60_000,
    });
    const id = created.json<TxView>().id;
    void post(nodes.n1!, `/v1/transactions/${id}/commit`).catch(() => undefined);
    await eventually(() => b!.answered('prepare', id).length > 0, 'b prepared');
    nodes.n1!.log.crash();
    await nodes.n1!.close();
    a!.setMode('ok');
    // the new leader starts after the deadline has passed (injected clock)
    const late = await startNode(cluster, 'n3', { now: () => Date.now() + 120_000 });
    cleanups.push(() => late.close());
    cluster.elect('n3');
    await eventually(() => late.sm.get(id)?.state === 'aborted', 'aborted by n3');
    expect(b!.answered('abort', id)).toHaveLength(1);
    expect(b!.callsOf('commit')).toEqual([]);
    expect(b!.answered('prepare', id)).toHaveLength(1); // no re-prepare after the deadline
  });
});

describe('3PC across a failover', () => {
  it('a new leader re-sends precommit to a precommitted transaction, then commits', async () => {
    const { cluster, nodes } = await clusterOf(['n1', 'n2']);
    const [a, b] = await participants(2);
    cluster.elect('n1');
    b!.setMode('down', ['precommit']);
    const created = await post(nodes.n1!, '/v1/transactions', {
      participants: [participant('a', a!.url), participant('b', b!.url)],
      protocol: '3pc',
    });
    const id = created.json<TxView>().id;
    void post(nodes.n1!, `/v1/transactions/${id}/commit`).catch(() => undefined);
    await eventually(() => nodes.n1!.sm.get(id)?.state === 'precommitted' && b!.callsOf('precommit', id).length > 0, 'precommitted');
    nodes.n1!.log.crash();
    await nodes.n1!.close();
    b!.setMode('ok');
    const term2 = cluster.elect('n2');
    await eventually(() => nodes.n2!.sm.get(id)?.state === 'committed', 'committed by n2');
    expect(a!.answered('precommit', id).map((c) => c.headerTerm)).toEqual([1, term2]);
    expect(b!.answered('precommit', id).map((c) => c.headerTerm)).toEqual([term2]);
    for (const p of [a!, b!]) expect(p.callsOf('abort')).toEqual([]);
  });
});

describe('3PC: a new leader that finds a precommitted transaction past its deadline', () => {
  interface Late {
    readonly id: string;
    /** The next leader, on a clock two minutes ahead (past the deadline); it leads once elect() is called. */
    readonly late: TestNode;
    readonly elect: () => number;
    readonly a: FakeParticipant;
    readonly b: FakeParticipant;
  }

  /** n1 gets a 3PC transaction to precommitted (a acknowledged precommit, b never does) and dies. */
  async function precommittedThenLate(): Promise<Late> {
    const { cluster, nodes } = await clusterOf(['n1']);
    const [a, b] = await participants(2);
    cluster.elect('n1');
    b!.setMode('down', ['precommit']);
    const created = await post(nodes.n1!, '/v1/transactions', {
      participants: [participant('a', a!.url), participant('b', b!.url)],
      protocol: '3pc',
      timeoutMs: 60_000,
    });
    const id = created.json<TxView>().id;
    void post(nodes.n1!, `/v1/transactions/${id}/commit`).catch(() => undefined);
    await eventually(
      () => a!.answered('precommit', id).length === 1 && b!.callsOf('precommit', id).length > 0,
      'a precommitted, b failing',
    );
    nodes.n1!.log.crash();
    await nodes.n1!.close();
    const late = await startNode(cluster, 'n3', { now: () => Date.now() + 120_000 });
    cleanups.push(() => late.close());
    return { id, late, a: a!, b: b!, elect: () => cluster.elect('n3') };
  }

  it('re-sends precommit and, all acknowledging, commits', async () => {
    const { id, late, a, b, elect } = await precommittedThenLate();
    b.setMode('ok');
    elect();
    await eventually(() => late.sm.get(id)?.state === 'committed', 'committed by n3');
    expect(late.sm.get(id)?.decisionReason).toBe('every participant acknowledged precommit');
    for (const p of [a, b]) expect(p.callsOf('abort')).toEqual([]);
  });

  it('a participant that already committed on its own timeout forces commit, even with another one down', async () => {
    const { id, late, a, b, elect } = await precommittedThenLate();
    a.ackBodies.precommit = { ok: true, state: 'committed' };
    elect();
    await eventually(() => late.sm.get(id)?.decision === 'commit', 'commit decided by n3');
    expect(late.sm.get(id)?.decisionReason).toMatch(/participant a had already committed/);
    b.setMode('ok');
    await eventually(() => late.sm.get(id)?.state === 'committed', 'committed once b is back');
    for (const p of [a, b]) expect(p.callsOf('abort')).toEqual([]);
  });

  it('with a participant still unreachable and none committed, it never presumes abort: it retries precommit until b answers, then commits', async () => {
    const { id, late, a, b, elect } = await precommittedThenLate();
    elect();
    // Two minutes past the deadline, b's precommit keeps failing: the outcome is commit all the same.
    await eventually(() => b.callsOf('precommit', id).filter((c) => (c.headerTerm ?? 0) > 1).length >= 3, 'n3 retries precommit at b');
    expect(late.sm.get(id)).toMatchObject({ state: 'precommitted', decision: null });
    const abort = await late.app.inject({ method: 'POST', url: `/v1/transactions/${id}/abort` });
    expect(abort.json<{ error: { code: string } }>().error.code).toBe('TX_PRECOMMITTED');
    b.setMode('ok');
    await eventually(() => late.sm.get(id)?.state === 'committed', 'committed once b is back');
    expect(late.sm.get(id)?.decisionReason).toBe('every participant acknowledged precommit');
    for (const p of [a, b]) expect(p.callsOf('abort')).toEqual([]);
  });
});

describe('idempotency keys across a failover', () => {
  it('a retry on the new leader finds the transaction the old leader created (3PC keeps its created entry)', async () => {
    const { cluster, nodes } = await clusterOf(['n1', 'n2']);
    const [a] = await participants(1);
    cluster.elect('n1');
    a!.setMode('hang', ['prepare']);
    const body = { participants: [participant('a', a!.url)], protocol: '3pc', commit: true, timeoutMs: 60_000 };
    const first = post(nodes.n1!, '/v1/transactions', body, { 'idempotency-key': 'transfer-42' }).catch(() => undefined);
    await eventually(() => a!.callsOf('prepare').length > 0, 'prepare sent');
    // the leader dies mid-request; the client never got an answer
    nodes.n1!.log.crash();
    await nodes.n1!.close();
    await first;
    a!.setMode('ok');
    cluster.elect('n2');
    const retry = await post(nodes.n2!, '/v1/transactions', body, { 'idempotency-key': 'transfer-42' });
    expect(retry.statusCode).toBe(200);
    expect(retry.json<TxView>().outcome).toBe('committed');
    const ids = cluster.entries.map((e) => decodeCommand(e.data)).filter((c) => c?.type === 'created');
    expect(ids).toHaveLength(1);
    expect(retry.json<TxView>().id).toBe(ids[0]!.type === 'created' ? ids[0]!.txId : '');
  });

  const oneShotEntries = (cluster: FakeCluster) =>
    cluster.entries.flatMap((e) => {
      const c = decodeCommand(e.data);
      return c?.type === 'decided' && c.oneShot !== undefined ? [c] : [];
    });

  it('one-shot: the leader dies between prepare and its decided entry; nothing was recorded, the retry starts anew and commits once', async () => {
    const { cluster, nodes } = await clusterOf(['n1', 'n2']);
    const [a] = await participants(1);
    cluster.elect('n1');
    a!.setMode('hang', ['prepare']);
    const body = { participants: [participant('a', a!.url)], commit: true, timeoutMs: 60_000 };
    const first = post(nodes.n1!, '/v1/transactions', body, { 'idempotency-key': 'transfer-42' }).catch(() => undefined);
    await eventually(() => a!.callsOf('prepare').length > 0, 'prepare sent');
    const firstId = a!.callsOf('prepare')[0]!.txId;
    // in memory only: the leader shows it as preparing, and the log has nothing of it
    expect((await nodes.n1!.app.inject({ method: 'GET', url: `/v1/transactions/${firstId}` })).json<TxView>().state).toBe('preparing');
    expect(cluster.entries.map((e) => decodeCommand(e.data)).filter((c) => c !== null && 'txId' in c)).toEqual([]);
    nodes.n1!.log.crash();
    await nodes.n1!.close();
    await first;
    a!.setMode('ok');
    cluster.elect('n2');
    // the new leader never heard of it: TX_NOT_FOUND under a newer term is what lets the participant abort
    expect((await nodes.n2!.app.inject({ method: 'GET', url: `/v1/transactions/${firstId}` })).statusCode).toBe(404);
    const retry = await post(nodes.n2!, '/v1/transactions', body, { 'idempotency-key': 'transfer-42' });
    expect(retry.statusCode).toBe(200);
    expect(retry.json<TxView>().outcome).toBe('committed');
    expect(retry.json<TxView>().id).not.toBe(firstId);
    expect(oneShotEntries(cluster).map((c) => [c.txId, c.decision, c.oneShot?.idempotencyKey])).toEqual([
      [retry.json<TxView>().id, 'commit', 'transfer-42'],
    ]);
    const again = await post(nodes.n2!, '/v1/transactions', body, { 'idempotency-key': 'transfer-42' });
    expect(again.json<TxView>().id).toBe(retry.json<TxView>().id);
    expect(oneShotEntries(cluster)).toHaveLength(1);
  });

  it('one-shot: the leader dies once its decided entry is committed, before answering; the retry finds the transaction', async () => {
    const { cluster, nodes } = await clusterOf(['n1', 'n2']);
    const [a] = await participants(1);
    cluster.elect('n1');
    cluster.interceptor = (data, node) => {
      if (decodeCommand(data)?.type !== 'decided') return;
      cluster.append(data, node); // committed on n2 too
      cluster.interceptor = null;
      node.crash(); // and the proposer never hears of it
    };
    const body = { participants: [participant('a', a!.url)], commit: true };
    const first = await post(nodes.n1!, '/v1/transactions', body, { 'idempotency-key': 'transfer-43' });
    expect(first.statusCode).toBe(503);
    await nodes.n1!.close();
    cluster.elect('n2');
    const retry = await post(nodes.n2!, '/v1/transactions', body, { 'idempotency-key': 'transfer-43' });
    expect(retry.statusCode).toBe(200);
    expect(retry.json<TxView>().outcome).toBe('committed');
    expect(oneShotEntries(cluster).map((c) => c.txId)).toEqual([retry.json<TxView>().id]);
    expect(a!.callsOf('prepare')).toHaveLength(1);
    await eventually(() => nodes.n2!.sm.get(retry.json<TxView>().id)?.state === 'committed', 'committed by n2');
  });

  it('one-shot: a retry while the first attempt prepares joins it', async () => {
    const { cluster, nodes } = await clusterOf(['n1']);
    const [a] = await participants(1);
    cluster.elect('n1');
    a!.setMode('hang', ['prepare']);
    const body = { participants: [participant('a', a!.url)], commit: true };
    const first = post(nodes.n1!, '/v1/transactions', body, { 'idempotency-key': 'k' });
    await eventually(() => a!.callsOf('prepare').length > 0, 'prepare sent');
    const second = post(nodes.n1!, '/v1/transactions', body, { 'idempotency-key': 'k' });
    const other = await post(nodes.n1!, '/v1/transactions', { ...body, timeoutMs: 5_000 }, { 'idempotency-key': 'k' });
    expect(other.json<{ error: { code: string } }>().error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    a!.setMode('ok');
    a!.releaseHanging();
    const [r1, r2] = await Promise.all([first, second]);
    expect(r1.json<TxView>().id).toBe(r2.json<TxView>().id);
    expect(r2.json<TxView>().outcome).toBe('committed');
    // one attempt prepared (its prepare may have been retried), one recorded
    expect(new Set(a!.callsOf('prepare').map((c) => c.txId))).toEqual(new Set([r1.json<TxView>().id]));
    expect(oneShotEntries(cluster)).toHaveLength(1);
  });

  it('one-shot: a created entry that took the key first leaves the one-shot attempt aborted without the key, its participant told', async () => {
    const { cluster, nodes } = await clusterOf(['n1']);
    const [a] = await participants(1);
    cluster.elect('n1');
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    cluster.interceptor = async () => held;
    // an interactive create with the key, proposed but not applied, races a one-shot with it
    const interactive = post(nodes.n1!, '/v1/transactions', {}, { 'idempotency-key': 'race' });
    await eventually(() => nodes.n1!.log.proposals >= 1, 'created proposed');
    const body = { participants: [participant('a', a!.url)], commit: true };
    const oneShot = post(nodes.n1!, '/v1/transactions', body, { 'idempotency-key': 'race' });
    await eventually(() => nodes.n1!.log.proposals >= 2, 'one-shot decided proposed');
    cluster.interceptor = null;
    release();
    expect((await interactive).statusCode).toBe(201);
    const refused = await oneShot;
    expect(refused.json<{ error: { code: string } }>().error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const attempt = a!.callsOf('prepare')[0]!.txId;
    const aborted = await eventually(() => nodes.n1!.sm.get(attempt)?.state === 'aborted' && nodes.n1!.sm.get(attempt), 'attempt aborted');
    expect(aborted).toMatchObject({ idempotencyKey: null, decision: 'abort' });
    expect(aborted ? aborted.decisionReason : null).toMatch(/Idempotency-Key was taken/);
    expect(a!.callsOf('abort', attempt)).toHaveLength(1);
  });

  it('two concurrent creates with one key make one transaction', async () => {
    const { cluster, nodes } = await clusterOf(['n1']);
    cluster.elect('n1');
    // hold proposals so both requests pass the leader's check before either applies
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    cluster.interceptor = async () => held;
    const reqs = [
      post(nodes.n1!, '/v1/transactions', {}, { 'idempotency-key': 'dup' }),
      post(nodes.n1!, '/v1/transactions', {}, { 'idempotency-key': 'dup' }),
    ];
    await eventually(() => nodes.n1!.log.proposals >= 2, 'both proposed');
    cluster.interceptor = null;
    release();
    const [r1, r2] = await Promise.all(reqs);
    expect(r1!.statusCode).toBe(201);
    expect(r2!.statusCode).toBe(201);
    expect(r1!.json<TxView>().id).toBe(r2!.json<TxView>().id);
    expect(nodes.n1!.sm.list({}).transactions).toHaveLength(1);
  });
});
