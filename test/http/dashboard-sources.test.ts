// Where the dashboard's data comes from: decisions seen in the replicated table
// (DecisionFeed), the table's in-flight picture (txActivity), and every member's
// own status (ClusterSurvey). The table is the real one, driven by real protocol
// runs on a fake log with HTTP participants.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ActivitySeries } from '../../src/http/activity-series.js';
import type { ClusterNode } from '../../src/http/cluster-node.js';
import { ClusterSurvey, judge, parseSelfReport, type SelfReport } from '../../src/http/cluster-survey.js';
import { DecisionFeed } from '../../src/http/decision-feed.js';
import { txActivity } from '../../src/http/tx-activity.js';
import type { NodeStatus } from '../../src/node/replicated-log.js';
import type { Member } from '../../src/raft/types.js';
import { createTxStateMachine } from '../../src/tx/state-machine.js';
import type { TxView } from '../../src/tx/types.js';
import type { FakeCluster } from '../tx/fake-log.js';
import { FakeParticipant } from '../tx/fake-participant.js';
import { eventually, participant, startLeader, testTxConfig, type TestNode } from '../tx/harness.js';

const totals = (s: ActivitySeries, nowMs = Date.now()) =>
  s.samples(nowMs).reduce(
    (t, w) => ({
      committed: t.committed + w.committed,
      aborted: t.aborted + w.aborted,
      timed: t.timed + (w.decisionLatencyMs === null ? 0 : 1),
    }),
    { committed: 0, aborted: 0, timed: 0 },
  );

describe('decisions and activity from the replicated table', () => {
  let node: TestNode;
  let cluster: FakeCluster;
  let a: FakeParticipant;
  let b: FakeParticipant;
  let series: ActivitySeries;
  let feed: DecisionFeed;

  beforeEach(async () => {
    ({ node, cluster } = await startLeader());
    a = await FakeParticipant.start();
    b = await FakeParticipant.start();
    series = new ActivitySeries({ intervalMs: 1000, windowsMax: 600 });
    feed = new DecisionFeed({ table: node.sm, series, recentMax: 3, trackedMax: 1000 });
  });
  afterEach(async () => {
    feed.close();
    await node.close();
    await a.close();
    await b.close();
  });

  const create = async (body: Record<string, unknown>): Promise<TxView> => {
    const res = await node.app.inject({
      method: 'POST',
      url: '/v1/transactions',
      payload: { participants: [participant('a', a.url, { n: 1 }), participant('b', b.url)], ...body },
    });
    expect(res.statusCode, res.body).toBeLessThan(300);
    return res.json<TxView>();
  };
  const finished = (id: string) => eventually(() => node.sm.get(id)?.completedAt != null, `${id} finished`);

  // However often the feed reads the table: at every change, between the steps (sampler ticks), or once at the end.
  for (const cadence of ['every change', 'between steps', 'at the end'] as const) {
    it(`counts each decision once, by outcome, however many entries follow it (reading ${cadence})`, async () => {
      if (cadence === 'every change') {
        feed.close();
        feed = new DecisionFeed({ table: node.sm, series, recentMax: 3, trackedMax: 1000, changedMax: 1 });
      }
      const step = (): void => {
        if (cadence === 'between steps') feed.flush();
      };
      let abortId = '';
      b.vote = (txId) => (txId === abortId ? { vote: 'abort', reason: 'no funds' } : { vote: 'commit' });
      const c1 = await create({ commit: true });
      step();
      a.setMode('error', ['commit']); // phase 2 of the next one fails a few times: participantFailing entries after the decision
      const c2 = await create({ commit: true });
      step();
      await eventually(() => node.sm.get(c2.id)?.participants.find((p) => p.name === 'a')?.failingSince != null, 'a reported failing');
      step();
      a.setMode('ok');
      abortId = (await create({})).id;
      step();
      const aborted = await node.app.inject({ method: 'POST', url: `/v1/transactions/${abortId}/commit` });
      expect(aborted.json<TxView>().outcome).toBe('aborted');
      for (const id of [c1.id, c2.id, abortId]) await finished(id);
      step();
      const open = await create({}); // undecided: not counted
      feed.flush();
      expect(totals(series)).toMatchObject({ committed: 2, aborted: 1 });
      expect(totals(series).timed).toBeGreaterThan(0);
      expect(feed.recentIds()).toEqual([abortId, c2.id, c1.id]);
      expect(feed.recentIds()).not.toContain(open.id);
      // Nothing new: reading again counts nothing again.
      await node.app.inject({ method: 'POST', url: `/v1/transactions/${open.id}/participants`, payload: participant('c', a.url) });
      feed.flush();
      expect(totals(series)).toMatchObject({ committed: 2, aborted: 1 });
    });
  }

  it('a node that replays the log (restart, catch-up) counts every decision once, in the window of its decidedAt', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await create({ commit: true })).id);
    for (const id of ids) await finished(id);
    // A new replica of the table, fed the whole log from the start.
    const replica = createTxStateMachine(testTxConfig);
    const replaySeries = new ActivitySeries({ intervalMs: 1000, windowsMax: 600 });
    const replayFeed = new DecisionFeed({ table: replica, series: replaySeries, recentMax: 10, trackedMax: 1000 });
    cluster.addNode('n9', replica);
    replayFeed.flush();
    expect(totals(replaySeries)).toMatchObject({ committed: 4, aborted: 0 });
    expect(replayFeed.recentIds()).toEqual([...ids].reverse());
    // A snapshot restore notifies every id again: nothing is counted twice.
    replica.restore(node.sm.snapshot());
    replayFeed.flush();
    expect(totals(replaySeries)).toMatchObject({ committed: 4, aborted: 0 });
    replayFeed.close();
  });

  it('remembers at most trackedMax undecided transactions: one evicted and then decided goes uncounted', async () => {
    feed.close();
    feed = new DecisionFeed({ table: node.sm, series, recentMax: 3, trackedMax: 1 });
    const first = await create({});
    feed.flush();
    const second = await create({});
    feed.flush(); // evicts first
    for (const id of [first.id, second.id])
      expect((await node.app.inject({ method: 'POST', url: `/v1/transactions/${id}/abort` })).statusCode).toBe(200);
    feed.flush();
    expect(totals(series)).toMatchObject({ committed: 0, aborted: 1 });
    expect(feed.recentIds()).toEqual([second.id]);
  });

  it('activity: in flight by state, stuck by age (oldest first), failing participants with their error, recent outcomes newest first', async () => {
    const done = await create({ commit: true });
    await finished(done.id);
    const active = await create({});
    b.setMode('error', ['commit']);
    const stuck = await create({ commit: true });
    await eventually(() => node.sm.get(stuck.id)?.participants.find((p) => p.name === 'b')?.failingSince != null, 'b reported failing');
    const young = await create({});

    feed.flush();
    const createdAt = (id: string): number => node.sm.get(id)!.createdAt;
    const nowMs = createdAt(young.id) + 5;
    const activity = txActivity(node.sm, feed.recentIds(), { nowMs, stuckAfterMs: nowMs - createdAt(stuck.id), limit: 10 });
    expect(activity.inFlight.count).toBe(3);
    expect(activity.inFlight.byState).toMatchObject({ active: 2, committing: 1, committed: 0 });
    expect(activity.inFlight.oldest.map((x) => x.tx.id)).toEqual([active.id, stuck.id, young.id]);
    expect(activity.inFlight.oldest[0]?.ageMs).toBe(nowMs - createdAt(active.id));
    // stuck: in flight at least stuckAfterMs, so the two older ones and not the young one
    expect(activity.stuck).toMatchObject({ count: 2 });
    expect(activity.stuck.oldest.map((x) => x.tx.id)).toEqual([active.id, stuck.id]);
    expect(activity.failing.count).toBe(1);
    const f = activity.failing.participants[0]!;
    expect(f).toMatchObject({ txId: stuck.id, txState: 'committing', participant: 'b', url: b.url });
    expect(f.lastError).toMatch(/calls failed in a row/);
    expect(f.failingForMs).toBe(nowMs - Date.parse(f.failingSince));
    expect(activity.recent.map((r) => r.tx.id)).toEqual([stuck.id, done.id]);
    const decided = node.sm.get(done.id)!;
    expect(activity.recent[1]?.decisionLatencyMs).toBe(decided.decidedAt! - decided.createdAt);

    const capped = txActivity(node.sm, feed.recentIds(), { nowMs, stuckAfterMs: 0, limit: 1 });
    expect(capped.inFlight).toMatchObject({ count: 3 });
    expect(capped.inFlight.oldest).toHaveLength(1);
    expect(capped.stuck).toMatchObject({ count: 3 });
    expect(capped.stuck.oldest).toHaveLength(1);
    expect(capped.recent).toHaveLength(1);
  });
});

describe('ClusterSurvey', () => {
  const members: Member[] = [
    { id: 'n1', url: 'http://n1.test', voter: true },
    { id: 'n2', url: 'http://n2.test', voter: true },
    { id: 'n3', url: 'http://n3.test', voter: true },
    { id: 'n4', url: 'http://n4.test', voter: false },
  ];
  const self: NodeStatus = {
    nodeId: 'n1',
    role: 'follower',
    term: 7,
    leaderId: 'n2',
    leaderUrl: 'http://n2.test',
    commitIndex: 100,
    appliedIndex: 98,
    members,
    removed: false,
  };
  const fakeNode = (status: NodeStatus = self): ClusterNode => ({ nodeId: status.nodeId, status: () => status }) as unknown as ClusterNode;
  const report = (r: Partial<SelfReport> & { nodeId: string }): SelfReport => ({
    role: 'follower',
    term: 7,
    leaderId: 'n2',
    commitIndex: 100,
    appliedIndex: 100,
    ...r,
  });

  it("asks every other member, takes the leader's commit index as the reference, and judges each member", async () => {
    const asked: string[] = [];
    const survey = new ClusterSurvey({
      node: fakeNode(),
      lagEntriesMax: 10,
      probeTimeoutMs: 50,
      now: () => 1234,
      prober: async (m) => {
        asked.push(m.id);
        if (m.id === 'n2') return report({ nodeId: 'n2', role: 'leader', commitIndex: 120, appliedIndex: 119 });
        if (m.id === 'n3') throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
        return report({ nodeId: 'n4', role: 'learner', appliedIndex: 80 });
      },
    });
    const view = await survey.survey();
    expect(asked.sort()).toEqual(['n2', 'n3', 'n4']); // not itself: its own status is at hand
    expect(view).toMatchObject({ observedBy: 'n1', atMs: 1234, leaderId: 'n2', term: 7, lagEntriesMax: 10 });
    const byId = Object.fromEntries(view.members.map((m) => [m.id, m]));
    expect(byId['n1']).toMatchObject({ health: 'lagging', lagEntries: 22, report: { nodeId: 'n1', role: 'follower', appliedIndex: 98 } });
    expect(byId['n2']).toMatchObject({ health: 'ok', lagEntries: 1, error: null });
    expect(byId['n3']).toMatchObject({ health: 'unreachable', report: null, lagEntries: null, error: 'connect ECONNREFUSED 127.0.0.1:1' });
    expect(byId['n4']).toMatchObject({ health: 'lagging', lagEntries: 40, voter: false });
    await survey.close();
  });

  it('without a reachable leader: no lag, and members that know no leader say so', async () => {
    const leaderless: NodeStatus = { ...self, role: 'candidate', leaderId: null, term: 9 };
    const survey = new ClusterSurvey({
      node: fakeNode(leaderless),
      lagEntriesMax: 10,
      probeTimeoutMs: 50,
      prober: async (m) => {
        if (m.id === 'n2') throw new Error('timed out');
        return report({ nodeId: m.id, leaderId: m.id === 'n3' ? null : 'n2' });
      },
    });
    const view = await survey.survey();
    expect(view.leaderId).toBeNull();
    expect(view.members.map((m) => [m.id, m.health, m.lagEntries])).toEqual([
      ['n1', 'no-leader', null],
      ['n2', 'unreachable', null],
      ['n3', 'no-leader', null],
      ['n4', 'ok', null],
    ]);
  });

  it('two leaders in sight (a deposed one not yet told): the higher term is the leader', async () => {
    const survey = new ClusterSurvey({
      node: fakeNode(),
      lagEntriesMax: 10,
      probeTimeoutMs: 50,
      prober: async (m) =>
        report({ nodeId: m.id, role: m.id === 'n4' ? 'learner' : 'leader', term: m.id === 'n3' ? 8 : 7, leaderId: m.id }),
    });
    expect(await survey.survey()).toMatchObject({ leaderId: 'n3', term: 8 });
  });

  it('a member URL that answers as another node is reported, not believed', async () => {
    const survey = new ClusterSurvey({
      node: fakeNode(),
      lagEntriesMax: 10,
      probeTimeoutMs: 50,
      prober: async () => report({ nodeId: 'n7', role: 'leader' }),
    });
    const n2 = (await survey.survey()).members.find((m) => m.id === 'n2');
    expect(n2).toMatchObject({ health: 'unreachable', error: 'http://n2.test answers as node n7', report: null });
  });

  it('concurrent callers share one round of probes', async () => {
    let probes = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const survey = new ClusterSurvey({
      node: fakeNode(),
      lagEntriesMax: 10,
      probeTimeoutMs: 50,
      prober: async (m) => {
        probes++;
        await gate;
        return report({ nodeId: m.id });
      },
    });
    const first = survey.survey();
    const second = survey.survey();
    release();
    expect(await first).toBe(await second);
    expect(probes).toBe(3);
    await survey.survey();
    expect(probes).toBe(6); // a later call asks again
  });

  it("a member's answer is data: an implausible one is refused", () => {
    expect(
      parseSelfReport({ nodeId: 'n2', role: 'leader', term: 3, leaderId: 'n2', commitIndex: 9, appliedIndex: 9, extra: true }),
    ).toEqual({
      nodeId: 'n2',
      role: 'leader',
      term: 3,
      leaderId: 'n2',
      commitIndex: 9,
      appliedIndex: 9,
    });
    for (const bad of [
      null,
      'x',
      { nodeId: 'n2', role: 'king', term: 1, leaderId: null, commitIndex: 1, appliedIndex: 1 },
      { nodeId: 'n2', role: 'leader', term: -1, leaderId: null, commitIndex: 1, appliedIndex: 1 },
      { nodeId: 'n2', role: 'leader', term: 1, leaderId: 5, commitIndex: 1, appliedIndex: 1 },
    ]) {
      expect(() => parseSelfReport(bad)).toThrow('implausible');
    }
  });

  it('judge: lag is never negative (a member ahead of what the leader reported a moment ago)', () => {
    const leader = report({ nodeId: 'n2', role: 'leader', commitIndex: 50 });
    expect(judge(members[0]!, report({ nodeId: 'n1', appliedIndex: 52 }), null, leader, 0)).toMatchObject({ health: 'ok', lagEntries: 0 });
  });
});
