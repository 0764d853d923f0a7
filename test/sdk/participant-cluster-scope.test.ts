// Cooperative termination believes only the cluster that prepared the record
// (src/sdk/participant/answer-scope.ts). Injected failures: coordinatorUrls that
// point at another cluster, or at a rebuilt incarnation of the same one, which
// answer 404 TX_NOT_FOUND under a newer leader (exactly what a real node says
// about a transaction it never saw), or even a decided outcome; and a 404 for a
// token that sees only its own transactions. None of these may settle a
// record; a 404 from the right cluster still presumes abort.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { resolveNodeConfig } from '../../src/node/config.js';
import { startNode, type RunningNode } from '../../src/node/server.js';
import { createParticipant, MemoryParticipantStore, type Participant, type ParticipantLogger } from '../../src/sdk/participant/index.js';
import { freePorts } from '../helpers/cluster.js';
import { waitUntil } from '../helpers/wait.js';
import { startFakeCoordinator, type FakeCoordinator } from './fake-coordinator.js';
import { callBody, ManualClock, prepareBody, quiet, recordingHandlers, type RecordingHandlers } from './helpers.js';

const RESOLVE_AFTER_MS = 10_000;
const THREE_PC_MS = 30_000;
const BETA = { clusterId: 'beta', incarnation: 'b1b1b1' };
const ALPHA = { clusterId: 'alpha', incarnation: 'a1a1a1' };

let clock: ManualClock;
let h: RecordingHandlers;
let warnings: string[];
const open: Participant[] = [];

const logger: ParticipantLogger = { ...quiet, warn: (obj, msg) => void warnings.push(`${msg} ${JSON.stringify(obj)}`) };

function participant(coordinatorUrls: string[]): Participant {
  const p = createParticipant({
    store: new MemoryParticipantStore(),
    handlers: h,
    logger,
    now: clock.now,
    coordinatorUrls,
    resolveAfterMs: RESOLVE_AFTER_MS,
    threePcTimeoutMs: THREE_PC_MS,
  });
  open.push(p);
  return p;
}

/** The headers a coordinator of `scope` sends with every call. */
const from = (scope: { clusterId: string; incarnation: string }, term = 1): Record<string, string> => ({
  'x-ratify-cluster': scope.clusterId,
  'x-ratify-incarnation': scope.incarnation,
  'x-ratify-term': String(term),
});

const settled = (): string[] => h.calls.filter((c) => c.handler !== 'prepare').map((c) => `${c.handler}:${c.tx.txId}:${c.tx.source}`);
const scopeWarnings = (): string[] => warnings.filter((w) => w.includes('not for the cluster that prepared'));

beforeEach(() => {
  clock = new ManualClock();
  h = recordingHandlers();
  warnings = [];
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.close()));
});

describe('a fake coordinator of another cluster', () => {
  let fake: FakeCoordinator;
  beforeEach(async () => {
    fake = await startFakeCoordinator();
    // Everything a 404 needs to read as "forgotten": a newer leader than our prepare's term.
    fake.cluster = { term: 9, leaderId: 'n2' };
    fake.visibility = 'all';
  });
  afterEach(async () => {
    await fake.close();
  });

  it('does not abort a transaction another cluster prepared when asked cluster answers 404 under a newer leader', async () => {
    fake.identity = ALPHA;
    const p = participant([fake.url]);
    expect((await p.handle('prepare', prepareBody('tx-beta'), from(BETA))).body).toEqual({ vote: 'commit' });
    for (let i = 0; i < 3; i++) {
      clock.advance(RESOLVE_AFTER_MS);
      expect(await p.resolvePending()).toMatchObject({ examined: 1, waiting: 1, aborted: 0, committed: 0 });
    }
    expect(settled()).toEqual([]);
    // Logged at warn once, not on every pass.
    expect(scopeWarnings()).toHaveLength(1);
    expect(scopeWarnings()[0]).toContain('alpha');
    // The coordinator that did prepare us still decides.
    expect((await p.handle('commit', callBody('tx-beta'), from(BETA))).body).toEqual({ ok: true, state: 'committed' });
    expect(settled()).toEqual(['commit:tx-beta:coordinator']);
  });

  it('still presumes abort on a 404 from the cluster incarnation that prepared it', async () => {
    fake.identity = BETA;
    const p = participant([fake.url]);
    await p.handle('prepare', prepareBody('tx-beta'), from(BETA));
    clock.advance(RESOLVE_AFTER_MS);
    expect(await p.resolvePending()).toMatchObject({ aborted: 1 });
    expect(settled()).toEqual(['abort:tx-beta:resolver']);
    expect(scopeWarnings()).toEqual([]);
  });

  it('takes no outcome from another cluster either, nor from a rebuilt incarnation of the same one, nor from a node that names none', async () => {
    const p = participant([fake.url]);
    await p.handle('prepare', prepareBody('tx-beta'), from(BETA));
    fake.txs.set('tx-beta', { outcome: 'aborted', state: 'aborted' });
    for (const identity of [ALPHA, { clusterId: 'beta', incarnation: 'rebuilt' }, null]) {
      fake.identity = identity;
      clock.advance(RESOLVE_AFTER_MS);
      expect(await p.resolvePending()).toMatchObject({ waiting: 1, aborted: 0 });
    }
    expect(settled()).toEqual([]);
    fake.identity = BETA;
    clock.advance(RESOLVE_AFTER_MS);
    expect(await p.resolvePending()).toMatchObject({ aborted: 1 });
  });

  it('asks the other urls: the right cluster answers even when a wrong one is listed first', async () => {
    const right = await startFakeCoordinator();
    try {
      right.identity = BETA;
      right.visibility = 'all';
      right.txs.set('tx-beta', { outcome: 'committed', state: 'committed' });
      fake.identity = ALPHA;
      const p = participant([fake.url, right.url]);
      await p.handle('prepare', prepareBody('tx-beta'), from(BETA));
      clock.advance(RESOLVE_AFTER_MS);
      expect(await p.resolvePending()).toMatchObject({ committed: 1 });
      expect(settled()).toEqual(['commit:tx-beta:resolver']);
    } finally {
      await right.close();
    }
  });

  it('a 404 for a token that sees only its own transactions is no evidence; marked "all" it is', async () => {
    fake.identity = BETA;
    fake.visibility = 'own';
    const p = participant([fake.url]);
    await p.handle('prepare', prepareBody('tx-beta'), from(BETA));
    clock.advance(RESOLVE_AFTER_MS);
    expect(await p.resolvePending()).toMatchObject({ waiting: 1, aborted: 0 });
    expect(warnings.some((w) => w.includes('sees only its own transactions'))).toBe(true);
    fake.visibility = 'all';
    clock.advance(RESOLVE_AFTER_MS);
    expect(await p.resolvePending()).toMatchObject({ aborted: 1 });
  });

  it('3PC: a precommitted record asking the wrong cluster is as if cut off, so the timeout rule commits it (never an abort)', async () => {
    fake.identity = ALPHA;
    const p = participant([fake.url]);
    await p.handle('prepare', prepareBody('tx-beta', 1, { protocol: '3pc' }), from(BETA));
    await p.handle('precommit', callBody('tx-beta'), from(BETA));
    for (let i = 0; i < 5 && settled().length === 1; i++) {
      clock.advance(THREE_PC_MS);
      await p.resolvePending();
    }
    expect(settled()).toEqual(['precommit:tx-beta:coordinator', 'commit:tx-beta:timeout']);
  });

  it('a record without a scope (a coordinator from before incarnations) takes any answer, as before', async () => {
    fake.identity = ALPHA;
    const p = participant([fake.url]);
    await p.handle('prepare', prepareBody('tx-old'), { 'x-ratify-term': '1' });
    clock.advance(RESOLVE_AFTER_MS);
    expect(await p.resolvePending()).toMatchObject({ aborted: 1 });
  });
});

describe('two real clusters sharing a participant', () => {
  const dataRoot = mkdtempSync(join(tmpdir(), 'ratify-scope-'));
  const running: RunningNode[] = [];
  afterAll(async () => {
    await Promise.all(running.splice(0).map((r) => r.stop()));
    rmSync(dataRoot, { recursive: true, force: true });
  });

  async function soloCluster(clusterId: string): Promise<{ url: string; scope: { clusterId: string; incarnation: string } }> {
    const [port] = await freePorts(1);
    const url = `http://127.0.0.1:${port}`;
    const config = resolveNodeConfig({
      flags: { id: 'solo', clusterId, peers: `solo=${url}`, dataDir: join(dataRoot, clusterId), stateMachine: 'tx' },
    });
    running.push(await startNode(config, { processMetrics: false, logger: createLogger({ level: 'silent', nodeId: 'solo' }) }));
    let incarnation: string | undefined;
    await waitUntil(
      async () => {
        const res = await request(`${url}/v1/cluster`);
        await res.body.dump();
        incarnation = res.headers['x-ratify-incarnation'] as string | undefined;
        expect(res.headers['x-ratify-cluster']).toBe(clusterId);
        return incarnation !== undefined;
      },
      { what: `${clusterId} has an incarnation` },
    );
    return { url, scope: { clusterId, incarnation: incarnation! } };
  }

  it("cluster alpha answering 404 for beta's transaction does not abort it; alpha's own forgotten one is aborted", async () => {
    const alpha = await soloCluster('alpha');
    const beta = await soloCluster('beta');
    const p = participant([alpha.url]);
    // Term 0 < alpha's term: alpha's 404 carries every sign of "forgotten under a newer leader".
    await p.handle('prepare', prepareBody('tx-of-beta', 0), from(beta.scope, 0));
    await p.handle('prepare', prepareBody('tx-of-alpha', 0), from(alpha.scope, 0));
    clock.advance(RESOLVE_AFTER_MS);
    expect(await p.resolvePending()).toMatchObject({ examined: 2, aborted: 1, waiting: 1 });
    expect(settled()).toEqual(['abort:tx-of-alpha:resolver']);
  });
});
