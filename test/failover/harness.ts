// Shared steps of the multi-process failover suites: a 3-node `--state-machine tx`
// cluster (test/helpers/cluster.ts), the transaction API over real HTTP, leader
// kills at a known term, and the end-state check every scenario ends with:
// one outcome, reported by every live node, applied by every participant, with
// nothing left in doubt.
import { expect } from 'vitest';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { httpJson, type JsonResponse } from '../helpers/http.js';
import { waitUntil } from '../helpers/wait.js';
import type { GatedParticipant } from './gated-participant.js';

export type Outcome = 'committed' | 'aborted';

export interface TxView {
  readonly id: string;
  readonly state: 'active' | 'preparing' | 'precommitted' | 'committing' | 'aborting' | 'committed' | 'aborted';
  readonly outcome: Outcome | null;
  readonly protocol: '2pc' | '3pc';
  readonly participants: readonly {
    name: string;
    url: string;
    vote: 'commit' | 'abort' | null;
    acknowledged: boolean;
    lastError?: string;
  }[];
}

/**
 * Node settings for kill-point tests. Participant calls get a long
 * per-call timeout so a call a test holds stays in flight until the kill (the
 * leader must not give up on it first and move past the kill point); phase 2
 * backoff is capped low so a participant that comes back is retried soon.
 */
export const TX_FLAGS: readonly string[] = [
  // Election timeout 600-1200 ms instead of 300-600: on a loaded 2-core machine a
  // node's event loop can stall long enough to start a needless election, which
  // would move leadership away from the kill point a test has set up.
  ...['--election-ticks', '30'],
  ...['--tx', 'prepareCallTimeoutMs=120000'],
  ...['--tx', 'phase2CallTimeoutMs=120000'],
  ...['--tx', 'phase2BackoffCapMs=500'],
  ...['--tx', 'participantFailingThreshold=3'],
];

/** Generous bound on every liveness wait (elections, re-drives, phase 2 retries). */
export const SETTLE_TIMEOUT_MS = 45_000;

export function startTxCluster(extraArgs: readonly string[] = []): Promise<TestCluster> {
  return startCluster({ nodes: 3, stateMachine: 'tx', args: [...TX_FLAGS, ...extraArgs], logLevel: 'info' });
}

export function txUrl(id: string): string {
  return `/v1/transactions/${encodeURIComponent(id)}`;
}

// biome-ignore lint/suspicious/noExplicitAny: tests read the JSON they expect
export function post<T = any>(
  cluster: TestCluster,
  nodeId: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<JsonResponse<T>> {
  return httpJson<T>('POST', `${cluster.url(nodeId)}${path}`, { ...(body === undefined ? {} : { body }), headers, timeoutMs: 60_000 });
}

/** A POST whose answer may never come (its node is about to be killed): never rejects. */
export function postInBackground(
  cluster: TestCluster,
  nodeId: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<JsonResponse<TxView> | Error> {
  return post<TxView>(cluster, nodeId, path, body, headers).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
}

export async function getTx(cluster: TestCluster, nodeId: string, id: string): Promise<JsonResponse<TxView>> {
  return httpJson<TxView>('GET', `${cluster.url(nodeId)}${txUrl(id)}`, { timeoutMs: 5_000 });
}

/** Polls GET on `nodeId` until `pred` holds for the view. */
export function waitForView(cluster: TestCluster, nodeId: string, id: string, pred: (v: TxView) => boolean, what: string): Promise<TxView> {
  let last: TxView | undefined;
  return waitUntil(
    async () => {
      const res = await getTx(cluster, nodeId, id);
      if (res.status !== 200) return undefined;
      last = res.body;
      return pred(res.body) ? res.body : undefined;
    },
    { timeoutMs: SETTLE_TIMEOUT_MS, what: `${what} on ${nodeId} (last view ${JSON.stringify(last)})` },
  );
}

/**
 * SIGKILLs the leader of `term`. Fails if leadership already moved on: the test
 * would no longer be killing at the protocol point it set up.
 */
export async function killLeaderOf(cluster: TestCluster, term: number): Promise<string> {
  const { leaderId, term: now } = await cluster.waitForLeader();
  if (now !== term)
    throw new Error(`leadership moved from term ${term} to ${now} (leader ${leaderId}) before the kill; the kill point was missed`);
  await cluster.stopNode(leaderId, 'SIGKILL');
  return leaderId;
}

/** A leader of a later term than `oldTerm`, acknowledged by a quorum. */
export function waitForNewLeader(cluster: TestCluster, oldTerm: number): Promise<{ leaderId: string; term: number }> {
  return waitUntil(
    async () => {
      const l = await cluster.waitForLeader({ timeoutMs: 5_000 });
      return l.term > oldTerm ? l : undefined;
    },
    { timeoutMs: SETTLE_TIMEOUT_MS, what: `a leader of a term after ${oldTerm}` },
  );
}

export function isFinished(v: TxView): boolean {
  return (v.state === 'committed' || v.state === 'aborted') && v.participants.every((p) => p.acknowledged);
}

/**
 * The end state of every scenario: each live node (GET is a linearizable read on
 * any node) reports the same finished outcome with every participant
 * acknowledged; each participant's durable record holds that outcome; and the
 * handlers ran as the outcome requires (commit exactly once, or never).
 */
export async function expectSettled(
  cluster: TestCluster,
  id: string,
  participants: readonly GatedParticipant[],
  expected?: Outcome,
  /** Nodes to ask; default every running node (a SIGSTOPped one must be left out). */
  on?: readonly string[],
): Promise<Outcome> {
  const live = on ?? cluster.live().map((n) => n.id);
  const views = await Promise.all(live.map((nodeId) => waitForView(cluster, nodeId, id, isFinished, `transaction ${id} to finish`)));
  const outcomes = new Set(views.map((v) => v.outcome));
  expect([...outcomes], `outcome of ${id} per node ${live.join(',')}`).toHaveLength(1);
  const outcome = views[0]!.outcome!;
  expect(views.map((v) => v.state)).toEqual(live.map(() => outcome));
  if (expected !== undefined) expect(outcome, `outcome of ${id}`).toBe(expected);
  for (const p of participants) await expectParticipantSettled(p, id, outcome, views[0]!.protocol);
  return outcome;
}

/** One participant's side of expectSettled. */
export async function expectParticipantSettled(p: GatedParticipant, id: string, outcome: Outcome, protocol: '2pc' | '3pc'): Promise<void> {
  // The SDK writes its record before it answers, and the coordinator marks an
  // acknowledgement only after an answer, so the record is final by now.
  const record = await p.record(id);
  const where = `${p.name} for ${id} (record ${JSON.stringify(record)}, handler calls ${JSON.stringify(p.handlerCalls.filter((h) => h.txId === id))})`;
  if (record === undefined && outcome === 'aborted') {
    // Presumed abort: a transaction aborted before prepare was sent needs no word
    // to its participants. Settled only if this one really never heard of it.
    expect(p.txIdsSeen().has(id), `${where}: no record, yet it was called`).toBe(false);
    expect(
      p.handlerCalls.filter((h) => h.txId === id),
      where,
    ).toEqual([]);
    return;
  }
  expect(record?.state, where).toBe(outcome);
  const count = (k: 'prepare' | 'precommit' | 'commit' | 'abort'): number => p.handlerCount(k, id);
  if (outcome === 'committed') {
    // 3PC: a prepared participant may learn the outcome from the cluster (committed from
    // precommitted on) and commit before its precommit call arrives; it then skips precommit.
    const precommits = count('precommit');
    expect(
      {
        prepare: count('prepare'),
        precommit: protocol === '3pc' ? precommits <= 1 : precommits,
        commit: count('commit'),
        abort: count('abort'),
      },
      where,
    ).toEqual({
      prepare: 1,
      precommit: protocol === '3pc' ? true : 0,
      commit: 1,
      abort: 0,
    });
  } else {
    // A participant that voted commit releases once; one that never prepared or voted abort has nothing to release.
    expect({ prepare: count('prepare') <= 1, commit: count('commit'), abort: count('abort') }, where).toEqual({
      prepare: true,
      commit: 0,
      abort: record?.vote === 'commit' ? 1 : 0,
    });
  }
}

/** Restarts a killed node and checks it, too, reports each transaction's outcome. */
export async function restartAndExpect(cluster: TestCluster, nodeId: string, outcomes: ReadonlyMap<string, Outcome>): Promise<void> {
  await cluster.startNode(nodeId);
  for (const [id, outcome] of outcomes) {
    const v = await waitForView(cluster, nodeId, id, isFinished, `restarted ${nodeId} to report ${id}`);
    expect({ node: nodeId, id, outcome: v.outcome, state: v.state }).toEqual({ node: nodeId, id, outcome, state: outcome });
  }
}

/** Between tests: every node running (resumed if stopped) and a leader elected. */
export async function ensureFullCluster(cluster: TestCluster): Promise<void> {
  for (const n of cluster.nodes) {
    if (n.proc?.pid !== undefined) {
      try {
        process.kill(n.proc.pid, 'SIGCONT');
      } catch {
        // already gone
      }
    }
  }
  for (const n of cluster.nodes) if (n.proc === null) await cluster.startNode(n.id);
  await cluster.waitForLeader();
}

/**
 * Every call a participant received with a term older than one it had already
 * seen was refused as STALE_TERM. Returns how many were refused, so a test can
 * insist that fencing actually happened.
 */
export function expectStaleCallsFenced(p: GatedParticipant, id: string): number {
  let fenced = 0;
  for (const c of p.callsOf(id)) {
    if (c.via === 'refused' || c.term >= c.highestTermBefore) continue;
    fenced++;
    const code = (c.body as { error?: { code?: string } } | null)?.error?.code;
    expect({ participant: p.name, path: c.path, term: c.term, seen: c.highestTermBefore, status: c.status, code }).toEqual({
      participant: p.name,
      path: c.path,
      term: c.term,
      seen: c.highestTermBefore,
      status: 409,
      code: 'STALE_TERM',
    });
  }
  return fenced;
}

const STATE_RANK: Record<TxView['state'], number> = {
  active: 0,
  preparing: 1,
  precommitted: 2,
  committing: 3,
  aborting: 3,
  committed: 4,
  aborted: 4,
};

interface TimedRead {
  readonly node: string;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly state: TxView['state'];
  readonly outcome: Outcome | null;
}

/**
 * Reads one transaction from every running node, over and over, while a
 * scenario runs (kills and restarts included), and checks the reads are
 * linearizable for what a client can see: a read that starts after another
 * ended never shows an earlier state, and never a different outcome once one
 * was shown. Reads that fail (dead node, no leader) are skipped.
 */
export class ViewWatcher {
  private readonly reads: TimedRead[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly cluster: TestCluster,
    private readonly id: string,
    private readonly intervalMs = 100,
  ) {
    this.loop = this.run();
  }

  /** Stops reading and asserts the history; returns how many reads succeeded. */
  async stop(): Promise<number> {
    await this.cancel();
    this.check();
    return this.reads.length;
  }

  /** Stops reading without checking (cleanup after a failed test). */
  async cancel(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      await Promise.all(this.cluster.live().map((n) => this.readOnce(n.id)));
      await new Promise((r) => setTimeout(r, this.intervalMs));
    }
  }

  private async readOnce(node: string): Promise<void> {
    const startedAt = performance.now();
    try {
      const res = await getTx(this.cluster, node, this.id);
      if (res.status !== 200) return;
      this.reads.push({ node, startedAt, endedAt: performance.now(), state: res.body.state, outcome: res.body.outcome });
    } catch {
      // node down or stalled: not a read
    }
  }

  private check(): void {
    for (const earlier of this.reads) {
      for (const later of this.reads) {
        if (later.startedAt <= earlier.endedAt) continue;
        const pair = { earlier, later };
        if (STATE_RANK[later.state] < STATE_RANK[earlier.state]) expect.fail(`a later read went back in state: ${JSON.stringify(pair)}`);
        if (earlier.outcome !== null && later.outcome !== earlier.outcome)
          expect.fail(`a later read lost or changed the outcome: ${JSON.stringify(pair)}`);
      }
    }
  }
}
