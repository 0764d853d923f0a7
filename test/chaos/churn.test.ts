// The churn fault's admin calls (scripts/chaos/churn.ts) against a fake cluster that
// answers like Ratify does while a change is in flight: they retry until the change is
// made, wipe-worthiness comes from the node's own "removed", and an answer that says
// the change is already in place counts as done.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { addBack, removeMember, type ChurnContext } from '../../scripts/chaos/churn.js';

type Handler = (method: string, path: string) => { status: number; body: unknown };

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function fakeNode(handler: Handler): Promise<string> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const { status, body } = handler(req.method ?? '', req.url ?? '');
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const error = (status: number, code: string) => ({ status, body: { error: { code, message: code } } });
const ok = { status: 200, body: { members: [] } };

function context(nodes: { id: string; url: string }[]): ChurnContext {
  return { nodes, stepTimeoutMs: 5_000, signal: new AbortController().signal };
}

describe('churn admin calls', () => {
  it('removes through another node, retrying while no leader answers, and waits for the node to say it was removed', async () => {
    const calls: string[] = [];
    let deletes = 0;
    let clusterReads = 0;
    const n1 = await fakeNode((method, path) => {
      calls.push(`${method} ${path}`);
      if (method === 'DELETE') return ++deletes === 1 ? error(503, 'NO_LEADER') : ok;
      return error(404, 'ROUTE_NOT_FOUND');
    });
    const n2 = await fakeNode((method, path) => {
      calls.push(`n2 ${method} ${path}`);
      return { status: 200, body: { nodeId: 'n2', role: 'learner', term: 3, leaderId: null, removed: ++clusterReads >= 3 } };
    });
    const removal = await removeMember(
      context([
        { id: 'n1', url: n1 },
        { id: 'n2', url: n2 },
      ]),
      'n2',
    );
    expect(removal).toEqual({ committed: true, nodeKnew: true, answers: ['503 NO_LEADER', '200'] });
    expect(calls.filter((c) => c.startsWith('DELETE'))).toEqual(['DELETE /v1/cluster/members/n2', 'DELETE /v1/cluster/members/n2']);
    expect(calls.filter((c) => c.startsWith('n2 DELETE'))).toEqual([]);
  });

  it('adds back and promotes, retrying while a change is in flight or the learner trails; "already done" counts as done', async () => {
    const seen: string[] = [];
    let promotes = 0;
    const n1 = await fakeNode((method, path) => {
      seen.push(`${method} ${path}`);
      if (path === '/v1/cluster/members') return seen.length === 1 ? error(409, 'CONFIG_CHANGE_IN_PROGRESS') : ok;
      if (path === '/v1/cluster/members/n3/promote')
        return ++promotes < 3 ? error(409, 'LEARNER_NOT_CAUGHT_UP') : error(409, 'INVALID_CONFIG_CHANGE');
      return error(404, 'ROUTE_NOT_FOUND');
    });
    const result = await addBack(
      context([
        { id: 'n1', url: n1 },
        { id: 'n3', url: 'http://127.0.0.1:1' },
      ]),
      'n3',
      'http://n3.example:7003',
    );
    expect(result).toEqual({ kind: 'voter' });
    expect(seen).toEqual([
      'POST /v1/cluster/members',
      'POST /v1/cluster/members',
      'POST /v1/cluster/members/n3/promote',
      'POST /v1/cluster/members/n3/promote',
      'POST /v1/cluster/members/n3/promote',
    ]);
  });

  it('gives up after its bound with the last answer', async () => {
    const n1 = await fakeNode(() => error(503, 'NO_LEADER'));
    const result = await addBack({ ...context([{ id: 'n1', url: n1 }]), stepTimeoutMs: 500 }, 'n3', 'http://n3.example:7003');
    expect(result).toMatchObject({ kind: 'failed', why: expect.stringMatching(/gave up after 500 ms \(last: 503 NO_LEADER\)/) });
  });
});
