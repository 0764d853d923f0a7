// Inbound side of a Raft stream (POST /raft/v1/stream, see peer-stream.ts).
//
// The headers are checked before anything is accepted, so a misconfigured peer
// gets a plain error status (403 with the usual error body) instead of a stream
// that dies: the secret in raft-routes' onRequest hook, then the cluster id and
// the sender here (410 MEMBER_REMOVED for a removed one). After the 200, every
// frame still goes through the same decode-and-admit checks as a per-request
// envelope; a bad frame ends the stream (logged), since no status can be sent
// any more: the sender reconnects, and a sender removed meanwhile then gets its 410.
//
// While frames arrive the node writes one byte back at most every ACK_DELAY_MS:
// the sender's liveness check (peer-stream.ts). Streams are held in a set so the
// plugin can cut them when the server closes; fastify's close() would otherwise
// wait for them forever.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RatifyError } from '../errors.js';
import type { PeerAuth } from '../http/peer-auth.js';
import type { Envelope } from './message-guard.js';
import { FrameReader } from './frames.js';
import { openFrame } from './peer-mac.js';

const ACK_DELAY_MS = 50;
const ACK = Buffer.from([1]);

export interface StreamContext {
  readonly clusterId: string;
  readonly maxFrameBytes: number;
  /** Throws RatifyError (MEMBER_REMOVED) when the sender is refused. */
  admitSender(from: string): void;
  /** Decodes and checks one envelope (throws RatifyError), as for POST /raft/v1/messages. */
  admit(bytes: Uint8Array, auth: PeerAuth | null): Envelope;
  onMessages(messages: Envelope['messages']): void;
  readonly log: { debug(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/** Open streams, so they can be cut when the server closes. */
export class InboundStreams {
  private readonly open = new Set<IncomingMessage>();

  add(req: IncomingMessage): void {
    this.open.add(req);
    req.once('close', () => this.open.delete(req));
  }

  get size(): number {
    return this.open.size;
  }

  destroyAll(): void {
    for (const req of this.open) req.socket.destroy();
    this.open.clear();
  }
}

/** Checks the stream's headers; throws RatifyError, answered by the plugin's error handler. */
export function checkStreamHeaders(request: FastifyRequest, ctx: StreamContext, clusterHeader: string, fromHeader: string): string {
  const clusterId = decodeHeader(request.headers[clusterHeader], clusterHeader);
  const from = decodeHeader(request.headers[fromHeader], fromHeader);
  if (clusterId !== ctx.clusterId) {
    throw new RatifyError('FORBIDDEN', `sender belongs to cluster ${JSON.stringify(clusterId)}, not this node's cluster`);
  }
  ctx.admitSender(from);
  return from;
}

/** Takes the connection over from fastify and feeds frames to the node until either side ends. */
export function serveStream(request: FastifyRequest, reply: FastifyReply, from: string, ctx: StreamContext, streams: InboundStreams): void {
  reply.hijack();
  const req = request.raw;
  const res = reply.raw;
  streams.add(req);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' });
  res.flushHeaders();
  const reader = new FrameReader(ctx.maxFrameBytes);
  // With a cluster secret every frame carries a tag under the opening's key and nonce, and its number (peer-mac.ts).
  const auth = request.peerAuth;
  let seq = 0;
  let ackTimer: NodeJS.Timeout | null = null;
  const ack = (): void => {
    ackTimer = null;
    if (!res.writableEnded && !res.destroyed) res.write(ACK);
  };
  const stop = (err: unknown): void => {
    if (ackTimer !== null) clearTimeout(ackTimer);
    ackTimer = null;
    const code = err instanceof RatifyError ? err.code : 'INTERNAL';
    ctx.log.warn({ peer: from, code, err: err instanceof Error ? err.message : String(err) }, 'ending an inbound Raft stream');
    req.socket.destroy();
  };
  req.on('data', (chunk: Buffer) => {
    try {
      for (const frame of reader.push(chunk)) {
        const bytes = auth?.key == null || auth.nonce === null ? frame : openFrame(auth.key, auth.nonce, seq, frame);
        if (bytes === null) throw new RatifyError('UNAUTHORIZED', `frame ${seq} of ${JSON.stringify(from)}'s stream does not verify`);
        seq++;
        const envelope = ctx.admit(bytes, auth);
        if (envelope.from !== from)
          throw new RatifyError('FORBIDDEN', `a frame from ${JSON.stringify(envelope.from)} on ${JSON.stringify(from)}'s stream`);
        ctx.onMessages(envelope.messages);
      }
    } catch (err) {
      stop(err);
      return;
    }
    ackTimer ??= setTimeout(ack, ACK_DELAY_MS);
  });
  req.on('end', () => finish(res, ackTimer));
  req.on('close', () => {
    if (ackTimer !== null) clearTimeout(ackTimer);
    ctx.log.debug({ peer: from }, 'inbound Raft stream closed');
  });
}

function finish(res: ServerResponse, ackTimer: NodeJS.Timeout | null): void {
  if (ackTimer !== null) clearTimeout(ackTimer);
  if (!res.writableEnded) res.end();
}

function decodeHeader(value: string | string[] | undefined, name: string): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new RatifyError('VALIDATION_FAILED', `header ${name} is required on a Raft stream`);
  try {
    return decodeURIComponent(value);
  } catch {
    throw new RatifyError('VALIDATION_FAILED', `header ${name} is not valid percent-encoding`);
  }
}
