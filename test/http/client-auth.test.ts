// Client authentication and roles (src/http/tokens.ts, client-auth.ts), the
// principal a transaction records and the per-principal scope of reads and
// writes (src/tx/operations.ts), credentials across a forward to the leader
// (leader-forward.ts), and the audit log (audit.ts), through the transaction
// routes of nodes on a FakeCluster.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RatifyError } from '../../src/errors.js';
import { bearerToken, ClientTokens, loadClientTokens } from '../../src/http/tokens.js';
import type { TxView } from '../../src/tx/types.js';
import { FakeCluster } from '../tx/fake-log.js';
import { startNode, type NodeOptions, type TestNode } from '../tx/harness.js';

const TOKENS = {
  payments: 'payments-token-0123456789',
  refunds: 'refunds-token-0123456789',
  dashboard: 'dashboard-token-0123456789',
  ops: 'ops-token-0123456789abcdef',
};
const tokenFile = [
  '# principal  role    token',
  `payments     client  ${TOKENS.payments}`,
  `refunds      client  ${TOKENS.refunds}   # a second client`,
  '',
  `dashboard    reader  sha256:${createHash('sha256').update(TOKENS.dashboard).digest('hex')}`,
  `ops          admin   ${TOKENS.ops}`,
].join('\n');
const tokens = ClientTokens.parse(tokenFile, 'test');
const bearer = (who: keyof typeof TOKENS): Record<string, string> => ({ authorization: `Bearer ${TOKENS[who]}` });

const dir = mkdtempSync(join(tmpdir(), 'ratify-tokens-'));
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function leaderNode(opts: NodeOptions = {}): Promise<TestNode> {
  const cluster = new FakeCluster();
  const node = await startNode(cluster, 'n1', { clientTokens: tokens, ...opts });
  closers.push(() => node.close());
  cluster.elect('n1');
  return node;
}

type Inject = (method: 'GET' | 'POST', url: string, headers?: Record<string, string>, payload?: object) => Promise<LightMyRequestResponse>;
const injector =
  (node: TestNode): Inject =>
  (method, url, headers = {}, payload) =>
    node.app.inject({ method, url, headers, ...(payload !== undefined && { payload }) });

function errorCode(res: { json: () => unknown }): string {
  return (res.json() as { error: { code: string } }).error.code;
}

describe('token file', () => {
  it('reads principals, roles, comments and hashed tokens', () => {
    expect(tokens.size).toBe(4);
    expect(tokens.principals()).toEqual(['payments', 'refunds', 'dashboard', 'ops']);
    expect(tokens.verify(TOKENS.payments)).toEqual({ name: 'payments', role: 'client' });
    expect(tokens.verify(TOKENS.dashboard)).toEqual({ name: 'dashboard', role: 'reader' });
    expect(tokens.verify(`${TOKENS.payments}x`)).toBeNull();
    expect(tokens.verify(TOKENS.payments.slice(0, -1))).toBeNull();
    // RATIFY_TOKENS: the same format, `;` ends an entry too
    const env = loadClientTokens(null, { RATIFY_TOKENS: `a client ${TOKENS.payments}; b admin ${TOKENS.ops}` });
    expect(env.verify(TOKENS.ops)).toEqual({ name: 'b', role: 'admin' });
    const file = join(dir, 'tokens');
    writeFileSync(file, tokenFile);
    expect(loadClientTokens(file, {}).size).toBe(4);
    expect(loadClientTokens(null, {}).enabled).toBe(false);
  });

  it('refuses bad entries naming each one, and never repeats a token in its message', () => {
    const secret = 'abc';
    const bad = [
      `p client ${secret}`, // too short
      'p client', // two fields
      `q owner ${TOKENS.payments}`, // unknown role
      `-x client ${TOKENS.refunds}`, // bad principal
      `r reader ${TOKENS.ops}`,
      `r admin ${TOKENS.dashboard}`, // one principal, two roles
      `s reader ${TOKENS.ops}`, // the same token twice
      's reader sha256:abcd', // a short digest
      's reader has,comma-0123456789', // not a b64token
    ].join('\n');
    let err: unknown;
    try {
      ClientTokens.parse(bad, 'tokens.txt');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RatifyError);
    const message = (err as RatifyError).message;
    for (const n of [1, 2, 3, 4, 6, 7, 8, 9]) expect(message).toContain(`tokens.txt entry ${n}`);
    for (const token of [secret, ...Object.values(TOKENS)]) expect(message).not.toContain(token);
    expect((err as RatifyError).code).toBe('CONFIG_INVALID');
  });

  it('takes tokens from a file or the environment, not both, and a file must hold some', () => {
    const file = join(dir, 'both');
    writeFileSync(file, tokenFile);
    expect(() => loadClientTokens(file, { RATIFY_TOKENS: `a client ${TOKENS.payments}` })).toThrow(/not both/);
    const empty = join(dir, 'empty');
    writeFileSync(empty, '# nothing yet\n');
    expect(() => loadClientTokens(empty, {})).toThrow(/holds no tokens/);
    expect(() => loadClientTokens(join(dir, 'missing'), {})).toThrow(/cannot be read/);
  });

  it('reads only well-formed Bearer headers', () => {
    expect(bearerToken(`Bearer ${TOKENS.ops}`)).toBe(TOKENS.ops);
    expect(bearerToken(`bearer ${TOKENS.ops}`)).toBe(TOKENS.ops);
    for (const h of [undefined, TOKENS.ops, `Basic ${TOKENS.ops}`, 'Bearer ', 'Bearer a b', `Bearer ${'x'.repeat(600)}`])
      expect(bearerToken(h)).toBeNull();
  });
});

describe('roles on the transaction routes', () => {
  it('401 without a token or with a bad one (WWW-Authenticate: Bearer), 403 for a role too low, and the principal is recorded', async () => {
    const node = await leaderNode();
    const call = injector(node);
    const missing = await call('POST', '/v1/transactions', {}, {});
    expect([missing.statusCode, errorCode(missing), missing.headers['www-authenticate']]).toEqual([
      401,
      'UNAUTHORIZED',
      'Bearer realm="ratify"',
    ]);
    expect(errorCode(await call('POST', '/v1/transactions', { authorization: 'Bearer not-a-known-token-at-all' }, {}))).toBe(
      'UNAUTHORIZED',
    );
    expect(errorCode(await call('GET', '/v1/transactions', { authorization: 'Basic dXNlcjpwYXNz' }))).toBe('UNAUTHORIZED');
    const reader = await call('POST', '/v1/transactions', bearer('dashboard'), {});
    expect([reader.statusCode, errorCode(reader)]).toEqual([403, 'FORBIDDEN']);
    expect(node.sm.activeCount()).toBe(0);
    const created = await call('POST', '/v1/transactions', bearer('payments'), {});
    expect(created.statusCode).toBe(201);
    const id = created.json<TxView>().id;
    expect(node.sm.get(id)?.principal).toBe('payments');
    // the view does not show principals
    expect(Object.keys(created.json<TxView>())).not.toContain('principal');
    expect((await call('GET', `/v1/transactions/${id}`, bearer('dashboard'))).statusCode).toBe(200);
    expect((await call('POST', `/v1/transactions/${id}/commit`, bearer('dashboard'))).statusCode).toBe(403);
    expect((await call('POST', `/v1/transactions/${id}/commit`, bearer('ops'))).statusCode).toBe(200);
  });

  it('with ownTransactionsOnly (the default with tokens) a client sees and touches only its own; readers and admins see all', async () => {
    const node = await leaderNode({ ownTransactionsOnly: true });
    const call = injector(node);
    const mine = (await call('POST', '/v1/transactions', bearer('payments'), {})).json<TxView>().id;
    const theirs = (await call('POST', '/v1/transactions', bearer('refunds'), {})).json<TxView>().id;
    for (const [method, path, body] of [
      ['GET', '', undefined],
      ['POST', '/commit', undefined],
      ['POST', '/abort', undefined],
      ['POST', '/participants', { name: 'a', url: 'http://127.0.0.1:9/x' }],
    ] as const) {
      const res = await call(method, `/v1/transactions/${theirs}${path}`, bearer('payments'), body);
      expect([path, res.statusCode, errorCode(res)]).toEqual([path, 404, 'TX_NOT_FOUND']);
      // Not authoritative: cooperative termination must not read it as "forgotten".
      expect(res.headers['x-ratify-tx-visibility']).toBe('own');
    }
    for (const who of ['dashboard', 'ops'] as const) {
      const res = await call('GET', '/v1/transactions/no-such-tx', bearer(who));
      expect([who, res.statusCode, res.headers['x-ratify-tx-visibility']]).toEqual([who, 404, 'all']);
    }
    expect(node.sm.get(theirs)).toMatchObject({ state: 'active', participants: [] });
    const listed = (who: keyof typeof TOKENS) =>
      call('GET', '/v1/transactions', bearer(who)).then((r) => r.json<{ transactions: TxView[] }>().transactions.map((t) => t.id));
    expect(await listed('payments')).toEqual([mine]);
    expect(await listed('refunds')).toEqual([theirs]);
    expect(await listed('dashboard')).toEqual([mine, theirs]);
    expect(await listed('ops')).toEqual([mine, theirs]);
    expect((await call('POST', `/v1/transactions/${theirs}/abort`, bearer('ops'))).statusCode).toBe(200);
  });

  it('without ownTransactionsOnly a client may read and act on any transaction', async () => {
    const node = await leaderNode({ ownTransactionsOnly: false });
    const call = injector(node);
    const theirs = (await call('POST', '/v1/transactions', bearer('refunds'), {})).json<TxView>().id;
    expect((await call('GET', `/v1/transactions/${theirs}`, bearer('payments'))).statusCode).toBe(200);
    expect((await call('GET', '/v1/transactions/no-such-tx', bearer('payments'))).headers['x-ratify-tx-visibility']).toBe('all');
    expect((await call('POST', `/v1/transactions/${theirs}/abort`, bearer('payments'))).statusCode).toBe(200);
  });

  it("the same Idempotency-Key from two principals makes two transactions, never the other one's", async () => {
    const node = await leaderNode({ ownTransactionsOnly: true });
    const call = injector(node);
    const create = (who: keyof typeof TOKENS) => call('POST', '/v1/transactions', { ...bearer(who), 'idempotency-key': 'transfer-42' }, {});
    const a = (await create('payments')).json<TxView>().id;
    const b = (await create('refunds')).json<TxView>().id;
    expect(a).not.toBe(b);
    expect((await create('payments')).json<TxView>().id).toBe(a);
  });

  it('with no tokens the API is open as before and records no principal', async () => {
    const cluster = new FakeCluster();
    const node = await startNode(cluster, 'n1');
    closers.push(() => node.close());
    cluster.elect('n1');
    const res = await node.app.inject({ method: 'POST', url: '/v1/transactions', payload: {} });
    expect(res.statusCode).toBe(201);
    expect(node.sm.get(res.json<TxView>().id)?.principal).toBeNull();
  });
});

describe('forwarding and the audit log', () => {
  const SECRET = 'cluster-secret-0123456789';

  async function twoNodes(opts: NodeOptions = {}) {
    const cluster = new FakeCluster();
    const leaderLines: Record<string, unknown>[] = [];
    const followerLines: Record<string, unknown>[] = [];
    const logger = (lines: Record<string, unknown>[]) =>
      pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
    const leader = await startNode(cluster, 'n1', { clientTokens: tokens, clusterSecret: SECRET, appLogger: logger(leaderLines), ...opts });
    const follower = await startNode(cluster, 'n2', {
      clientTokens: tokens,
      clusterSecret: SECRET,
      appLogger: logger(followerLines),
      ...opts,
    });
    closers.push(
      () => leader.close(),
      () => follower.close(),
    );
    await leader.listen();
    cluster.elect('n1');
    const audit = (lines: Record<string, unknown>[]) => lines.filter((l) => l['msg'] === 'audit');
    return {
      leader,
      follower,
      leaderAudit: () => audit(leaderLines),
      followerAudit: () => audit(followerLines),
      allLines: () => [...leaderLines, ...followerLines],
    };
  }

  it("a follower relays the client's token and the leader authenticates it again: the principal is the client's", async () => {
    const { leader, follower, leaderAudit, followerAudit, allLines } = await twoNodes({ ownTransactionsOnly: true });
    const call = injector(follower);
    const created = await call('POST', '/v1/transactions', bearer('payments'), {});
    expect(created.statusCode).toBe(201);
    const id = created.json<TxView>().id;
    expect(leader.sm.get(id)?.principal).toBe('payments');
    // one audit line, on the leader, with the client's address and the hop
    expect(followerAudit()).toEqual([]);
    expect(leaderAudit()).toEqual([
      expect.objectContaining({
        audit: 'tx.create',
        principal: 'payments',
        role: 'client',
        source: '127.0.0.1',
        txId: id,
        status: 201,
        forwardedBy: 'n2',
      }),
    ]);
    // another client's commit through the follower: the leader scopes it to that client
    const other = await call('POST', `/v1/transactions/${id}/commit`, bearer('refunds'));
    expect([other.statusCode, errorCode(other)]).toEqual([404, 'TX_NOT_FOUND']);
    expect((await call('POST', `/v1/transactions/${id}/abort`, bearer('payments'))).statusCode).toBe(200);
    expect(leaderAudit().map((l) => [l['audit'], l['principal'], l['status']])).toEqual([
      ['tx.create', 'payments', 201],
      ['tx.commit', 'refunds', 404],
      ['tx.abort', 'payments', 200],
    ]);
    // refusals at the edge are audited where they happen; tokens never reach a log
    expect((await call('POST', `/v1/transactions/${id}/abort`, bearer('dashboard'))).statusCode).toBe(403);
    expect((await call('POST', '/v1/transactions', { authorization: 'Bearer wrong-token-0123456789' }, {})).statusCode).toBe(401);
    expect(followerAudit().map((l) => [l['audit'], l['principal'], l['status'], l['txId']])).toEqual([
      ['tx.abort', 'dashboard', 403, id],
      ['tx.create', null, 401, null],
    ]);
    const everything = JSON.stringify(allLines());
    for (const token of Object.values(TOKENS)) expect(everything).not.toContain(token);
    expect(everything).not.toContain('wrong-token-0123456789');
  });

  it('a client that sends x-ratify-forwarded gets its request served, not a 503, and cannot borrow an address', async () => {
    const { leader, follower, leaderAudit } = await twoNodes();
    const forged = { ...bearer('payments'), 'x-ratify-forwarded': 'n1', 'x-ratify-client-address': '10.9.9.9' };
    // at a follower: forwarded as any request (the mark lacks the peer credential)
    const atFollower = await follower.app.inject({ method: 'POST', url: '/v1/transactions', headers: forged, payload: {} });
    expect(atFollower.statusCode).toBe(201);
    // at the leader: served, and the audit line has the real source, no hop
    const atLeader = await leader.app.inject({ method: 'POST', url: '/v1/transactions', headers: forged, payload: {} });
    expect(atLeader.statusCode).toBe(201);
    const line = leaderAudit().find((l) => l['txId'] === atLeader.json<TxView>().id);
    expect(line).toMatchObject({ source: '127.0.0.1' });
    expect(line).not.toHaveProperty('forwardedBy');
    // a peer's mark (it carries the cluster secret) is still honoured: one hop only
    const peerHop = await follower.app.inject({
      method: 'POST',
      url: '/v1/transactions',
      headers: { ...bearer('payments'), 'x-ratify-forwarded': 'n1', 'x-ratify-secret': SECRET },
      payload: {},
    });
    expect([peerHop.statusCode, errorCode(peerHop)]).toEqual([503, 'NOT_LEADER']);
  });
});
