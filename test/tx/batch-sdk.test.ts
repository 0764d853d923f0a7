// Batch calls end to end: the coordinator (fake log, real HTTP) and two
// participants on the participant SDK (fastify plugin, in-memory store). The
// `created` entries of several transactions are released together, so their
// prepares (and later their commits) leave in one event-loop turn and travel as
// batches. Each transaction must still get its own vote and its own outcome.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createParticipant, MemoryParticipantStore, ratifyParticipant, type Participant } from '../../src/sdk/participant/index.js';
import { decodeCommand } from '../../src/tx/commands.js';
import type { TxView } from '../../src/tx/types.js';
import { quiet, recordingHandlers, type RecordingHandlers } from '../sdk/helpers.js';
import type { FakeCluster } from './fake-log.js';
import { eventually, participant, startLeader } from './harness.js';

const TX_COUNT = 12;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

interface SdkParticipant {
  readonly name: string;
  readonly url: string;
  readonly handlers: RecordingHandlers;
  readonly core: Participant;
  /** Paths of the requests the participant received. */
  readonly paths: string[];
}

async function sdkParticipant(name: string): Promise<SdkParticipant> {
  const handlers = recordingHandlers();
  const core = createParticipant({ name, store: new MemoryParticipantStore(), handlers, logger: quiet, coordinatorUrls: [] });
  const paths: string[] = [];
  const app: FastifyInstance = Fastify({ logger: false, forceCloseConnections: true });
  app.addHook('onRequest', async (req) => {
    paths.push(req.url);
  });
  await app.register(ratifyParticipant, { prefix: '/ratify', participant: core });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  cleanups.push(async () => {
    await app.close();
    await core.close();
  });
  return { name, url: `${base}/ratify`, handlers, core, paths };
}

/** Holds every `created` proposal until `count` are held, then lets them all through at once. */
function releaseCreatedTogether(cluster: FakeCluster, count: number): void {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let held = 0;
  cluster.interceptor = async (data) => {
    if (decodeCommand(data)?.type !== 'created') return;
    if (++held === count) release();
    await gate;
  };
}

describe('batch calls with participants on the SDK', () => {
  it('prepares and commits many transactions in batches, each with its own vote and outcome', async () => {
    const { node, cluster } = await startLeader();
    cleanups.push(() => node.close());
    await node.listen();
    const a = await sdkParticipant('a');
    const b = await sdkParticipant('b');
    // b refuses every transaction whose payload asks it to: each item of a batch gets its own vote.
    b.handlers.prepare = async (tx) => {
      b.handlers.calls.push({ handler: 'prepare', tx });
      return (tx.payload as { refuse?: boolean } | null)?.refuse === true ? { vote: 'abort', reason: 'refused' } : { vote: 'commit' };
    };
    releaseCreatedTogether(cluster, TX_COUNT);
    const refuse = (i: number): boolean => i % 3 === 0;
    const views = await Promise.all(
      Array.from({ length: TX_COUNT }, (_, i) =>
        node.app
          .inject({
            method: 'POST',
            url: '/v1/transactions',
            payload: { participants: [participant('a', a.url), participant('b', b.url, { refuse: refuse(i) })], commit: true },
          })
          .then((res) => {
            expect(res.statusCode, res.body).toBe(200);
            return res.json<TxView>();
          }),
      ),
    );
    views.forEach((v, i) => expect(v.outcome, `transaction ${i}`).toBe(refuse(i) ? 'aborted' : 'committed'));
    await eventually(() => views.every((v) => node.sm.get(v.id)?.state === v.outcome), 'every transaction finished');

    for (const [i, v] of views.entries()) {
      // The SDK's durable records agree with the coordinator, transaction by transaction.
      expect(a.handlers.count('commit', v.id), `a commit ${i}`).toBe(refuse(i) ? 0 : 1);
      expect(b.handlers.count('commit', v.id), `b commit ${i}`).toBe(refuse(i) ? 0 : 1);
      // b voted abort, so it is not asked to abort; a prepared, so it is.
      expect(a.handlers.count('abort', v.id), `a abort ${i}`).toBe(refuse(i) ? 1 : 0);
      expect(b.handlers.count('abort', v.id), `b abort ${i}`).toBe(0);
    }
    // The calls travelled in batches: fewer requests than calls, and /batch among them.
    for (const p of [a, b]) {
      expect(p.paths.filter((u) => u === '/ratify/batch').length, `${p.name} batch requests`).toBeGreaterThan(0);
      expect(p.paths.length, `${p.name} requests`).toBeLessThan(2 * TX_COUNT);
    }
    const metrics = await node.registry.metrics();
    expect(metrics).toMatch(/ratify_tx_participant_requests_total\{shape="batch"\} [1-9]/);
  });
});
