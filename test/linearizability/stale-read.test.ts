// The checker against a history recorded from real processes in which a follower serves
// a stale read on purpose. Five `ratify node --state-machine kv` processes; n4 and n5 sit
// behind TCP proxies that the other nodes use as their peer URLs, so cutting a proxy
// stops all Raft traffic to that node (a one-way partition) while clients still reach it.
// n4 runs with the test-only switch RATIFY_TEST_STALE_FOLLOWER_READS (src/node/
// test-switches.ts): it answers reads without the ReadIndex round. n5 runs as shipped.
//
// While both are cut off, a write commits on n1-n3; n4 then answers a read with the value
// it had, after that write completed. The checker must reject the history and name those
// operations; the same history without n4's reads, which includes n5's reads through
// ReadIndex under the same partition, must pass.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HistoryRecorder } from '../../scripts/chaos/history.js';
import { recordedGet, recordedPut, type KvRecorder } from '../../scripts/chaos/kv-workload.js';
import { STALE_FOLLOWER_READS_ENV } from '../../src/node/test-switches.js';
import { freePorts, startCluster, type TestCluster } from '../helpers/cluster.js';
import { httpJson } from '../helpers/http.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { waitUntil } from '../helpers/wait.js';
import { checkHistory, formatOperations } from './check.js';
import { kvModel } from './kv-model.js';

const OP_TIMEOUT_MS = 5_000;
/** A read through ReadIndex on a cut-off follower waits for a leader that cannot answer it. */
const CUT_READ_TIMEOUT_MS = 3_000;
const KEY = 'stale-read';

let cluster: TestCluster | null = null;
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  const ports = await freePorts(5);
  proxies.push(await startTcpProxy(ports[3]!), await startTcpProxy(ports[4]!));
  cluster = await startCluster({
    nodes: 5,
    stateMachine: 'kv',
    ports,
    peerUrls: { n4: proxies[0]!.url, n5: proxies[1]!.url },
    nodeEnv: { n4: { NODE_ENV: 'test', [STALE_FOLLOWER_READS_ENV]: '1' }, n5: { NODE_ENV: 'test' } },
  });
}, 120_000);

afterAll(async () => {
  await cluster?.cleanup();
  await Promise.all(proxies.map((p) => p.close()));
});

/** Leadership on n1..n3, the nodes that keep a quorum while n4 and n5 are cut off. */
async function leaderAmongFirstThree(c: TestCluster): Promise<string> {
  const { leaderId } = await c.waitForLeader();
  if (['n1', 'n2', 'n3'].includes(leaderId)) return leaderId;
  const r = await httpJson('POST', `${c.url(leaderId)}/v1/cluster/leadership-transfer`, { body: { to: 'n1' }, timeoutMs: 10_000 });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return (await c.waitForLeader({ among: ['n1', 'n2', 'n3'] })).leaderId;
}

describe('a stale follower read, recorded from real processes', () => {
  it(
    'is rejected by the checker, which names the write it missed; ReadIndex reads under the same partition pass',
    { timeout: 120_000 },
    async () => {
      const c = cluster!;
      const log = c.dumpLogs(['n4']);
      expect(log).toContain(`UNSAFE test switch ${STALE_FOLLOWER_READS_ENV}`);
      const leader = await leaderAmongFirstThree(c);
      const recorder: KvRecorder = new HistoryRecorder();
      const put = (value: string): Promise<number | null> => recordedPut(recorder, 'writer', c.url(leader), KEY, value, OP_TIMEOUT_MS);
      const get = (node: string, timeoutMs = OP_TIMEOUT_MS): Promise<string | null | undefined> =>
        recordedGet(recorder, node, c.url(node), KEY, timeoutMs);

      const first = await put('v1');
      expect(first).not.toBeNull();
      await Promise.all(['n4', 'n5'].map((id) => c.waitForApplied(id, first!)));
      expect(await get('n4')).toBe('v1');
      expect(await get('n5')).toBe('v1');

      for (const p of proxies) p.cut();
      const second = await put('v2');
      expect(second, 'n1-n3 are a quorum of 5 and commit without n4 and n5').not.toBeNull();
      // Both are behind: they never received the second write.
      for (const id of ['n4', 'n5']) expect((await c.view(id)).appliedIndex).toBeLessThan(second!);
      const stale = await get('n4');
      const honest = await get('n5', CUT_READ_TIMEOUT_MS);
      expect(stale, 'n4 skips ReadIndex and answers from its own state').toBe('v1');
      expect(honest, 'n5 cannot confirm a read index while cut off').toBeUndefined();

      for (const p of proxies) p.heal();
      await Promise.all(['n4', 'n5'].map((id) => c.waitForApplied(id, second!)));
      expect(await waitUntil(async () => ((await get('n5')) === 'v2' ? true : undefined), { what: 'n5 to read v2' })).toBe(true);
      expect(await get('n4')).toBe('v2');

      const history = recorder.history();
      const r = checkHistory(kvModel, history);
      const report = r.counterexample === null ? '' : formatOperations(kvModel, r.counterexample.operations).join('\n');
      expect(r.verdict, report).toBe('no');
      // The smallest failing sub-history: the write of v1, the write of v2 that completed,
      // and n4's read of v1 that began after it.
      expect(r.counterexample!.operations.map((o) => `${o.client} ${kvModel.describe(o.input, o.output)}`)).toEqual([
        `writer put ${KEY}=v1 -> ok index ${first!}`,
        `writer put ${KEY}=v2 -> ok index ${second!}`,
        `n4 get ${KEY} -> v1`,
      ]);
      console.log(`stale follower read rejected; smallest failing sub-history:\n${report}`);

      const withoutN4 = history.filter((op) => op.client !== 'n4');
      expect(checkHistory(kvModel, withoutN4).verdict).toBe('yes');
    },
  );
});
