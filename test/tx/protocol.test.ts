// 2PC and 3PC end to end on one leader (fake log) with real HTTP participants.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeCommand } from '../../src/tx/commands.js';
import type { DeliverResult, ParticipantClient, PrepareResult } from '../../src/tx/participant-client.js';
import type { TxView } from '../../src/tx/types.js';
import { onAbort, waiting, type CancelSignal } from '../../src/util/abort-registry.js';
import type { FakeCluster } from './fake-log.js';
import { FakeParticipant } from './fake-participant.js';
import { eventually, getView, participant, startLeader, type TestNode } from './harness.js';

describe('transaction protocol on the leader', () => {
  let node: TestNode;
  let cluster: FakeCluster;
  let a: FakeParticipant;
  let b: FakeParticipant;

  beforeEach(async () => {
    ({ node, cluster } = await startLeader());
    a = await FakeParticipant.start();
    b = await FakeParticipant.start();
  });
  afterEach(async () => {
    await node.close();
    await a.close();
    await b.close();
  });

  const run = async (body: Record<string, unknown>): Promise<TxView> => {
    const res = await node.app.inject({
      method: 'POST',
      url: '/v1/transactions',
      payload: { participants: [participant('a', a.url, { n: 1 }), participant('b', b.url)], commit: true, ...body },
    });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<TxView>();
  };
  const finished = (id: string, state: 'committed' | 'aborted') => eventually(() => node.sm.get(id)?.state === state, `${id} ${state}`);
  const failingGauge = async (): Promise<number> => {
    const metric = await node.registry.getSingleMetric('ratify_tx_participants_failing')?.get();
    return metric?.values[0]?.value ?? 0;
  };

  it('2PC commit: prepare everywhere, decision durable before any commit call, then committed', async () => {
    const decisionsSeenByCommit: Array<string | null | undefined> = [];
    for (const p of [a, b]) p.onCall = (c) => c.kind === 'commit' && decisionsSeenByCommit.push(node.sm.get(c.txId)?.decision);
    const view = await run({});
    expect(view.outcome).toBe('committed');
    await finished(view.id, 'committed');
    expect(decisionsSeenByCommit).toEqual(['commit', 'commit']);
    const prepare = a.callsOf('prepare', view.id)[0];
    expect(prepare?.body).toEqual({ txId: view.id, participant: 'a', payload: { n: 1 }, protocol: '2pc', term: cluster.term });
    expect(b.callsOf('prepare', view.id)[0]?.body.payload).toBeNull();
    for (const p of [a, b]) {
      expect(p.callsOf(undefined, view.id).map((c) => c.kind)).toEqual(['prepare', 'commit']);
      expect(p.callsOf(undefined, view.id).every((c) => c.headerTerm === cluster.term)).toBe(true);
    }
    const final = await getView(node, view.id);
    expect(final.participants).toEqual([
      { name: 'a', url: a.url, vote: 'commit', acknowledged: true },
      { name: 'b', url: b.url, vote: 'commit', acknowledged: true },
    ]);
    expect(final.completedAt).toBeDefined();
  });

  it('2PC abort vote: everybody hears abort, nobody hears commit', async () => {
    b.vote = { vote: 'abort', reason: 'insufficient funds' };
    const view = await run({});
    expect(view.outcome).toBe('aborted');
    await finished(view.id, 'aborted');
    for (const p of [a, b]) expect(p.callsOf('commit')).toEqual([]);
    expect(b.answered('abort', view.id)).toHaveLength(1);
    expect(a.answered('abort', view.id)).toHaveLength(1);
    expect((await getView(node, view.id)).participants.find((p) => p.name === 'b')?.vote).toBe('abort');
  });

  it('a participant down during prepare makes the outcome aborted; it hears abort once back', async () => {
    await b.kill();
    const view = await run({});
    expect(view.outcome).toBe('aborted');
    const bView = view.participants.find((p) => p.name === 'b');
    expect(bView?.vote).toBe('abort');
    expect(bView?.lastError).toMatch(/prepare failed/);
    expect(a.callsOf('commit')).toEqual([]);
    await eventually(() => a.answered('abort', view.id).length > 0, 'a told abort');
    expect(node.sm.get(view.id)?.state).toBe('aborting'); // b has not acknowledged
    await b.revive();
    await finished(view.id, 'aborted');
    expect(b.answered('abort', view.id).length).toBeGreaterThan(0);
    expect(b.callsOf('commit')).toEqual([]);
  });

  it('a participant down during commit: outcome committed, state committing, committed once it returns', async () => {
    a.setMode('down', ['commit']);
    const view = await run({});
    expect(view.outcome).toBe('committed');
    expect(view.state).toBe('committing');
    // reported as failing after participantFailingThreshold (3) failed calls, in the view and the metrics
    const failing = await eventually(async () => {
      const v = await getView(node, view.id);
      return v.participants.find((p) => p.name === 'a')?.lastError !== undefined && v;
    }, 'lastError of a');
    expect(failing.state).toBe('committing');
    const aFailing = failing.participants.find((p) => p.name === 'a');
    expect(aFailing?.lastError).toMatch(/calls failed in a row/);
    // failingSince: when the run of failures began, an ISO time between the decision and now
    expect(new Date(aFailing?.failingSince ?? '').toISOString()).toBe(aFailing?.failingSince);
    expect(Date.parse(aFailing?.failingSince ?? '')).toBeGreaterThanOrEqual(Date.parse(failing.decidedAt ?? ''));
    expect(Date.parse(aFailing?.failingSince ?? '')).toBeLessThanOrEqual(Date.now());
    expect(failing.participants.find((p) => p.name === 'b')).toEqual({ name: 'b', url: b.url, vote: 'commit', acknowledged: true });
    expect(await failingGauge()).toBe(1);
    a.setMode('ok');
    await finished(view.id, 'committed');
    const final = await getView(node, view.id);
    expect(final.participants.every((p) => p.acknowledged && p.lastError === undefined && p.failingSince === undefined)).toBe(true);
    expect(a.callsOf('abort')).toEqual([]);
    expect(await failingGauge()).toBe(0);
  });

  it('aborts an active transaction past its deadline (presumed abort)', async () => {
    const res = await node.app.inject({
      method: 'POST',
      url: '/v1/transactions',
      payload: { participants: [participant('a', a.url)], timeoutMs: 50 },
    });
    const id = res.json<TxView>().id;
    await finished(id, 'aborted');
    // nobody was ever prepared, so nobody needs telling
    expect(a.calls).toEqual([]);
    const late = await node.app.inject({ method: 'POST', url: `/v1/transactions/${id}/commit` });
    expect(late.json<TxView>().outcome).toBe('aborted');
  });

  it('aborts at the deadline when a prepare never answers', async () => {
    a.setMode('hang', ['prepare']);
    const view = await run({ timeoutMs: 300 });
    expect(view.outcome).toBe('aborted');
    await finished(view.id, 'aborted');
    expect(a.answered('abort', view.id)).toHaveLength(1);
    expect(b.callsOf('commit')).toEqual([]);
  });

  it('a client abort cuts a pending prepare short', async () => {
    a.setMode('hang', ['prepare']);
    const created = await node.app.inject({
      method: 'POST',
      url: '/v1/transactions',
      payload: { participants: [participant('a', a.url), participant('b', b.url)] },
    });
    const id = created.json<TxView>().id;
    const commit = node.app.inject({ method: 'POST', url: `/v1/transactions/${id}/commit` });
    await eventually(() => a.callsOf('prepare', id).length > 0, 'prepare reached a');
    const aborted = await node.app.inject({ method: 'POST', url: `/v1/transactions/${id}/abort` });
    expect(aborted.statusCode).toBe(200);
    expect(aborted.json<TxView>().outcome).toBe('aborted');
    expect((await commit).json<TxView>().outcome).toBe('aborted');
    await finished(id, 'aborted');
    expect(a.answered('abort', id)).toHaveLength(1);
  });

  it('a slow participant does not hold up other transactions', async () => {
    const slow = await FakeParticipant.start();
    try {
      slow.setMode('hang', ['prepare']);
      const stuck = await node.app.inject({
        method: 'POST',
        url: '/v1/transactions',
        payload: { participants: [participant('s', slow.url)], timeoutMs: 60_000 },
      });
      const stuckId = stuck.json<TxView>().id;
      void node.app.inject({ method: 'POST', url: `/v1/transactions/${stuckId}/commit` });
      await eventually(() => slow.callsOf('prepare').length > 0, 'slow prepare');
      for (let i = 0; i < 3; i++) expect((await run({})).outcome).toBe('committed');
      expect(node.sm.get(stuckId)?.state).toBe('preparing');
      await node.app.inject({ method: 'POST', url: `/v1/transactions/${stuckId}/abort` });
    } finally {
      await slow.close();
    }
  });

  it('tolerates reordered calls: an abort can reach a participant whose prepare is still running', async () => {
    a.delaysMs.prepare = 300;
    b.vote = { vote: 'abort' };
    const view = await run({});
    expect(view.outcome).toBe('aborted');
    await finished(view.id, 'aborted');
    // a was told abort; its prepare answer (commit) came too late to matter
    expect(a.answered('abort', view.id)).toHaveLength(1);
    expect(node.sm.get(view.id)?.decision).toBe('abort');
  });

  it('survives duplicated calls: failed answers are retried and the outcome never changes', async () => {
    let failures = 2;
    a.onCall = (c) => {
      if (c.kind === 'commit' && --failures === 0) a.setMode('ok');
    };
    a.setMode('error', ['commit']);
    const view = await run({});
    await finished(view.id, 'committed');
    expect(a.callsOf('commit', view.id).length).toBe(3);
    expect(a.answered('commit', view.id)).toHaveLength(1);
    expect(a.callsOf('abort')).toEqual([]);
  });

  describe('3PC', () => {
    it('happy path: prepare, precommit (after precommitted is durable), commit', async () => {
      const statesAtPrecommit: Array<string | undefined> = [];
      for (const p of [a, b]) p.onCall = (c) => c.kind === 'precommit' && statesAtPrecommit.push(node.sm.get(c.txId)?.state);
      const view = await run({ protocol: '3pc' });
      expect(view).toMatchObject({ outcome: 'committed', protocol: '3pc' });
      await finished(view.id, 'committed');
      expect(statesAtPrecommit).toEqual(['precommitted', 'precommitted']);
      for (const p of [a, b]) expect(p.callsOf(undefined, view.id).map((c) => c.kind)).toEqual(['prepare', 'precommit', 'commit']);
      expect(a.callsOf('prepare', view.id)[0]?.body.protocol).toBe('3pc');
    });

    it('abort vote: no precommit, everybody aborts', async () => {
      a.vote = { vote: 'abort' };
      const view = await run({ protocol: '3pc' });
      expect(view.outcome).toBe('aborted');
      await finished(view.id, 'aborted');
      for (const p of [a, b]) {
        expect(p.callsOf('precommit')).toEqual([]);
        expect(p.callsOf('commit')).toEqual([]);
        expect(p.answered('abort', view.id)).toHaveLength(1);
      }
    });

    const create3pc = async (timeoutMs = 10_000): Promise<string> => {
      const created = await node.app.inject({
        method: 'POST',
        url: '/v1/transactions',
        payload: { participants: [participant('a', a.url), participant('b', b.url)], protocol: '3pc', timeoutMs },
      });
      return created.json<TxView>().id;
    };
    const commitInBackground = (id: string) => void node.app.inject({ method: 'POST', url: `/v1/transactions/${id}/commit` });

    const violations = async (call: string): Promise<number> => {
      const metric = await node.registry.getSingleMetric('ratify_tx_protocol_violations_total')?.get();
      return metric?.values.find((v) => v.labels.call === call)?.value ?? 0;
    };

    it('a participant that refuses precommit with TX_ALREADY_ABORTED broke the protocol: commit anyway, and the view, the metric and the log say so', async () => {
      b.setMode('already-aborted', ['precommit', 'commit']);
      const view = await run({ protocol: '3pc' });
      expect(view.outcome).toBe('committed');
      await eventually(() => node.sm.get(view.id)?.decision === 'commit', 'commit decided');
      expect(node.sm.get(view.id)?.decisionReason).toMatch(/b refused it \(PROTOCOL VIOLATION/);
      await eventually(() => a.answered('commit', view.id).length === 1, 'a told commit');
      // b keeps refusing commit: phase 2 retries it forever, with the violation on the view.
      const stuck = await eventually(async () => {
        const v = await getView(node, view.id);
        // At once "PROTOCOL VIOLATION: …"; after more failed retries "N calls failed in a row; last: PROTOCOL VIOLATION: …".
        return v.participants.find((p) => p.name === 'b')?.lastError?.includes('PROTOCOL VIOLATION') === true && v;
      }, 'b reported as violating');
      expect(stuck).toMatchObject({ state: 'committing', outcome: 'committed' });
      expect(await violations('precommit')).toBe(1);
      await eventually(async () => (await violations('commit')) === 1, 'commit violation counted');
      for (const p of [a, b]) expect(p.callsOf('abort')).toEqual([]);
      b.setMode('ok');
      await finished(view.id, 'committed');
    });

    it('a precommit that fails past the deadline: no abort; the commit call answers committed at precommitted, and precommit is retried until it is acknowledged', async () => {
      b.setMode('down', ['precommit']);
      const id = await create3pc(1_000);
      const deadlineAt = Date.now() + 1_000;
      const commit = await node.app.inject({ method: 'POST', url: `/v1/transactions/${id}/commit` });
      expect(commit.statusCode, commit.body).toBe(200);
      expect(commit.json<TxView>()).toMatchObject({ state: 'precommitted', outcome: 'committed' });
      expect(commit.json<TxView>().decidedAt).toBeDefined();
      await eventually(
        () => a.answered('precommit', id).length === 1 && b.callsOf('precommit', id).length > 0,
        'a precommitted, b failing',
      );
      // Well past the deadline, b's precommit is still being retried and nothing was decided abort.
      await eventually(
        () => Date.now() > deadlineAt + 1_000 && b.callsOf('precommit', id).length >= 3,
        'precommit retried past the deadline',
      );
      expect(node.sm.get(id)).toMatchObject({ state: 'precommitted', decision: null });
      expect(await getView(node, id)).toMatchObject({ state: 'precommitted', outcome: 'committed' });
      b.setMode('ok');
      await finished(id, 'committed');
      expect(node.sm.get(id)?.decisionReason).toBe('every participant acknowledged precommit');
      for (const p of [a, b]) expect(p.callsOf('abort')).toEqual([]);
    });

    it('a client abort of a precommitted transaction answers 409 TX_PRECOMMITTED, and the outcome stays commit', async () => {
      b.setMode('down', ['precommit']);
      const id = await create3pc(60_000);
      commitInBackground(id);
      await eventually(() => b.callsOf('precommit', id).length >= 2, 'precommit retried');
      expect(node.sm.get(id)?.state).toBe('precommitted');
      const abort = await node.app.inject({ method: 'POST', url: `/v1/transactions/${id}/abort` });
      expect(abort.statusCode).toBe(409);
      expect(abort.json<{ error: { code: string } }>().error.code).toBe('TX_PRECOMMITTED');
      b.setMode('ok');
      await finished(id, 'committed');
      for (const p of [a, b]) {
        expect(p.callsOf('abort')).toEqual([]);
        expect(p.answered('commit', id)).toHaveLength(1);
      }
      // Once the decision is commit, abort is refused as before.
      const late = await node.app.inject({ method: 'POST', url: `/v1/transactions/${id}/abort` });
      expect(late.statusCode).toBe(409);
      expect(late.json<{ error: { code: string } }>().error.code).toBe('TX_ALREADY_COMMITTED');
    });
  });
});

describe('retention', () => {
  it('the leader removes finished transactions past retainFinishedMs through a gc entry', async () => {
    const { node } = await startLeader({ config: { retainFinishedMs: 0 } });
    try {
      const res = await node.app.inject({ method: 'POST', url: '/v1/transactions', payload: { commit: true } });
      const id = res.json<TxView>().id;
      const active = await node.app.inject({ method: 'POST', url: '/v1/transactions', payload: {} });
      await eventually(async () => (await node.app.inject({ method: 'GET', url: `/v1/transactions/${id}` })).statusCode === 404, 'removed');
      expect(node.sm.get(active.json<TxView>().id)).not.toBeNull();
    } finally {
      await node.close();
    }
  });
});

describe('entries per transaction', () => {
  const types = (cluster: FakeCluster, txId: string): string[] =>
    cluster.entries.flatMap((e) => {
      const cmd = decodeCommand(e.data);
      if (cmd?.type === 'completedBatch') return cmd.completions.some((c) => c.txId === txId) ? [cmd.type] : [];
      return cmd !== null && 'txId' in cmd && cmd.txId === txId ? [cmd.type] : [];
    });
  /** Positions in the log of the entries that touch `txId`, with their types. */
  const positions = (cluster: FakeCluster, txId: string): Array<[number, string]> =>
    cluster.entries.flatMap((e, i) => {
      const cmd = decodeCommand(e.data);
      const touches =
        cmd?.type === 'completedBatch' ? cmd.completions.some((c) => c.txId === txId) : cmd !== null && 'txId' in cmd && cmd.txId === txId;
      return touches && cmd !== null ? [[i, cmd.type] as [number, string]] : [];
    });

  /** Votes commit at once, acknowledges once `gate` (default: open) resolves, and counts the phase-2 calls it answered. */
  function instantClient(gate: Promise<void> = Promise.resolve()): ParticipantClient & { readonly answered: Map<string, number> } {
    const answered = new Map<string, number>();
    return {
      answered,
      prepare: async (): Promise<PrepareResult> => ({ kind: 'vote', vote: 'commit' }),
      deliver: async (_kind, req): Promise<DeliverResult> => {
        await gate;
        answered.set(req.txId, (answered.get(req.txId) ?? 0) + 1);
        return { kind: 'ack', state: null };
      },
      close: async () => {},
    };
  }

  const oneShot = async (node: TestNode): Promise<string> => {
    const res = await node.app.inject({
      method: 'POST',
      url: '/v1/transactions',
      payload: { participants: [participant('a', 'http://127.0.0.1:9/a'), participant('b', 'http://127.0.0.1:9/b')], commit: true },
    });
    expect(res.statusCode).toBe(200);
    return res.json<TxView>().id;
  };
  const turns = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
  };

  it('a finished prepare leaves no waiter on the term signal; the end of the term cancels the prepares in flight', async () => {
    let hang = false;
    const termSignals = new Set<CancelSignal>();
    const prepareSignals: CancelSignal[] = [];
    const client: ParticipantClient = {
      prepare: (_req, call): Promise<PrepareResult> => {
        prepareSignals.push(call.signal);
        if (!hang) return Promise.resolve({ kind: 'vote', vote: 'commit' });
        return new Promise((resolve) => onAbort(call.signal, () => resolve({ kind: 'failure', error: 'cancelled' })));
      },
      deliver: async (_kind, _req, call): Promise<DeliverResult> => {
        termSignals.add(call.signal); // phase 2 calls run under the term's own signal
        return { kind: 'ack', state: null };
      },
      close: async () => {},
    };
    const { node, cluster } = await startLeader({ participantClient: client });
    try {
      for (let i = 0; i < 5; i++) await oneShot(node);
      await eventually(() => termSignals.size === 1, 'phase 2 ran');
      const [term] = [...termSignals];
      expect(waiting(term!)).toBe(0);
      hang = true;
      const pending = [0, 1, 2].map(() =>
        node.app.inject({
          method: 'POST',
          url: '/v1/transactions',
          payload: { participants: [participant('a', 'http://127.0.0.1:9/a'), participant('b', 'http://127.0.0.1:9/b')], commit: true },
        }),
      );
      await eventually(() => prepareSignals.length === 10 + 6, 'three transactions preparing');
      expect(waiting(term!)).toBe(3); // one per phase, whatever the number of its calls
      cluster.noLeader();
      await eventually(() => prepareSignals.slice(10).every((s) => s.aborted), 'prepares cancelled with the term');
      expect((await Promise.all(pending)).map((r) => r.statusCode).every((code) => code !== 200)).toBe(true);
      expect(waiting(term!)).toBe(0);
    } finally {
      await node.close();
    }
  });

  it('a participant client that throws instead of rejecting: phase 2 lets the sibling delivery finish before it retries', async () => {
    let openGate = (): void => {};
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    let inFlightToA = 0;
    let mostInFlightToA = 0;
    let thrown = 0;
    const answered = new Map<string, number>();
    const client: ParticipantClient = {
      prepare: async (): Promise<PrepareResult> => ({ kind: 'vote', vote: 'commit' }),
      // Not async: the first commit to b throws where a promise was due.
      deliver: (_kind, req): Promise<DeliverResult> => {
        if (req.participant === 'b' && thrown++ === 0) throw new Error('client bug');
        if (req.participant !== 'a') return Promise.resolve({ kind: 'ack', state: null });
        inFlightToA++;
        mostInFlightToA = Math.max(mostInFlightToA, inFlightToA);
        return gate.then(() => {
          inFlightToA--;
          answered.set(req.txId, (answered.get(req.txId) ?? 0) + 1);
          return { kind: 'ack', state: null };
        });
      },
      close: async () => {},
    };
    const { node } = await startLeader({ participantClient: client, config: { phase2BackoffBaseMs: 1, phase2BackoffCapMs: 5 } });
    try {
      const id = await oneShot(node);
      // The failed round retries within a few ms; a's first commit is still held.
      await new Promise((resolve) => setTimeout(resolve, 100));
      openGate();
      await eventually(() => node.sm.get(id)?.state === 'committed', 'committed');
      expect(thrown).toBeGreaterThanOrEqual(2);
      expect(mostInFlightToA).toBe(1);
    } finally {
      await node.close();
    }
  });

  it('a completion waits for the next decision and is proposed just before it, in the same turn (one Ready, one write)', async () => {
    const client = instantClient();
    // No timer in reach: only the next decision proposes the completion.
    const { node, cluster } = await startLeader({ participantClient: client, completionQueue: { delayMs: 600_000 } });
    try {
      const first = await oneShot(node);
      await eventually(() => client.answered.get(first) === 2, 'commit acknowledged by both');
      await turns(3); // the acknowledgements reach phase 2 and the completion is queued
      // Acknowledged, but held: decided and unfinished, as while a completed entry is in flight.
      expect(node.sm.get(first)?.state).toBe('committing');
      expect(types(cluster, first)).toEqual(['decided']);
      const second = await oneShot(node);
      // No waiting: the completion was applied before the second decision, which the answer waited for.
      expect(node.sm.get(first)?.state).toBe('committed');
      const [completion] = positions(cluster, first).filter(([, type]) => type !== 'decided');
      const [decided] = positions(cluster, second);
      expect(completion?.[1]).toBe('completed');
      expect(decided?.[1]).toBe('decided');
      expect(decided![0]).toBe(completion![0] + 1);
    } finally {
      await node.close();
    }
  });

  it('with no next decision a completion is proposed after delayMs; several share one completedBatch entry that applies each', async () => {
    let openAcks = (): void => {};
    const acks = new Promise<void>((resolve) => {
      openAcks = resolve;
    });
    const client = instantClient(acks);
    const { node, cluster } = await startLeader({ participantClient: client, completionQueue: { delayMs: 300 } });
    try {
      // Acknowledged only once every decision is in: no decision comes after the completions.
      const ids = await Promise.all([oneShot(node), oneShot(node), oneShot(node)]);
      openAcks();
      await eventually(() => ids.every((id) => node.sm.get(id)?.state === 'committed'), 'all completed by the timer');
      const batches = cluster.entries.flatMap((e) => {
        const cmd = decodeCommand(e.data);
        return cmd?.type === 'completedBatch' ? [cmd.completions.map((c) => c.txId)] : [];
      });
      expect(batches).toHaveLength(1);
      expect([...batches[0]!].sort()).toEqual([...ids].sort());
      for (const id of ids) {
        const view = await getView(node, id);
        expect(view.participants.map((p) => [p.name, p.acknowledged])).toEqual([
          ['a', true],
          ['b', true],
        ]);
      }
    } finally {
      await node.close();
    }
  });

  it('a full completion queue is proposed at once (itemsMax), without waiting for its timer or a decision', async () => {
    let openAcks = (): void => {};
    const acks = new Promise<void>((resolve) => {
      openAcks = resolve;
    });
    const client = instantClient(acks);
    const { node, cluster } = await startLeader({ participantClient: client, completionQueue: { delayMs: 600_000, itemsMax: 2 } });
    try {
      const ids = await Promise.all([oneShot(node), oneShot(node)]);
      openAcks();
      await eventually(() => ids.every((id) => node.sm.get(id)?.state === 'committed'), 'completed when the queue filled');
      expect(ids.map((id) => types(cluster, id))).toEqual([
        ['decided', 'completedBatch'],
        ['decided', 'completedBatch'],
      ]);
    } finally {
      await node.close();
    }
  });

  it('a fast one-shot 2PC transaction costs two entries: the record and the votes ride in decided, acknowledgements in completed', async () => {
    // A delay no test run reaches, so the count does not depend on the machine's speed.
    const { node, cluster } = await startLeader({ config: { progressRecordDelayMs: 600_000 } });
    const a = await FakeParticipant.start();
    const b = await FakeParticipant.start();
    try {
      const res = await node.app.inject({
        method: 'POST',
        url: '/v1/transactions',
        payload: { participants: [participant('a', a.url), participant('b', b.url)], commit: true },
      });
      const id = res.json<TxView>().id;
      await eventually(() => node.sm.get(id)?.state === 'committed', 'committed');
      expect(types(cluster, id)).toEqual(['decided', 'completed']);
      // The one entry on the client's path carries the whole record.
      const decided = cluster.entries.map((e) => decodeCommand(e.data)).find((c) => c?.type === 'decided' && c.txId === id);
      expect(decided?.type === 'decided' && decided.oneShot).toMatchObject({
        participants: [
          { name: 'a', url: a.url },
          { name: 'b', url: b.url },
        ],
        protocol: '2pc',
        preparedTerm: cluster.term,
      });
      const view = await getView(node, id);
      expect(view.participants.map((p) => [p.name, p.vote, p.acknowledged])).toEqual([
        ['a', 'commit', true],
        ['b', 'commit', true],
      ]);
    } finally {
      await node.close();
      await a.close();
      await b.close();
    }
  });

  it('an interactive 2PC transaction (and a 3PC one-shot) keeps its created entry', async () => {
    const { node, cluster } = await startLeader({ config: { progressRecordDelayMs: 600_000 } });
    const a = await FakeParticipant.start();
    try {
      const created = await node.app.inject({
        method: 'POST',
        url: '/v1/transactions',
        payload: { participants: [participant('a', a.url)] },
      });
      const id = created.json<TxView>().id;
      await node.app.inject({ method: 'POST', url: `/v1/transactions/${id}/commit` });
      await eventually(() => node.sm.get(id)?.state === 'committed', 'interactive committed');
      expect(types(cluster, id)).toEqual(['created', 'commitRequested', 'decided', 'completed']);
      const threePc = await node.app.inject({
        method: 'POST',
        url: '/v1/transactions',
        payload: { participants: [participant('a', a.url)], protocol: '3pc', commit: true },
      });
      const id3 = threePc.json<TxView>().id;
      await eventually(() => node.sm.get(id3)?.state === 'committed', '3pc committed');
      expect(types(cluster, id3)[0]).toBe('created');
    } finally {
      await node.close();
      await a.close();
    }
  });

  it('a slow prepare shows the votes already in; a failing commit shows who acknowledged', async () => {
    const { node, cluster } = await startLeader({ config: { progressRecordDelayMs: 20 } });
    const a = await FakeParticipant.start();
    const b = await FakeParticipant.start();
    try {
      b.setMode('hang', ['prepare']);
      const res = await node.app.inject({
        method: 'POST',
        url: '/v1/transactions',
        payload: { participants: [participant('a', a.url), participant('b', b.url)] },
      });
      const id = res.json<TxView>().id;
      const commit = node.app.inject({ method: 'POST', url: `/v1/transactions/${id}/commit` });
      // a's vote is replicated on its own while b's prepare hangs
      const preparing = await eventually(() => {
        const tx = node.sm.get(id);
        return tx?.state === 'preparing' && tx.participants[0]?.vote === 'commit' && tx;
      }, 'a vote recorded while preparing');
      expect(preparing.participants[1]?.vote).toBeNull();
      b.setMode('down', ['commit']);
      b.setMode('ok', ['prepare']);
      b.releaseHanging();
      expect((await commit).json<TxView>().outcome).toBe('committed');
      // b's commit keeps failing: a's acknowledgement is on record before the transaction can complete
      await eventually(() => node.sm.get(id)?.participants[0]?.acknowledged === true, 'a acknowledged while b fails');
      expect(node.sm.get(id)?.state).toBe('committing');
      b.setMode('ok', ['commit']);
      await eventually(() => node.sm.get(id)?.state === 'committed', 'committed');
      const entries = types(cluster, id);
      // the last vote and the last acknowledgement ride in the entry that closes their phase
      expect(entries.filter((t) => t === 'voteRecorded')).toEqual(['voteRecorded']);
      expect(entries.filter((t) => t === 'acknowledged')).toEqual(['acknowledged']);
      expect(entries.at(-1)).toBe('completed');
    } finally {
      await node.close();
      await a.close();
      await b.close();
    }
  });
});
