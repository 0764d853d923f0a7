// A disk stall is not a change of leader, and a dead disk still is. Three `ratify
// node --state-machine kv` processes, each with the test-only switch
// RATIFY_TEST_STALL_STORAGE_FILE (src/node/test-switches.ts) on a file of its own.
// The leader's log writes stall for 2 s, over three times the longest election
// timeout (300-600 ms), with a write pending, so its Ready loop waits on a save
// the whole time; then every node's stall at once, as one shared disk would.
// Before raft-node.ts sent heartbeats and their answers outside the Ready loop,
// the followers heard nothing and elected another leader, or the leader's
// CheckQuorum deposed it: this test then sees a new term. Now every node names
// the same leader in the same term throughout, and the pending writes complete
// once the disk answers. Past HEARTBEATS_DURING_SAVE_ELECTIONS election timeouts
// (3 s here) the stalled leader stops, as a dead disk's must: with its writes
// stalled for 6 s the followers elect another, which takes writes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STALL_STORAGE_FILE_ENV } from '../../src/node/test-switches.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { httpJson } from '../helpers/http.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const STALL_MS = 2_000;
/** Past the 3 s (10 election timeouts of 300 ms) a stalled leader heartbeats for. */
const DEAD_MS = 6_000;
/** How often the stall is watched: several looks per election timeout. */
const LOOK_MS = 100;
const IDS = ['n1', 'n2', 'n3'] as const;

const stallDir = mkdtempSync(join(tmpdir(), 'ratify-stall-'));
const stallFile = (id: string): string => join(stallDir, id);
let cluster: TestCluster | null = null;

beforeAll(async () => {
  cluster = await startCluster({
    nodes: 3,
    stateMachine: 'kv',
    nodeEnv: Object.fromEntries(IDS.map((id) => [id, { NODE_ENV: 'test', [STALL_STORAGE_FILE_ENV]: stallFile(id) }])),
  });
}, 120_000);

afterAll(async () => {
  // A stalled write would hold up the nodes' stop.
  for (const id of IDS) rmSync(stallFile(id), { force: true });
  await cluster?.cleanup();
  rmSync(stallDir, { recursive: true, force: true });
});

/** Every node's view of leader and term, looked at every LOOK_MS for `ms`. */
async function watch(c: TestCluster, ms: number): Promise<Set<string>> {
  const seen = new Set<string>();
  const until = Date.now() + ms;
  while (Date.now() < until) {
    for (const id of IDS) {
      const v = await c.view(id);
      seen.add(`${v.leaderId}@${v.term}`);
    }
    await sleep(LOOK_MS);
  }
  return seen;
}

describe('a stalled disk', () => {
  it(
    'keeps the leader and its term, on the leader alone and on every node at once; the writes complete after',
    { timeout: 60_000 },
    async () => {
      const c = cluster!;
      const { leaderId, term, url } = await c.waitForLeader();
      const put = (key: string) => httpJson('PUT', `${url}/v1/kv/${key}`, { body: { value: key }, timeoutMs: 20_000 });
      expect((await put('before')).status).toBe(200);
      const steady = `${leaderId}@${term}`;

      for (const stalled of [[leaderId], [...IDS]]) {
        for (const id of stalled) writeFileSync(stallFile(id), '');
        // Its entry waits on the stalled save: the leader's Ready loop is held the whole time.
        const pending = put(`during-${stalled.length}`);
        // Ended by the clock, not by the watch: a slow look on a loaded machine must not
        // stretch the stall towards the 3 s after which the leader stops heartbeating.
        const unstall = sleep(STALL_MS).then(() => {
          for (const id of stalled) rmSync(stallFile(id));
        });
        const seen = await watch(c, STALL_MS);
        await unstall;
        expect([...seen], `stalled ${stalled.join(', ')}`).toEqual([steady]);
        expect((await pending).status).toBe(200);
      }
      expect((await put('after')).status).toBe(200);
      expect([...(await watch(c, 500))]).toEqual([steady]);
    },
  );

  it(
    'loses the leader whose disk stays stalled past the bound: the followers elect another, which takes writes',
    { timeout: 60_000 },
    async () => {
      const c = cluster!;
      const old = await c.waitForLeader();
      const followers = IDS.filter((id) => id !== old.leaderId);
      writeFileSync(stallFile(old.leaderId), '');
      const pending = httpJson('PUT', `${old.url}/v1/kv/dead`, { body: { value: 'dead' }, timeoutMs: 20_000 }).catch(() => null);
      const started = Date.now();
      const elected = await waitUntil(
        async () => {
          const views = await Promise.all(followers.map((id) => c.view(id)));
          const leader = views.find((v) => v.role === 'leader');
          return leader !== undefined && leader.term > old.term ? leader : undefined;
        },
        { what: 'a follower elected while the leader is stalled', timeoutMs: DEAD_MS, intervalMs: LOOK_MS },
      );
      // Not before the bound: the first 3 s are the transient stall the leader rides out.
      expect(Date.now() - started).toBeGreaterThan(2_500);
      rmSync(stallFile(old.leaderId));
      await pending;
      const now = await c.waitForLeader();
      expect(now.term).toBeGreaterThanOrEqual(elected.term);
      expect((await httpJson('PUT', `${now.url}/v1/kv/after-dead`, { body: { value: 'x' }, timeoutMs: 20_000 })).status).toBe(200);
    },
  );
});
