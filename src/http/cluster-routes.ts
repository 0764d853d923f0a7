// GET /v1/cluster and the membership admin endpoints.
//
// Admin writes run on the leader: a follower forwards them (LeaderForwarder) or
// answers 503 NOT_LEADER with the leader's id. Each resolves once the config
// entry is committed and applied on the node that proposed it.
import type { FastifyPluginAsync } from 'fastify';
import { RatifyError } from '../errors.js';
import { publicRole } from '../node/raft-node.js';
import type { Member, NodeId } from '../raft/types.js';
import type { ClusterNode } from './cluster-node.js';
import type { LeaderForwarder } from './leader-forward.js';
import { ADMIN, READER } from './auth.js';
import { errorResponses, memberSchema, nodeIdSchema, urlSchema } from './schemas.js';

export interface ClusterRoutesOptions {
  readonly node: ClusterNode;
  readonly forwarder: LeaderForwarder;
}

const clusterSchema = {
  type: 'object',
  required: ['nodeId', 'role', 'term', 'leaderId', 'commitIndex', 'appliedIndex', 'members'],
  properties: {
    nodeId: { type: 'string' },
    role: { type: 'string', enum: ['leader', 'follower', 'candidate', 'learner'] },
    term: { type: 'integer' },
    leaderId: { type: ['string', 'null'] },
    leaderUrl: { type: ['string', 'null'] },
    commitIndex: { type: 'integer' },
    appliedIndex: { type: 'integer' },
    snapshotIndex: { type: 'integer' },
    members: { type: 'array', items: memberSchema },
    removed: { type: 'boolean' },
  },
} as const;

const membersReply = {
  200: { type: 'object', required: ['members'], properties: { members: { type: 'array', items: memberSchema } } },
  ...errorResponses,
} as const;

const idParams = { type: 'object', required: ['id'], properties: { id: nodeIdSchema } } as const;

export const clusterRoutes: FastifyPluginAsync<ClusterRoutesOptions> = async (app, { node, forwarder }) => {
  app.get('/v1/cluster', { config: READER, schema: { response: { 200: clusterSchema, ...errorResponses } } }, async () => {
    const s = node.status();
    return {
      nodeId: s.nodeId,
      role: publicRole(s.role),
      term: s.term,
      leaderId: s.leaderId,
      leaderUrl: s.leaderUrl,
      commitIndex: s.commitIndex,
      appliedIndex: s.appliedIndex,
      snapshotIndex: node.snapshotIndex(),
      members: s.members,
      removed: s.removed,
    };
  });

  // Admin routes (config: ADMIN): the app's auth hook checks them (src/http/auth.ts) before any body is read.
  app.post<{ Body: { id: NodeId; url: string } }>(
    '/v1/cluster/members',
    {
      config: { ...ADMIN, audit: 'cluster.addMember' },
      schema: {
        body: { type: 'object', required: ['id', 'url'], additionalProperties: false, properties: { id: nodeIdSchema, url: urlSchema } },
        response: membersReply,
      },
    },
    (req, reply) =>
      forwarder.run(req, reply, async () => ({ members: await node.addLearner(req.body.id, req.body.url.replace(/\/+$/, '')) })),
  );

  app.post<{ Params: { id: NodeId } }>(
    '/v1/cluster/members/:id/promote',
    { config: { ...ADMIN, audit: 'cluster.promote' }, schema: { params: idParams, response: membersReply } },
    (req, reply) =>
      forwarder.run(req, reply, async () => {
        requireMember(node, req.params.id);
        return { members: await node.promote(req.params.id) };
      }),
  );

  app.delete<{ Params: { id: NodeId } }>(
    '/v1/cluster/members/:id',
    { config: { ...ADMIN, audit: 'cluster.removeMember' }, schema: { params: idParams, response: membersReply } },
    (req, reply) =>
      forwarder.run(req, reply, async () => {
        requireMember(node, req.params.id);
        return { members: await node.remove(req.params.id) };
      }),
  );

  app.post<{ Body: { to: NodeId } }>(
    '/v1/cluster/leadership-transfer',
    {
      config: { ...ADMIN, audit: 'cluster.transferLeadership' },
      schema: {
        body: { type: 'object', required: ['to'], additionalProperties: false, properties: { to: nodeIdSchema } },
        response: {
          200: {
            type: 'object',
            required: ['leaderId', 'term'],
            properties: { leaderId: { type: ['string', 'null'] }, term: { type: 'integer' } },
          },
          ...errorResponses,
        },
      },
    },
    (req, reply) =>
      forwarder.run(req, reply, async () => {
        const target = requireMember(node, req.body.to);
        if (target !== null && !target.voter) {
          throw new RatifyError('INVALID_CONFIG_CHANGE', `${req.body.to} is a learner; only a voter can take leadership`);
        }
        await node.transferLeadership(req.body.to);
        const s = node.status();
        return { leaderId: s.leaderId, term: s.term };
      }),
  );
};

/**
 * On the leader, the member list is authoritative, so an unknown id is a 404.
 * Elsewhere the list may be stale: return null and let the leader decide (the
 * call will fail with NOT_LEADER and be forwarded).
 */
function requireMember(node: ClusterNode, id: NodeId): Member | null {
  const s = node.status();
  if (s.role !== 'leader') return null;
  const m = s.members.find((x) => x.id === id);
  if (m === undefined) throw new RatifyError('MEMBER_NOT_FOUND', `no cluster member with id ${id}`, { details: { id } });
  return m;
}
