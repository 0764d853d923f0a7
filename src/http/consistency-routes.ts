// The consistency check across replicas (like etcd's corruption check):
//   GET /v1/cluster/digests      this node's state digests (src/node/state-digests.ts)
//   GET /v1/cluster/consistency  every member's digests, asked by this node and
//                                compared with the leader's (digest-compare.ts);
//                                what `ratify check` shows
// and, on the leader, the same comparison every consistencyCheckMs: a member whose
// digest differs is logged at error level by id, and the gauge
// ratify_consistency_mismatch holds how many differed at the last check.
//
// GET /v1/cluster/digests is public, like /metrics: the leader must reach it with
// no client token, and a sha256 of the whole state at an index tells a caller
// nothing it could use (no id, URL or payload; the state is far beyond guessing).
import type { FastifyPluginAsync } from 'fastify';
import { Gauge, type Registry } from 'prom-client';
import { Agent, request } from '../util/undici-parts.js';
import type { Logger } from '../logger.js';
import type { StateDigest } from '../node/state-digests.js';
import type { Member, NodeId, Role } from '../raft/types.js';
import type { ConsistencyView } from '../sdk/admin-types.js';
import { nodeConnectOptions, type TlsMaterial } from '../transport/peer-tls.js';
import { describeError } from '../util/describe-error.js';
import { PUBLIC, READER } from './auth.js';
import { compareDigests, parseDigestReport, type DigestReport, type MemberDigests } from './digest-compare.js';
import { errorResponses } from './schemas.js';

export interface DigestNode {
  stateDigests(): { readonly appliedIndex: number; readonly intervalEntries: number | null; readonly digests: readonly StateDigest[] };
  status(): { readonly nodeId: NodeId; readonly role: Role; readonly leaderId: NodeId | null; readonly members: readonly Member[] };
}

export interface ConsistencyRoutesOptions {
  readonly node: DigestNode;
  readonly intervalEntries: number;
  /** 0: no periodic check. */
  readonly checkMs: number;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly tls?: TlsMaterial | null;
  /** Bound on each member's answer. */
  readonly probeTimeoutMs?: number;
}

export const MISMATCH_METRIC = 'ratify_consistency_mismatch';

const digestSchema = {
  type: 'object',
  required: ['index', 'sha256'],
  properties: { index: { type: 'integer' }, sha256: { type: 'string' } },
} as const;
const digestsReply = {
  type: 'object',
  required: ['nodeId', 'appliedIndex', 'intervalEntries', 'digests'],
  properties: {
    nodeId: { type: 'string' },
    appliedIndex: { type: 'integer' },
    intervalEntries: { type: ['integer', 'null'] },
    digests: { type: 'array', items: digestSchema },
  },
} as const;
const memberSchema = {
  type: 'object',
  required: ['id', 'verdict', 'index', 'digest', 'referenceDigest', 'appliedIndex', 'error'],
  properties: {
    id: { type: 'string' },
    verdict: { type: 'string', enum: ['match', 'mismatch', 'unchecked'] },
    index: { type: ['integer', 'null'] },
    digest: { type: ['string', 'null'] },
    referenceDigest: { type: ['string', 'null'] },
    appliedIndex: { type: ['integer', 'null'] },
    error: { type: ['string', 'null'] },
  },
} as const;
const consistencyReply = {
  type: 'object',
  required: ['observedBy', 'referenceId', 'intervalEntries', 'members', 'mismatched'],
  properties: {
    observedBy: { type: 'string' },
    referenceId: { type: ['string', 'null'] },
    intervalEntries: { type: 'integer' },
    members: { type: 'array', items: memberSchema },
    mismatched: { type: 'array', items: { type: 'string' } },
  },
} as const;

export const consistencyRoutes: FastifyPluginAsync<ConsistencyRoutesOptions> = async (app, o) => {
  const tls = o.tls ?? null;
  const agent = new Agent({ connections: 2, keepAliveTimeout: 10_000, ...(tls === null ? {} : { connect: nodeConnectOptions(tls) }) });
  const probeTimeoutMs = o.probeTimeoutMs ?? 2_000;
  const own = (): DigestReport => ({ nodeId: o.node.status().nodeId, ...o.node.stateDigests() });
  const survey = async (): Promise<ConsistencyView> => {
    const s = o.node.status();
    const members = await Promise.all(
      s.members.map(async (m): Promise<MemberDigests> => {
        if (m.id === s.nodeId) return { id: m.id, report: own() };
        try {
          const report = await probe(agent, m, probeTimeoutMs);
          return report.nodeId === m.id
            ? { id: m.id, report }
            : { id: m.id, report: null, error: `${m.url} answers as node ${report.nodeId}` };
        } catch (err) {
          return { id: m.id, report: null, error: describeError(err) };
        }
      }),
    );
    return compareDigests(s.nodeId, s.role === 'leader' ? s.nodeId : s.leaderId, o.intervalEntries, members);
  };

  app.get('/v1/cluster/digests', { config: PUBLIC, schema: { response: { 200: digestsReply, ...errorResponses } } }, async () => own());
  app.get('/v1/cluster/consistency', { config: READER, schema: { response: { 200: consistencyReply, ...errorResponses } } }, async () =>
    survey(),
  );

  const gauge = new Gauge({
    name: MISMATCH_METRIC,
    help: "members whose state digest differed from the leader's at the leader's last consistency check (0: all equal)",
    registers: [o.registry],
  });
  let timer: NodeJS.Timeout | null = null;
  let running = false;
  const check = async (): Promise<void> => {
    if (running || o.node.status().role !== 'leader') return;
    running = true;
    try {
      const view = await survey();
      gauge.set(view.mismatched.length);
      for (const m of view.members) {
        if (m.verdict !== 'mismatch') continue;
        o.logger.error(
          { member: m.id, index: m.index, digest: m.digest, leaderDigest: m.referenceDigest },
          `consistency check: the state of ${m.id} differs from the leader's at applied index ${m.index}`,
        );
      }
    } catch (err) {
      o.logger.warn({ err }, 'consistency check failed');
    } finally {
      running = false;
    }
  };
  if (o.checkMs > 0) {
    timer = setInterval(() => void check(), o.checkMs);
    timer.unref();
  }
  app.addHook('onClose', async () => {
    if (timer !== null) clearInterval(timer);
    await agent.close();
  });
};

async function probe(agent: Agent, member: Member, timeoutMs: number): Promise<DigestReport> {
  const res = await request(agent, `${member.url.replace(/\/+$/, '')}/v1/cluster/digests`, {
    method: 'GET',
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET /v1/cluster/digests answered ${res.statusCode}`);
  return parseDigestReport(JSON.parse(text));
}
