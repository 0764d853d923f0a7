// Forwarding a write that reached a follower to the leader.
//
// The local handler runs first; only when it fails with NOT_LEADER (the core
// refused synchronously, so nothing was proposed here) is the request replayed
// against the leader. A forwarded request is never forwarded again: a follower
// that gets one answers 503 NOT_LEADER, so stale leader hints cannot loop.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Agent, request as undiciRequest } from 'undici';
import { RatifyError, isRatifyError } from '../errors.js';

export const FORWARDED_HEADER = 'x-ratify-forwarded';
export const SECRET_HEADER = 'x-ratify-secret';

/** Headers worth replaying on the leader. */
const PASS_HEADERS = [SECRET_HEADER, 'idempotency-key'] as const;

export interface LeaderForwarderOptions {
  readonly nodeId: string;
  readonly timeoutMs: number;
}

export class LeaderForwarder {
  private readonly agent: Agent;
  /** Aborted when the node starts stopping: a forwarded request must not hold the stop up. */
  private readonly stopping = new AbortController();

  constructor(private readonly opts: LeaderForwarderOptions) {
    this.agent = new Agent({ connections: 16, headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs });
  }

  /** Run `local`; on NOT_LEADER, relay the request to the leader and send its reply instead. */
  async run<T>(request: FastifyRequest, reply: FastifyReply, local: () => Promise<T>): Promise<T | FastifyReply> {
    try {
      return await local();
    } catch (err) {
      if (!isRatifyError(err, 'NOT_LEADER') || request.headers[FORWARDED_HEADER] !== undefined) throw err;
      const leaderUrl = err.details?.['leaderUrl'];
      if (typeof leaderUrl !== 'string') throw err;
      return this.forward(request, reply, leaderUrl, err);
    }
  }

  /** Abort every forwarded request in flight (their callers get SHUTTING_DOWN) and refuse new ones. */
  abortInFlight(): void {
    this.stopping.abort();
  }

  close(): Promise<void> {
    this.abortInFlight();
    return this.agent.destroy();
  }

  private async forward(request: FastifyRequest, reply: FastifyReply, leaderUrl: string, notLeader: RatifyError): Promise<FastifyReply> {
    const headers: Record<string, string> = { [FORWARDED_HEADER]: this.opts.nodeId };
    for (const h of PASS_HEADERS) {
      const v = request.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    const hasBody = request.body !== undefined && request.body !== null;
    if (hasBody) headers['content-type'] = 'application/json';
    let status: number;
    let payload: unknown;
    try {
      const res = await undiciRequest(leaderUrl + request.url, {
        method: request.method as 'POST',
        headers,
        body: hasBody ? JSON.stringify(request.body) : null,
        dispatcher: this.agent,
        signal: this.stopping.signal,
      });
      status = res.statusCode;
      const text = await res.body.text();
      payload = text === '' ? undefined : JSON.parse(text);
    } catch (err) {
      if (this.stopping.signal.aborted) throw new RatifyError('SHUTTING_DOWN', 'the node is stopping; the forwarded request may have reached the leader', { cause: err });
      // The leader hint is stale or the leader is unreachable: let the client retry.
      request.log.warn({ err, leaderUrl }, 'forwarding to the leader failed');
      throw notLeader;
    }
    return reply.code(status).send(payload);
  }
}
