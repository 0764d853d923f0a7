// The dashboard once client tokens are set: the page and its files stay public
// (they hold no data), its JSON endpoints need a reader token, and the member
// survey asks every member with the caller's own token (a member's GET
// /v1/cluster needs one too), so the page shows every member, not 401s.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClientTokens } from '../../src/http/tokens.js';
import { httpJson } from '../helpers/http.js';
import { startTxAppCluster, type TxAppCluster } from '../helpers/tx-app-cluster.js';

const READER_TOKEN = 'reader-token-0123456789abcdef';
const tokens = ClientTokens.parse(`viewer reader ${READER_TOKEN}\n`, 'test');
let cluster: TxAppCluster;

beforeEach(async () => {
  cluster = await startTxAppCluster({ dashboard: { intervalMs: 100, probeTimeoutMs: 1000 }, clientTokens: tokens });
});
afterEach(async () => {
  await cluster.close();
});

describe('dashboard with client tokens', () => {
  it('serves the page without a token, and its data only with a reader token', async () => {
    const { app } = await cluster.follower();
    expect((await app.inject({ method: 'GET', url: '/' })).statusCode).toBe(200);
    for (const url of ['/v1/stats', '/v1/activity', '/v1/cluster/nodes']) {
      const none = await app.inject({ method: 'GET', url });
      expect(none.statusCode, url).toBe(401);
      expect(none.headers['www-authenticate']).toBe('Bearer realm="ratify"');
      const wrong = await app.inject({ method: 'GET', url, headers: { authorization: 'Bearer not-a-token-0123456789' } });
      expect(wrong.statusCode, url).toBe(401);
      const ok = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${READER_TOKEN}` } });
      expect(ok.statusCode, url).toBe(200);
    }
  });

  it("surveys every member with the caller's token: all of them answer", async () => {
    const follower = await cluster.follower();
    const res = await httpJson<{ members: Array<{ id: string; health: string; error: string | null }> }>(
      'GET',
      `${follower.url}/v1/cluster/nodes`,
      {
        headers: { authorization: `Bearer ${READER_TOKEN}` },
        timeoutMs: 5000,
      },
    );
    expect(res.status).toBe(200);
    expect(res.body.members.map((m) => [m.id, m.health, m.error])).toEqual([
      ['n1', 'ok', null],
      ['n2', 'ok', null],
      ['n3', 'ok', null],
    ]);
  });
});
