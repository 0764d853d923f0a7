// SSRF protection (src/tx/participant-url-policy.ts, participant-connector.ts,
// participant-error.ts): which participant URLs are refused when enlisted, which
// addresses when a call connects, that a refused URL is never called, that a
// call connects to the address that was checked, and what lastError and the
// log say about a failed call.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { isRatifyError } from '../../src/errors.js';
import { cidrContains, formatIp, parseCidr, parseIp } from '../../src/tx/ip-address.js';
import { createHttpParticipantClient } from '../../src/tx/participant-client.js';
import { ParticipantUrlPolicy, parseAllowlist, type Lookup } from '../../src/tx/participant-url-policy.js';
import type { TxView } from '../../src/tx/types.js';
import { FakeCluster } from './fake-log.js';
import { participant, startNode, eventually } from './harness.js';

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const LOOPBACK_NODE = { host: '127.0.0.1', port: 7001 };
const PUBLIC_NODE = { host: '10.0.0.5', port: 7001 };

function policy(
  opts: { allowlist?: string[]; listen?: { host: string; port: number }; members?: string[]; dns?: Record<string, string[]> } = {},
) {
  const lookups: string[] = [];
  const lookup: Lookup = async (host) => {
    lookups.push(host);
    const answer = opts.dns?.[host];
    if (answer === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return answer;
  };
  const p = new ParticipantUrlPolicy({
    allowlist: opts.allowlist ?? [],
    listen: opts.listen ?? LOOPBACK_NODE,
    memberUrls: () => opts.members ?? ['http://127.0.0.1:7001', 'http://127.0.0.1:7002', 'http://127.0.0.1:7003'],
    lookup,
  });
  return { p, lookups };
}

async function enlistVerdict(p: ParticipantUrlPolicy, url: string): Promise<string> {
  try {
    await p.checkAtEnlist(url, 'x');
    return 'ok';
  } catch (err) {
    if (isRatifyError(err, 'PARTICIPANT_URL_REFUSED')) return err.message;
    throw err;
  }
}

describe('IP addresses', () => {
  it('reads every spelling of an address as the same bytes; mapped IPv6 is its IPv4', () => {
    for (const s of ['169.254.169.254', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe', '[::ffff:a9fe:a9fe]', '0:0:0:0:0:ffff:a9fe:a9fe']) {
      expect(formatIp(parseIp(s)!)).toBe('169.254.169.254');
    }
    expect(formatIp(parseIp('fd00:ec2::254')!)).toBe('fd00:ec2:0:0:0:0:0:254');
    expect(parseIp('example.com')).toBeNull();
    expect(cidrContains(parseCidr('10.0.0.0/8')!, parseIp('10.200.3.4')!)).toBe(true);
    expect(cidrContains(parseCidr('10.0.0.0/8')!, parseIp('11.0.0.1')!)).toBe(false);
    expect(cidrContains(parseCidr('fe80::/10')!, parseIp('febf::1')!)).toBe(true);
    expect(cidrContains(parseCidr('fe80::/10')!, parseIp('fec0::1')!)).toBe(false);
    expect(cidrContains(parseCidr('::ffff:10.0.0.0/104')!, parseIp('10.1.1.1')!)).toBe(true);
    for (const bad of ['10.0.0.0/33', '10.0.0.0/x', 'nope/8', '::/129']) expect(parseCidr(bad)).toBeNull();
  });
});

describe('the participant URL policy when a URL is enlisted', () => {
  it('refuses link-local, metadata, unspecified and multicast addresses in every spelling, also with an allowlist', async () => {
    const { p } = policy({ allowlist: ['0.0.0.0/0', '::/0'] });
    for (const url of [
      'http://169.254.169.254/latest/meta-data',
      'http://0xA9FEA9FE/',
      'http://2852039166/',
      'http://[::ffff:169.254.169.254]/',
      'http://[fe80::1]:80/',
      'http://100.100.100.200/',
      'http://[fd00:ec2::254]/',
      'http://metadata.google.internal/computeMetadata/v1/',
      'http://0.0.0.0:7101/',
      'http://[::]:7101/',
      'http://224.0.0.1/',
    ]) {
      expect(await enlistVerdict(p, url), url).toMatch(/refused by the participant URL policy/);
    }
  });

  it('refuses URLs with credentials', async () => {
    const { p } = policy();
    expect(await enlistVerdict(p, 'http://user:secret@127.0.0.1:7101/ratify')).toMatch(/carries credentials/);
    expect(await enlistVerdict(p, 'http://user@127.0.0.1:7101/ratify')).toMatch(/carries credentials/);
  });

  it("refuses the cluster's own members and this node's listen address, whatever the path", async () => {
    const { p } = policy({ members: ['http://127.0.0.1:7001', 'http://ratify-1.headless:7001'] });
    expect(await enlistVerdict(p, 'http://127.0.0.1:7001/v1/transactions/victim')).toMatch(/member of this cluster/);
    expect(await enlistVerdict(p, 'http://RATIFY-1.headless:7001/')).toMatch(/member of this cluster/);
    // the same host on another port is another service
    expect(await enlistVerdict(p, 'http://127.0.0.1:7101/ratify')).toBe('ok');
  });

  it('a URL accepted before is refused at enlist once its host:port becomes a member (the verdict is kept per member list)', async () => {
    const members = ['http://127.0.0.1:7001', 'http://127.0.0.1:7002'];
    const p = new ParticipantUrlPolicy({ allowlist: [], listen: LOOPBACK_NODE, memberUrls: () => members });
    expect(await enlistVerdict(p, 'http://127.0.0.1:7004/ratify')).toBe('ok');
    expect(await enlistVerdict(p, 'http://127.0.0.1:7004/ratify')).toBe('ok');
    // The same array, changed in place: a member joins on that address.
    members.push('http://127.0.0.1:7004');
    expect(await enlistVerdict(p, 'http://127.0.0.1:7004/ratify')).toMatch(/member of this cluster/);
    // ... and leaves again: allowed again.
    members.pop();
    expect(await enlistVerdict(p, 'http://127.0.0.1:7004/ratify')).toBe('ok');
    // A refusal is never kept as a pass, and a pass never hides a refusal of another URL.
    expect(await enlistVerdict(p, 'http://169.254.169.254/')).toMatch(/metadata/);
    expect(await enlistVerdict(p, 'http://169.254.169.254/')).toMatch(/metadata/);
  });

  it('allows loopback while the node listens on loopback; beyond loopback only what the allowlist names', async () => {
    expect(await enlistVerdict(policy().p, 'http://127.0.0.1:7101/ratify')).toBe('ok');
    expect(await enlistVerdict(policy().p, 'http://localhost:7101/ratify')).toBe('ok');
    const open = policy({ listen: PUBLIC_NODE, members: ['http://10.0.0.5:7001'] }).p;
    for (const url of ['http://127.0.0.1:7101/ratify', 'http://[::1]:7101/', 'http://localhost:7101/', 'http://127.8.9.10:80/']) {
      expect(await enlistVerdict(open, url), url).toMatch(/loopback/);
    }
    expect(await enlistVerdict(open, 'http://10.0.0.9:7101/ratify')).toBe('ok');
    const sidecar = policy({ listen: PUBLIC_NODE, members: ['http://10.0.0.5:7001'], allowlist: ['127.0.0.1:7101'] }).p;
    expect(await enlistVerdict(sidecar, 'http://127.0.0.1:7101/ratify')).toBe('ok');
    expect(await enlistVerdict(sidecar, 'http://127.0.0.1:7102/ratify')).toMatch(/not in participantHostAllowlist/);
  });

  it('matches allowlist hosts (any port, as before), host:port, CIDR ranges and URL prefixes', async () => {
    const { p, lookups } = policy({
      allowlist: [
        'bank-a.internal',
        'bank-b.internal:8443',
        '10.1.0.0/16',
        'https://pay.example.com/ratify/',
        'https://ledger.example.com/v1',
      ],
      dns: { 'bank-c.internal': ['10.1.2.3'], 'elsewhere.internal': ['10.2.0.1'] },
    });
    const cases: Array<[string, boolean]> = [
      ['http://bank-a.internal:7101/ratify', true],
      ['https://BANK-A.internal/x', true],
      ['https://bank-b.internal:8443/ratify', true],
      ['https://bank-b.internal/ratify', false],
      ['http://10.1.200.7:80/', true],
      ['http://10.2.0.1/', false],
      ['http://bank-c.internal:9000/', true], // a name, admitted by its address
      ['http://elsewhere.internal/', false],
      ['http://unknown.internal/', false], // cannot be resolved: cannot be judged by address
      ['https://pay.example.com/ratify/bank-a', true],
      ['https://pay.example.com/ratifyx', false],
      ['http://pay.example.com/ratify/bank-a', false], // another scheme
      ['https://ledger.example.com/v1', true],
      ['https://ledger.example.com/v1/accounts', true],
      ['https://ledger.example.com/v10', false], // a prefix ends at a "/"
      ['https://example.com/', false],
    ];
    for (const [url, allowed] of cases) {
      const verdict = await enlistVerdict(p, url);
      expect([url, verdict === 'ok'], verdict).toEqual([url, allowed]);
    }
    // names are resolved at enlist time only when an address range has to judge them
    expect(lookups).toContain('bank-c.internal');
    expect(lookups).not.toContain('bank-a.internal');
  });

  it('refuses malformed allowlist entries at start-up, naming each', () => {
    const { errors } = parseAllowlist(['ok.internal', 'bad host', '10.0.0.0/40', 'ftp://x/', 'host:99999', '', 7]);
    expect(errors).toHaveLength(6);
    expect(errors[0]).toContain('"bad host"');
    expect(() => new ParticipantUrlPolicy({ allowlist: ['bad host'], listen: LOOPBACK_NODE, memberUrls: () => [] })).toThrow(
      /participantHostAllowlist entry/,
    );
  });
});

describe('the participant URL policy when a call connects', () => {
  it('checks every resolved address: metadata, member addresses and loopback beyond loopback are refused', async () => {
    const { p } = policy({
      listen: PUBLIC_NODE,
      members: ['http://10.0.0.5:7001', 'http://ratify-2.headless:7001'],
      dns: {
        'evil.example': ['169.254.169.254'],
        'half.example': ['10.0.0.9', '169.254.169.254'],
        'node.example': ['10.0.0.6'],
        'ratify-2.headless': ['10.0.0.6'],
        'loop.example': ['127.0.0.1'],
        'fine.example': ['::ffff:10.0.0.9', '10.0.0.10'],
      },
    });
    await expect(p.connectAddress('evil.example', 80, 'http:')).rejects.toThrow(/link-local or cloud metadata/);
    await expect(p.connectAddress('half.example', 80, 'http:')).rejects.toThrow(/link-local or cloud metadata/);
    await expect(p.connectAddress('node.example', 7001, 'http:')).rejects.toThrow(/member of this cluster/);
    await expect(p.connectAddress('loop.example', 7101, 'http:')).rejects.toThrow(/loopback/);
    expect(await p.connectAddress('node.example', 7101, 'http:')).toBe('10.0.0.6');
    expect(await p.connectAddress('fine.example', 80, 'http:')).toBe('10.0.0.9');
  });

  it('a node listening on every interface refuses each local address on its port', async () => {
    const { p } = policy({ listen: { host: '0.0.0.0', port: 7001 }, members: ['http://10.0.0.5:7001'], allowlist: ['127.0.0.0/8'] });
    await expect(p.connectAddress('127.0.0.1', 7001, 'http:')).rejects.toThrow(/member of this cluster/);
    expect(await p.connectAddress('127.0.0.1', 7101, 'http:')).toBe('127.0.0.1');
  });
});

describe('participant calls under the policy', () => {
  async function countingServer(): Promise<{ url: string; port: number; hits: () => number }> {
    let hits = 0;
    const server: Server = createServer((_req, res) => {
      hits++;
      res.setHeader('content-type', 'application/json');
      res.end('{"vote":"commit"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => server.close(resolve)));
    const port = (server.address() as AddressInfo).port;
    return { url: `http://127.0.0.1:${port}`, port, hits: () => hits };
  }
  const call = { timeoutMs: 2_000, signal: new AbortController().signal };
  const prepare = (url: string) => ({ url, txId: 't1', participant: 'a', payload: null, protocol: '2pc' as const, term: 1 });

  it('connects to the address it checked: one lookup per connection, never a second one by the socket (DNS rebinding)', async () => {
    const server = await countingServer();
    // "rebind.test" resolves only through the policy's lookup: a socket that looked the name up again would fail.
    const { p, lookups } = policy({ dns: { 'rebind.test': ['127.0.0.1'] } });
    const client = createHttpParticipantClient({ connectionsPerOrigin: 1, batchCallsMax: 1, urlPolicy: p });
    closers.push(() => client.close());
    expect(await client.prepare(prepare(`http://rebind.test:${server.port}/p`), call)).toEqual({ kind: 'vote', vote: 'commit' });
    expect(server.hits()).toBe(1);
    expect(lookups).toEqual(['rebind.test']);
  });

  it('never sends a call whose URL or resolved address is refused, and says so in lastError', async () => {
    const server = await countingServer();
    const { p } = policy({ listen: PUBLIC_NODE, members: ['http://10.0.0.5:7001'], dns: { 'sneaky.test': ['127.0.0.1'] } });
    const client = createHttpParticipantClient({ connectionsPerOrigin: 1, batchCallsMax: 1, urlPolicy: p });
    closers.push(() => client.close());
    // accepted at enlist by a node that did not refuse it then (another config), refused at the call
    const direct = await client.prepare(prepare(server.url), call);
    expect(direct).toEqual({
      kind: 'failure',
      error: expect.stringMatching(/^prepare failed: refused by the participant URL policy: .*loopback/),
    });
    const resolved = await client.deliver(
      'abort',
      { url: `http://sneaky.test:${server.port}`, txId: 't1', participant: 'a', term: 1 },
      call,
    );
    expect(resolved).toMatchObject({
      kind: 'failure',
      error: expect.stringMatching(/^abort failed: refused by the participant URL policy/),
    });
    expect(server.hits()).toBe(0);
  });

  it('logs the network cause of a failed call, which the view never shows', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
    const client = createHttpParticipantClient({ connectionsPerOrigin: 1, batchCallsMax: 1, urlPolicy: policy().p, logger });
    closers.push(() => client.close());
    const server = await countingServer();
    await new Promise<void>((resolve) => {
      // close it again: nothing listens on that port now
      closers.pop()!().then(
        () => resolve(),
        () => resolve(),
      );
    });
    const result = await client.prepare(prepare(server.url), call);
    expect(result).toMatchObject({ kind: 'failure' });
    expect(JSON.stringify(result)).not.toContain('ECONNREFUSED');
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 40,
        participant: 'a',
        txId: 't1',
        call: 'prepare',
        origin: server.url,
        cause: expect.stringContaining('ECONNREFUSED'),
      }),
    );
    // a second failure to the same origin soon after goes to debug
    await client.prepare(prepare(server.url), call);
    expect(lines.filter((l) => l['level'] === 40)).toHaveLength(1);
    expect(lines.filter((l) => l['level'] === 20)).toHaveLength(1);
  });
});

describe('through the API', () => {
  it("refuses a participant URL pointing at the node itself, so a client cannot make the leader abort someone else's transaction", async () => {
    const cluster = new FakeCluster();
    const node = await startNode(cluster, 'n1');
    closers.push(() => node.close());
    const url = await node.listen();
    cluster.elect('n1');
    const victim = (await node.app.inject({ method: 'POST', url: '/v1/transactions', payload: {} })).json<TxView>().id;
    // The attack of the issue: prepare reaches the node (404, an abort vote), then phase 2 POSTs .../abort.
    const attack = await node.app.inject({
      method: 'POST',
      url: '/v1/transactions',
      payload: { participants: [participant('evil', `${url}/v1/transactions/${victim}`)], commit: true },
    });
    expect([attack.statusCode, attack.json<{ error: { code: string } }>().error.code]).toEqual([400, 'PARTICIPANT_URL_REFUSED']);
    // and the victim is untouched (give a driver that did run the time to abort it)
    await eventually(() => node.sm.inFlight().length === 1 || undefined, 'only the victim in flight');
    expect(node.sm.get(victim)?.state).toBe('active');
  });

  it('refuses metadata and credential URLs on create and enlist with 400 PARTICIPANT_URL_REFUSED, and nothing is recorded', async () => {
    const cluster = new FakeCluster();
    const node = await startNode(cluster, 'n1', { config: { participantHostAllowlist: [] } });
    closers.push(() => node.close());
    cluster.elect('n1');
    const tx = (await node.app.inject({ method: 'POST', url: '/v1/transactions', payload: {} })).json<TxView>().id;
    for (const bad of ['http://169.254.169.254/latest/meta-data/', 'http://admin:hunter2@127.0.0.1:7101/ratify']) {
      const created = await node.app.inject({
        method: 'POST',
        url: '/v1/transactions',
        payload: { participants: [participant('a', bad)] },
      });
      expect(created.json<{ error: { code: string; message: string } }>().error).toMatchObject({
        code: 'PARTICIPANT_URL_REFUSED',
        message: expect.stringContaining('participant a: url refused'),
      });
      const enlisted = await node.app.inject({
        method: 'POST',
        url: `/v1/transactions/${tx}/participants`,
        payload: participant('a', bad),
      });
      expect(enlisted.statusCode).toBe(400);
      expect(created.body).not.toContain('hunter2');
    }
    expect(node.sm.get(tx)?.participants).toEqual([]);
    expect(node.sm.activeCount()).toBe(1);
  });
});
