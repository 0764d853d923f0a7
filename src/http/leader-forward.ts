// The one way a write that reached a follower gets to the leader: one hop, same
// method, path, body and the headers worth replaying, marked so the leader never
// forwards it again (two nodes that each think the other leads would otherwise
// bounce it between them). The leader's status, headers worth passing back and
// body go to the client unchanged.
//
// Two entry points, for the two ways a route learns it is not on the leader:
//   run()      the local handler runs first; only when it fails with NOT_LEADER
//              (the core refused synchronously, so nothing was proposed here) is
//              the request replayed against the leader (cluster and KV routes);
//   toLeader() the route already knows this node does not lead (transaction
//              routes check the role before doing anything).
// One instance per node, created by the app and handed to every route group.
//
// Credentials on the hop. The client's own `Authorization` header is replayed and
// the leader authenticates it again (client-auth.ts): the leader never takes a
// follower's word for who the caller is, so a node (or anyone holding the peer
// credential) cannot act as a principal whose token it was never shown. The
// follower adds its own peer credential (the cluster secret) to the hop, which is
// what makes the leader trust the `x-ratify-forwarded` mark and the client's
// address it passes along (auth.ts decides, as request.forwardedBy). A mark that
// does not pass the peer check, or does not name a member, is ignored and the
// request is served as any other (a client that sends the header gets no 503).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Agent, request as undiciRequest } from '../util/undici-parts.js';
import { RatifyError, isRatifyError } from '../errors.js';
import { nodeConnectOptions, type TlsMaterial } from '../transport/peer-tls.js';
import { describeError } from '../util/describe-error.js';
import { promiseOf } from '../util/promise-of.js';

export const FORWARDED_HEADER = 'x-ratify-forwarded';
/** The address the client's request came from, for the leader's audit line; trusted only on a trusted hop. */
export const CLIENT_ADDRESS_HEADER = 'x-ratify-client-address';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the node that relayed this request to the leader (the leader's audit line stands for it). */
    forwardedTo: string | null;
  }
}

/**
 * Request headers worth replaying on the leader: the client's token, which the
 * leader checks again, and the key. The client's x-ratify-secret is not among
 * them: the follower checked it already, and the hop carries the node's own.
 */
const PASS_HEADERS = ['authorization', 'idempotency-key'] as const;
/** Response headers worth passing back to the client. */
const PASSED_BACK_HEADERS = ['content-type', 'retry-after'] as const;

export interface LeaderForwarderOptions {
  readonly nodeId: string;
  /** Bound on a forwarded request unless the route gives its own (a commit waits for its decision). */
  readonly timeoutMs: number;
  /** Keep-alive connections to the leader. */
  readonly connections?: number;
  /** For an https:// leader: the cluster's CA, and our certificate with mutual TLS. */
  readonly tls?: TlsMaterial | null;
  /** Added to every hop so that the leader's peer check admits it (auth.ts peerCredentialHeaders). */
  readonly peerHeaders: Readonly<Record<string, string>>;
}

export interface LeaderHint {
  readonly leaderId: string | null;
  readonly leaderUrl: string | null;
}

export class LeaderForwarder {
  private readonly agent: Agent;
  /** Aborted when the node starts stopping: a forwarded request must not hold the stop up. */
  private readonly stopping = new AbortController();

  constructor(private readonly opts: LeaderForwarderOptions) {
    const tls = opts.tls ?? null;
    this.agent = new Agent({
      connections: opts.connections ?? 64,
      keepAliveTimeout: 30_000,
      ...(tls === null ? {} : { connect: nodeConnectOptions(tls) }),
    });
  }

  /** Run `local`; on NOT_LEADER, relay the request to the leader and send its reply instead. */
  run<T>(request: FastifyRequest, reply: FastifyReply, local: () => Promise<T>): Promise<T | FastifyReply> {
    // Not async: every raw write of the benchmark's KV path comes through here, and an
    // async frame per request is garbage the leader collects under load.
    return promiseOf(local).catch((err: unknown) => {
      if (!isRatifyError(err, 'NOT_LEADER') || isForwarded(request)) throw err;
      const leaderUrl = err.details?.['leaderUrl'];
      if (typeof leaderUrl !== 'string') throw err;
      return this.forward(request, reply, leaderUrl, this.opts.timeoutMs, () => err);
    });
  }

  /** Relay to the leader named by `hint`: NO_LEADER when none is known, NOT_LEADER when the request was forwarded already or the hop fails. */
  async toLeader(request: FastifyRequest, reply: FastifyReply, hint: LeaderHint, timeoutMs = this.opts.timeoutMs): Promise<FastifyReply> {
    if (isForwarded(request)) {
      throw new RatifyError('NOT_LEADER', `node ${this.opts.nodeId} is not the leader and does not forward a forwarded request`, {
        details: { leaderId: hint.leaderId },
      });
    }
    if (hint.leaderUrl === null || hint.leaderId === this.opts.nodeId)
      throw new RatifyError('NO_LEADER', 'no leader is known; retry later');
    const failed = (cause: unknown): RatifyError =>
      new RatifyError('NOT_LEADER', `forwarding to leader ${String(hint.leaderId)} failed: ${describeError(cause)}`, {
        cause,
        details: { leaderId: hint.leaderId },
      });
    return this.forward(request, reply, hint.leaderUrl, timeoutMs, failed);
  }

  /** Abort every forwarded request in flight (their callers get SHUTTING_DOWN) and refuse new ones. */
  abortInFlight(): void {
    this.stopping.abort();
  }

  close(): Promise<void> {
    this.abortInFlight();
    return this.agent.destroy();
  }

  private async forward(
    request: FastifyRequest,
    reply: FastifyReply,
    leaderUrl: string,
    timeoutMs: number,
    failed: (cause: unknown) => RatifyError,
  ): Promise<FastifyReply> {
    const headers: Record<string, string> = {
      ...this.opts.peerHeaders,
      [FORWARDED_HEADER]: this.opts.nodeId,
      [CLIENT_ADDRESS_HEADER]: request.clientAddress,
    };
    for (const h of PASS_HEADERS) {
      const v = request.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    const hasBody = request.body !== undefined && request.body !== null;
    if (hasBody) headers['content-type'] = 'application/json';
    let status: number;
    let text: string;
    let passedBack: Array<[string, string]>;
    try {
      const res = await undiciRequest(this.agent, leaderUrl.replace(/\/+$/, '') + request.url, {
        method: request.method as 'POST',
        headers,
        body: hasBody ? JSON.stringify(request.body) : null,
        signal: this.stopping.signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = res.statusCode;
      passedBack = PASSED_BACK_HEADERS.flatMap((name) => {
        const value = res.headers[name];
        return typeof value === 'string' ? [[name, value] as [string, string]] : [];
      });
      text = await res.body.text();
    } catch (err) {
      if (this.stopping.signal.aborted)
        throw new RatifyError('SHUTTING_DOWN', 'the node is stopping; the forwarded request may have reached the leader', { cause: err });
      // The leader hint is stale or the leader is unreachable: let the client retry.
      request.log.warn({ err, leaderUrl }, 'forwarding to the leader failed');
      throw failed(err);
    }
    request.forwardedTo = leaderUrl;
    for (const [name, value] of passedBack) void reply.header(name, value);
    // The leader's body as it sent it: already in the route's response shape, so not serialized again.
    return reply.code(status).send(text === '' ? undefined : text);
  }
}

/** A hop another node made, as the auth hook judged it (trusted marks only). */
function isForwarded(request: FastifyRequest): boolean {
  return request.forwardedBy !== null;
}
