// The metrics of issue 16 on real nodes: three startNode() nodes in this process
// (LevelDB, HTTP on loopback, the node's own wiring), a fake participant, and
// real traffic. Each metric is read from GET /metrics before and after the
// traffic that should move it, so a metric that exists but never moves fails.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { resolveNodeConfig } from '../../src/node/config.js';
import { startNode, type RunningNode } from '../../src/node/server.js';
import { freePorts } from '../helpers/cluster.js';
import { httpJson, metricValue } from '../helpers/http.js';
import { waitUntil } from '../helpers/wait.js';
import { FakeParticipant } from '../tx/fake-participant.js';

const ids = ['m1', 'm2', 'm3'];
const dataRoot = mkdtempSync(join(tmpdir(), 'ratify-metrics-'));
const nodes = new Map<string, RunningNode>();
let urls: Record<string, string> = {};
let bank: FakeParticipant;

beforeAll(async () => {
  bank = await FakeParticipant.start();
  const ports = await freePorts(ids.length);
  urls = Object.fromEntries(ids.map((id, i) => [id, `http://127.0.0.1:${ports[i]}`]));
  const peers = ids.map((id) => `${id}=${urls[id]}`).join(',');
  for (const id of ids) {
    const config = resolveNodeConfig({
      flags: { id, peers, dataDir: join(dataRoot, id), stateMachine: 'tx', tickMs: '10' },
      // Small enough to reach 429 with a handful of open transactions.
      txFlags: ['maxActiveTransactions=4', 'phase2BackoffBaseMs=10', 'phase2BackoffCapMs=50'],
    });
    nodes.set(id, await startNode(config, { processMetrics: false, logger: silentLogger() }));
  }
});

afterAll(async () => {
  await Promise.all([...nodes.values()].map((n) => n.stop()));
  await bank?.close();
  rmSync(dataRoot, { recursive: true, force: true });
});

async function leader(): Promise<string> {
  return waitUntil(
    async () => {
      // Ask a node still running: an earlier test may have stopped any of them.
      const asked = [...nodes.keys()][0]!;
      const r = await httpJson<{ leaderId: string | null }>('GET', `${urls[asked]}/v1/cluster`);
      return r.body.leaderId !== null &&
        nodes.has(r.body.leaderId) &&
        (await httpJson('GET', `${urls[r.body.leaderId]}/readyz`)).status === 200
        ? r.body.leaderId
        : undefined;
    },
    { what: 'a ready leader' },
  );
}

async function scrape(id: string): Promise<string> {
  const r = await httpJson<string>('GET', `${urls[id]}/metrics`);
  expect(r.status).toBe(200);
  return r.body;
}

const read = (text: string, name: string, labels: Record<string, string> = {}): number => metricValue(text, name, labels) ?? 0;

const participant = (name: string) => ({ name, url: bank.url, payload: { n: 1 } });

describe('metrics that answer questions, on a live cluster', () => {
  it('times decisions and completions by protocol, and participant calls by name', async () => {
    const l = await leader();
    const before = await scrape(l);
    for (const protocol of ['2pc', '3pc'] as const) {
      const r = await httpJson('POST', `${urls[l]}/v1/transactions`, {
        body: { participants: [participant('bank-a'), participant('bank-b')], protocol, commit: true },
      });
      expect(r.status).toBe(200);
    }
    await waitUntil(
      async () =>
        read(await scrape(l), 'ratify_tx_completion_seconds_count', { protocol: '3pc' }) >=
        read(before, 'ratify_tx_completion_seconds_count', { protocol: '3pc' }) + 1,
      {
        what: 'completions observed',
      },
    );
    const after = await scrape(l);
    for (const protocol of ['2pc', '3pc']) {
      expect(read(after, 'ratify_tx_decision_seconds_count', { protocol })).toBe(
        read(before, 'ratify_tx_decision_seconds_count', { protocol }) + 1,
      );
      expect(read(after, 'ratify_tx_completion_seconds_count', { protocol })).toBe(
        read(before, 'ratify_tx_completion_seconds_count', { protocol }) + 1,
      );
      expect(read(after, 'ratify_tx_decision_seconds_sum', { protocol })).toBeGreaterThan(
        read(before, 'ratify_tx_decision_seconds_sum', { protocol }),
      );
    }
    // 2PC: prepare and commit; 3PC: prepare, precommit and commit; to each of the two participants.
    expect(read(after, 'ratify_tx_participant_call_seconds_count', { participant: 'bank-a', call: 'prepare' })).toBe(2);
    expect(read(after, 'ratify_tx_participant_call_seconds_count', { participant: 'bank-b', call: 'precommit' })).toBe(1);
    expect(read(after, 'ratify_tx_participant_call_seconds_count', { participant: 'bank-b', call: 'commit' })).toBe(2);
    expect(read(after, 'ratify_tx_transactions', { state: 'committed' })).toBeGreaterThanOrEqual(2);
    // Once per transaction, by the leader: a follower times none of them.
    const follower = ids.find((id) => id !== l)!;
    expect(read(await scrape(follower), 'ratify_tx_decision_seconds_count', { protocol: '2pc' })).toBe(0);
  });

  it('shows the oldest unfinished transaction and the transactions per state', async () => {
    const l = await leader();
    expect(read(await scrape(l), 'ratify_tx_oldest_unfinished_age_seconds')).toBe(0);
    const open = await httpJson<{ id: string }>('POST', `${urls[l]}/v1/transactions`, { body: { timeoutMs: 60_000 } });
    expect(open.status).toBe(201);
    // Every replica reads the same table.
    for (const id of ids) {
      await waitUntil(async () => read(await scrape(id), 'ratify_tx_transactions', { state: 'active' }) === 1, {
        what: `${id} counts the active transaction`,
      });
    }
    await waitUntil(async () => read(await scrape(l), 'ratify_tx_oldest_unfinished_age_seconds') > 0.05, {
      what: 'the open transaction ages',
    });
    expect((await httpJson('POST', `${urls[l]}/v1/transactions/${open.body.id}/abort`)).status).toBe(200);
    await waitUntil(async () => read(await scrape(l), 'ratify_tx_oldest_unfinished_age_seconds') === 0, {
      what: 'no unfinished transaction',
    });
    expect(read(await scrape(l), 'ratify_tx_transactions', { state: 'aborted' })).toBeGreaterThanOrEqual(1);
  });

  it('counts rejected requests by code and status at the edge', async () => {
    const l = await leader();
    const before = await scrape(l);
    expect((await httpJson('GET', `${urls[l]}/v1/transactions/no-such-transaction`)).status).toBe(404);
    expect((await httpJson('POST', `${urls[l]}/v1/transactions`, { body: { protocol: '4pc' } })).status).toBe(400);
    expect((await httpJson('GET', `${urls[l]}/no/such/route`)).status).toBe(404);
    // maxActiveTransactions=4: the fifth open transaction is 429 TOO_MANY_PENDING.
    const opened: string[] = [];
    let refused = 0;
    for (let i = 0; i < 5; i++) {
      const r = await httpJson<{ id: string }>('POST', `${urls[l]}/v1/transactions`, { body: { timeoutMs: 60_000 } });
      if (r.status === 201) opened.push(r.body.id);
      else if (r.status === 429) refused++;
    }
    expect(refused).toBe(1);
    const after = await scrape(l);
    const moved = (code: string, status: string): number =>
      read(after, 'ratify_http_requests_rejected_total', { code, status }) -
      read(before, 'ratify_http_requests_rejected_total', { code, status });
    expect(moved('TX_NOT_FOUND', '404')).toBe(1);
    expect(moved('VALIDATION_FAILED', '400')).toBe(1);
    expect(moved('ROUTE_NOT_FOUND', '404')).toBe(1);
    expect(moved('TOO_MANY_PENDING', '429')).toBe(1);
    for (const id of opened) await httpJson('POST', `${urls[l]}/v1/transactions/${id}/abort`);
  });

  it('counts a participant that reached the other outcome as a protocol violation', async () => {
    const l = await leader();
    const before = read(await scrape(l), 'ratify_tx_protocol_violations_total', { call: 'commit' });
    bank.setMode('already-aborted', ['commit']);
    try {
      const r = await httpJson('POST', `${urls[l]}/v1/transactions`, { body: { participants: [participant('bank-v')], commit: true } });
      expect(r.status).toBe(200);
      await waitUntil(async () => read(await scrape(l), 'ratify_tx_protocol_violations_total', { call: 'commit' }) === before + 1, {
        what: 'the violation counted',
      });
    } finally {
      bank.setMode('ok');
    }
  });

  it('shows replication lag and append round trips per peer on the leader, and elections won', async () => {
    const l = await leader();
    const followers = ids.filter((id) => id !== l);
    for (let i = 0; i < 5; i++) await httpJson('POST', `${urls[l]}/v1/transactions`, { body: { commit: true } });
    const text = await scrape(l);
    for (const peer of followers) {
      expect(metricValue(text, 'ratify_raft_replication_lag_entries', { peer })).toBeDefined();
      expect(read(text, 'ratify_raft_append_rtt_seconds_count', { peer })).toBeGreaterThan(0);
    }
    expect(read(text, 'ratify_raft_elections_total', { result: 'won' })).toBeGreaterThanOrEqual(1);
    // Followers show no lag series of their own.
    expect(metricValue(await scrape(followers[0]!), 'ratify_raft_replication_lag_entries')).toBeUndefined();

    // A follower that stops answering falls behind by every entry written since.
    const stopped = followers[0]!;
    await nodes.get(stopped)!.stop();
    nodes.delete(stopped);
    const lagBefore = read(await scrape(l), 'ratify_raft_replication_lag_entries', { peer: stopped });
    for (let i = 0; i < 3; i++) expect((await httpJson('POST', `${urls[l]}/v1/transactions`, { body: { commit: true } })).status).toBe(200);
    expect(read(await scrape(l), 'ratify_raft_replication_lag_entries', { peer: stopped })).toBeGreaterThanOrEqual(lagBefore + 3);
    await waitUntil(async () => read(await scrape(l), 'ratify_raft_replication_lag_entries', { peer: followers[1]! }) === 0, {
      what: 'the live follower caught up',
    });
  });

  it('counts 503s once the last follower is gone (no leader, no quorum)', async () => {
    const l = await leader();
    const before = await scrape(l);
    const last = ids.find((id) => id !== l && nodes.has(id))!;
    await nodes.get(last)!.stop();
    nodes.delete(last);
    // CheckQuorum makes the lone leader step down; reads then find no leader.
    await waitUntil(async () => (await httpJson('GET', `${urls[l]}/v1/transactions`, { timeoutMs: 10_000 })).status === 503, {
      what: 'a 503 without quorum',
    });
    const after = await scrape(l);
    const sum = (text: string): number =>
      ['NO_LEADER', 'NOT_LEADER', 'LEADERSHIP_LOST'].reduce(
        (n, code) => n + read(text, 'ratify_http_requests_rejected_total', { code, status: '503' }),
        0,
      );
    expect(sum(after)).toBeGreaterThan(sum(before));
  });
});
