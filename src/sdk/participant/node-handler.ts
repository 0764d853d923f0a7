// The participant behind a plain node:http server:
//
//   http.createServer(createNodeHandler(participant, { prefix: '/ratify' })).listen(8080)
//
// Routes: POST {prefix}/prepare, /precommit, /commit, /abort and /batch.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RatifyError } from '../../errors.js';
import { isCallPath } from './decode.js';
import type { Participant } from './participant.js';

export interface NodeHandlerOptions {
  /** Path prefix of the routes, for example "/ratify" (default: none). */
  readonly prefix?: string;
  /** Largest request body in bytes (default 1 MiB). */
  readonly bodyLimit?: number;
}

const BODY_LIMIT_DEFAULT = 1024 * 1024;

export function createNodeHandler(
  participant: Participant,
  opts: NodeHandlerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const prefix = (opts.prefix ?? '').replace(/\/+$/, '');
  const bodyLimit = opts.bodyLimit ?? BODY_LIMIT_DEFAULT;
  return (req, res) => {
    void serve(participant, prefix, bodyLimit, req, res).catch((e: unknown) => {
      send(res, new RatifyError('INTERNAL', 'internal error', { cause: e }));
    });
  };
}

async function serve(
  participant: Participant,
  prefix: string,
  bodyLimit: number,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const pathname = new URL(req.url ?? '/', 'http://participant').pathname;
  const path = pathname.startsWith(`${prefix}/`) ? pathname.slice(prefix.length + 1) : '';
  if (req.method !== 'POST' || !(isCallPath(path) || path === 'batch')) {
    req.resume();
    return send(res, new RatifyError('ROUTE_NOT_FOUND', `no route ${req.method ?? ''} ${pathname}`));
  }
  const raw = await readBody(req, bodyLimit);
  if (raw instanceof RatifyError) return send(res, raw);
  const body = parseJson(raw);
  if (body instanceof RatifyError) return send(res, body);
  // The exact bytes go along: a signature covers them (signature.ts).
  const request = { method: req.method, path: pathname, body: raw };
  const result =
    path === 'batch'
      ? await participant.handleBatch(body, req.headers, request)
      : await participant.handle(path, body, req.headers, request);
  writeJson(res, result.status, result.body);
}

async function readBody(req: IncomingMessage, bodyLimit: number): Promise<Buffer | RatifyError> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > bodyLimit) {
    req.resume();
    return new RatifyError('BODY_TOO_LARGE', `body of ${declared} bytes exceeds the limit of ${bodyLimit}`);
  }
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > bodyLimit) return new RatifyError('BODY_TOO_LARGE', `body exceeds the limit of ${bodyLimit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return new RatifyError('VALIDATION_FAILED', 'body is not valid JSON');
  }
}

function send(res: ServerResponse, e: RatifyError): void {
  writeJson(res, e.status, e.toJSON());
}

function writeJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
