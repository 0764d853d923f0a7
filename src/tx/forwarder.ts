// A follower hands a write to the leader: one hop, same path, body and
// Idempotency-Key, marked so the leader never forwards it again (two nodes that
// each think the other leads would otherwise bounce it between them).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Agent, request } from 'undici';
import { RatifyError } from '../errors.js';
import type { ReplicatedLog } from '../node/replicated-log.js';
import { describe } from './participant-client.js';

export const FORWARDED_HEADER = 'x-ratify-forwarded';

/** Response headers worth passing back to the client. */
const PASSED_HEADERS = ['content-type', 'retry-after'] as const;

export interface Forwarder {
  forward(req: FastifyRequest, reply: FastifyReply): Promise<void>;
  close(): Promise<void>;
}

export function createForwarder(log: ReplicatedLog, timeoutMs: number): Forwarder {
  const agent = new Agent({ connections: 64, keepAliveTimeout: 30_000 });
  return {
    async forward(req, reply) {
      const status = log.status();
      if (req.headers[FORWARDED_HEADER] !== undefined) {
        throw new RatifyError('NOT_LEADER', `node ${log.nodeId} is not the leader and does not forward a forwarded request`, {
          details: { leaderId: status.leaderId },
        });
      }
      if (status.leaderUrl === null || status.leaderId === log.nodeId) {
        throw new RatifyError('NO_LEADER', 'no leader is known; retry later');
      }
      const headers: Record<string, string> = { [FORWARDED_HEADER]: '1' };
      const key = req.headers['idempotency-key'];
      if (typeof key === 'string') headers['idempotency-key'] = key;
      if (req.body !== undefined) headers['content-type'] = 'application/json';
      let res;
      try {
        res = await request(`${status.leaderUrl.replace(/\/+$/, '')}${req.url}`, {
          dispatcher: agent,
          method: 'POST',
          headers,
          body: req.body === undefined ? null : JSON.stringify(req.body),
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
      } catch (e) {
        throw new RatifyError('NOT_LEADER', `forwarding to leader ${String(status.leaderId)} failed: ${describe(e)}`, {
          cause: e,
          details: { leaderId: status.leaderId },
        });
      }
      const text = await res.body.text();
      for (const name of PASSED_HEADERS) {
        const value = res.headers[name];
        if (typeof value === 'string') reply.header(name, value);
      }
      await reply.code(res.statusCode).send(text);
    },
    async close() {
      await agent.close();
    },
  };
}
