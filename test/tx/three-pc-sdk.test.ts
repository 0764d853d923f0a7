// 3PC end to end: the coordinator (fake log, real HTTP) with real participants
// on the participant SDK (fastify plugin, in-memory store, manual clocks). The
// coordinator's `precommitted` (or `decided`) proposal is held back so a
// participant's own resolver can run in the gap before it.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createParticipant, MemoryParticipantStore, ratifyParticipant, type Participant } from '../../src/sdk/participant/index.js';
import { decodeCommand } from '../../src/tx/commands.js';
import type { TxView } from '../../src/tx/types.js';
import { refusedUrl } from '../sdk/fake-coordinator.js';
import { ManualClock, quiet, recordingHandlers, type RecordingHandlers } from '../sdk/helpers.js';
import type { FakeCluster } from './fake-log.js';
import { eventually, participant, startLeader, type TestNode } from './harness.js';

const RESOLVE_AFTER_MS = 10_000;
const THREE_PC_MS = 30_000;

interface SdkParticipant {
  readonly name: string;
  readonly url: string;
  readonly clock: ManualClock;
  readonly handlers: RecordingHandlers;
  readonly core: Participant;
  /** Handler calls as `handler:source`, prepare left out. */
  handled(): string[];
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function coordinator(): Promise<{ node: TestNode; cluster: FakeCluster }> {
  const { node, cluster } = await startLeader();
  cleanups.push(() => node.close());
  await node.listen();
  return { node, cluster };
}

async function sdkParticipant(name: string, coordinatorUrls: string[]): Promise<SdkParticipant> {
  const clock = new ManualClock();
  const handlers = recordingHandlers();
  const core = createParticipant({
    name,
    store: new MemoryParticipantStore(),
    handlers,
    logger: quiet,
    now: clock.now,
    coordinatorUrls,
    resolveAfterMs: RESOLVE_AFTER_MS,
    threePcTimeoutMs: THREE_PC_MS,
    inquiryTimeoutMs: 2_000,
  });
  const app: FastifyInstance = Fastify({ logger: false, forceCloseConnections: true });
  await app.register(ratifyParticipant, { prefix: '/ratify', participant: core });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  cleanups.push(async () => {
    await app.close();
    await core.close();
  });
  const handled = (): string[] => handlers.calls.filter((c) => c.handler !== 'prepare').map((c) => `${c.handler}:${c.tx.source}`);
  return { name, url: `${base}/ratify`, clock, handlers, core, handled };
}

/** Holds the coordinator's first proposal of `type` until release() (every other proposal passes). */
function holdProposal(cluster: FakeCluster, type: 'precommitted' | 'decided'): { held: () => boolean; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let held = false;
  cluster.interceptor = async (data) => {
    if (decodeCommand(data)?.type !== type) return;
    held = true;
    await gate;
  };
  return { held: () => held, release };
}

function commit3pc(node: TestNode, ps: readonly SdkParticipant[]): Promise<TxView> {
  return node.app
    .inject({
      method: 'POST',
      url: '/v1/transactions',
      payload: { participants: ps.map((p) => participant(p.name, p.url)), protocol: '3pc', commit: true },
    })
    .then((res) => {
      expect(res.statusCode, res.body).toBe(200);
      return res.json<TxView>();
    });
}

describe('3PC with participants on the SDK', () => {
  it('precommit acknowledged by every participant: commit everywhere', async () => {
    const { node } = await coordinator();
    const a = await sdkParticipant('a', [node.url]);
    const b = await sdkParticipant('b', [node.url]);
    const view = await commit3pc(node, [a, b]);
    expect(view.outcome).toBe('committed');
    await eventually(() => node.sm.get(view.id)?.state === 'committed', 'committed');
    for (const p of [a, b]) expect(p.handled()).toEqual(['precommit:coordinator', 'commit:coordinator']);
  });

  it('a prepared participant that reaches no coordinator node never aborts on its own: it waits, then commits with the others', async () => {
    const { node, cluster } = await coordinator();
    const a = await sdkParticipant('a', [node.url]);
    // b cannot reach any coordinator node; an earlier version aborted it on its 3PC timeout here.
    const b = await sdkParticipant('b', [await refusedUrl()]);
    const gate = holdProposal(cluster, 'precommitted');
    const answer = commit3pc(node, [a, b]);
    await eventually(() => gate.held(), 'every vote in, precommitted proposed');
    // b hears nothing for many windows: each inquiry fails, and it waits.
    for (let elapsed = 0; elapsed <= 3 * THREE_PC_MS; elapsed += RESOLVE_AFTER_MS) {
      b.clock.advance(RESOLVE_AFTER_MS);
      expect(await b.core.resolvePending()).toMatchObject({ examined: 1, waiting: 1, aborted: 0, committed: 0 });
    }
    expect(b.handled()).toEqual([]);
    gate.release();
    const view = await answer;
    expect(view.outcome).toBe('committed');
    await eventually(() => node.sm.get(view.id)?.state === 'committed', 'committed');
    for (const p of [a, b]) expect(p.handled()).toEqual(['precommit:coordinator', 'commit:coordinator']);
  });

  it('a precommitted participant that reaches no coordinator node for threePcTimeoutMs commits on its own, and the outcome is commit', async () => {
    const { node, cluster } = await coordinator();
    const a = await sdkParticipant('a', [await refusedUrl()]);
    const b = await sdkParticipant('b', [node.url]);
    const gate = holdProposal(cluster, 'decided');
    const answer = commit3pc(node, [a, b]);
    await eventually(() => gate.held(), 'every precommit acknowledged, commit proposed');
    const view = await answer;
    expect(view).toMatchObject({ state: 'precommitted', outcome: 'committed' }); // fixed at precommitted
    for (let elapsed = 0; elapsed <= THREE_PC_MS; elapsed += RESOLVE_AFTER_MS) {
      a.clock.advance(RESOLVE_AFTER_MS);
      await a.core.resolvePending();
    }
    expect(a.handled()).toEqual(['precommit:coordinator', 'commit:timeout']);
    gate.release();
    await eventually(() => node.sm.get(view.id)?.state === 'committed', 'committed');
    expect(a.handled()).toEqual(['precommit:coordinator', 'commit:timeout']); // the coordinator's commit was an ack
    expect(b.handled()).toEqual(['precommit:coordinator', 'commit:coordinator']);
  });

  it('while the cluster answers, a participant follows it rather than its timer', async () => {
    const { node, cluster } = await coordinator();
    const a = await sdkParticipant('a', [node.url]);
    const b = await sdkParticipant('b', [node.url]);
    const gate = holdProposal(cluster, 'precommitted');
    const answer = commit3pc(node, [a, b]);
    await eventually(() => gate.held(), 'every vote in, precommitted proposed');
    // Far past b's 3PC window: each inquiry finds the transaction undecided, so b waits.
    for (let i = 0; i < 10; i++) {
      b.clock.advance(THREE_PC_MS);
      expect(await b.core.resolvePending()).toMatchObject({ examined: 1, waiting: 1, aborted: 0, committed: 0 });
    }
    gate.release();
    const view = await answer;
    expect(view.outcome).toBe('committed');
    await eventually(() => node.sm.get(view.id)?.state === 'committed', 'committed');
    for (const p of [a, b]) expect(p.handled()).toEqual(['precommit:coordinator', 'commit:coordinator']);
  });
});
