// The operator commands against a real 3-node coordinator cluster (processes) with
// client tokens: status, tx list|get|create|commit|abort, members add|promote|remove
// and leader transfer, each as a table and with --json, and the exit codes of the
// README (1 refused, 2 usage, 3 unreachable).
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterNodesView, MembersView } from '../../src/sdk/admin-types.js';
import type { TransactionPage, TransactionView } from '../../src/sdk/client-types.js';
import { CLI_PATH, freePorts, startCluster, type TestCluster } from '../helpers/cluster.js';
import { waitUntil } from '../helpers/wait.js';
import { ratify } from './cli-harness.js';

const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
const READER_TOKEN = 'reader-token-0123456789abcdef';
const TOKENS = `ops admin ${ADMIN_TOKEN};dash reader ${READER_TOKEN}`;

let cluster: TestCluster;
let env: Record<string, string>;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3, joiners: 1, stateMachine: 'tx', env: { RATIFY_TOKENS: TOKENS } });
  env = { RATIFY_NODES: cluster.initial.map((n) => n.url).join(','), RATIFY_TOKEN: ADMIN_TOKEN };
  // The helper's own waitForLeader sends no token; the CLI does.
  await waitUntil(async () => (await ratify(['status'], env)).code === 0, { timeoutMs: 30_000 });
});
afterAll(async () => cluster?.cleanup());

describe('ratify status', () => {
  it('prints every member with its role and the leader marked', async () => {
    const r = await ratify(['status'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ID\s+ROLE\s+KIND\s+TERM\s+COMMIT\s+APPLIED\s+LAG\s+HEALTH/m);
    for (const n of cluster.initial) expect(r.stdout).toContain(n.url);
    expect(r.stdout).toMatch(/n\d \*\s+leader/);
  });

  it('--json gives the survey for scripts', async () => {
    const r = await ratify(['status', '--json'], env);
    expect(r.code).toBe(0);
    const view = r.json<ClusterNodesView>();
    expect(view.members.map((m) => m.id).sort()).toEqual(['n1', 'n2', 'n3']);
    expect(view.leaderId).toMatch(/^n[123]$/);
    expect(view.members.every((m) => m.health === 'ok')).toBe(true);
  });

  it('takes --nodes and --token as flags too', async () => {
    const r = await ratify(['status', '--nodes', cluster.url('n2'), '--token', READER_TOKEN, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json<ClusterNodesView>().observedBy).toBe('n2');
  });
});

describe('ratify tx', () => {
  it('create, get, commit, list and abort', async () => {
    const created = await ratify(['tx', 'create', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    const a = created.json<TransactionView>();
    expect(a.state).toBe('active');

    const shown = await ratify(['tx', 'get', a.id], env);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^id\\s+${a.id}$`, 'm'));
    expect(shown.stdout).toMatch(/^state\s+active$/m);

    const committed = await ratify(['tx', 'commit', a.id, '--json'], env);
    expect(committed.code, committed.stderr).toBe(0);
    expect(committed.json<TransactionView>().outcome).toBe('committed');
    expect(committed.stderr).toContain(`committing ${a.id}`);

    const b = (await ratify(['tx', 'create', '--json'], env)).json<TransactionView>();
    const aborted = await ratify(['tx', 'abort', b.id], env);
    expect(aborted.code, aborted.stderr).toBe(0);
    expect(aborted.stdout).toMatch(/^outcome\s+aborted$/m);

    const list = await ratify(['tx', 'list', '--all', '--json'], env);
    expect(list.code).toBe(0);
    const ids = list.json<TransactionPage>().transactions.map((t) => t.id);
    expect(ids).toEqual(expect.arrayContaining([a.id, b.id]));
    const table = await ratify(['tx', 'list', '--state', 'aborted'], env);
    expect(table.stdout).toMatch(/^ID\s+STATE\s+OUTCOME/m);
    expect(table.stdout).toContain(b.id);
    expect(table.stdout).not.toContain(a.id);
  });

  it('exits 1 with the error code when the cluster refuses, and prints it as JSON with --json', async () => {
    const a = (await ratify(['tx', 'create', '--json'], env)).json<TransactionView>();
    expect((await ratify(['tx', 'commit', a.id], env)).code).toBe(0);
    const refused = await ratify(['tx', 'abort', a.id, '--json'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('TX_ALREADY_COMMITTED (HTTP 409)');
    expect(refused.json<{ error: { code: string; status: number } }>().error).toMatchObject({ code: 'TX_ALREADY_COMMITTED', status: 409 });
    const missing = await ratify(['tx', 'get', 'no-such-transaction'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('TX_NOT_FOUND');
  });

  it('exits 1 on 401 without a token and on 403 with a reader token', async () => {
    const noToken = await ratify(['tx', 'list'], { RATIFY_NODES: env['RATIFY_NODES']! });
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain('UNAUTHORIZED');
    const reader = await ratify(['tx', 'create'], { ...env, RATIFY_TOKEN: READER_TOKEN });
    expect(reader.code).toBe(1);
    expect(reader.stderr).toContain('FORBIDDEN');
  });
});

describe('exit codes for usage and reachability', () => {
  it('exits 2 without --nodes, on a bad flag value and on an unknown subcommand', async () => {
    const none = await ratify(['status']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--nodes');
    expect((await ratify(['tx', 'list', '--state', 'done'], env)).code).toBe(2);
    expect((await ratify(['tx', 'frobnicate'], env)).code).toBe(2);
    const badNode = await ratify(['status', '--nodes', '127.0.0.1:7001']);
    expect(badNode.code).toBe(2);
    expect(badNode.stderr).toContain('http://');
    expect((await ratify(['status', '--tls-ca', '/no/such/ca.pem'], env)).code).toBe(2);
  });

  it('exits 3 when no node answers', async () => {
    const [port] = await freePorts(1);
    const r = await ratify(['status', '--nodes', `http://127.0.0.1:${port}`, '--timeout-ms', '1000']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('UNREACHABLE');
  });
});

describe('the built ratify bin', () => {
  it('runs an operator command and exits with its code', async () => {
    const run = (args: string[]) =>
      spawnSync(process.execPath, [CLI_PATH, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });
    const ok = run(['status', '--json']);
    expect(ok.status, ok.stderr).toBe(0);
    expect((JSON.parse(ok.stdout) as ClusterNodesView).members).toHaveLength(3);
    const [port] = await freePorts(1);
    expect(run(['status', '--nodes', `http://127.0.0.1:${port}`, '--timeout-ms', '500']).status).toBe(3);
    expect(run(['tx', 'get']).status).toBe(2);
  });
});

describe('ratify members and leader transfer', () => {
  it('adds, promotes and removes a node, and moves leadership', async () => {
    const joiner = cluster.nodes[3]!;
    await cluster.startNode(joiner.id);
    const added = await ratify(['members', 'add', joiner.id, joiner.url, '--json'], env);
    expect(added.code, added.stderr).toBe(0);
    expect(added.json<MembersView>().members).toContainEqual({ id: joiner.id, url: joiner.url, voter: false });

    const promoted = await ratify(['members', 'promote', joiner.id, '--wait-ms', '30000'], env);
    expect(promoted.code, promoted.stderr).toBe(0);
    expect(promoted.stdout).toMatch(new RegExp(`^${joiner.id}\\s+voter`, 'm'));

    const moved = await ratify(['leader', 'transfer', '--to', joiner.id, '--nodes', cluster.nodes.map((n) => n.url).join(',')], env);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stdout).toMatch(new RegExp(`^leader\\s+${joiner.id}$`, 'm'));
    expect(moved.stderr).toContain(`transferring leadership to ${joiner.id}`);

    // Back to an initial node before the joiner goes: its removal must not leave the test without a leader it can reach.
    expect((await ratify(['leader', 'transfer', '--to', 'n1', '--nodes', cluster.nodes.map((n) => n.url).join(',')], env)).code).toBe(0);
    const removed = await ratify(['members', 'remove', joiner.id, '--json'], env);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.json<MembersView>().members.map((m) => m.id)).not.toContain(joiner.id);
    await waitUntil(async () => (await ratify(['status', '--json'], env)).json<ClusterNodesView>().members.length === 3, {
      timeoutMs: 10_000,
    });
  });

  it('exits 1 naming the code when the member is unknown, and 2 when --to is missing', async () => {
    const r = await ratify(['members', 'remove', 'n9'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('MEMBER_NOT_FOUND');
    expect((await ratify(['leader', 'transfer'], env)).code).toBe(2);
  });
});
