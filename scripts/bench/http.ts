// Keep-alive HTTP for the load generator: one undici Pool per origin, sized to
// the concurrency, so every worker reuses its connection and no request pays
// for a TCP handshake.
import { Pool } from 'undici';
import { httpCall } from '../../src/http-call.js';

/** Metrics pages are the largest answers the benchmark reads. */
const ANSWER_BYTES_MAX = 16 * 1024 * 1024;

export interface JsonResponse {
  readonly status: number;
  readonly body: unknown;
}

/** A non-2xx answer; `code` is the server's error code when the body names one. */
export class HttpStatusError extends Error {
  readonly code: string;
  constructor(
    readonly status: number,
    readonly body: unknown,
    what: string,
  ) {
    const code = serverErrorCode(body) ?? `HTTP_${status}`;
    super(`${what} answered ${status} ${code}`);
    this.code = code;
  }
}

export interface HttpOptions {
  /** Connections per origin; at least the concurrency, or workers queue inside undici. */
  readonly connectionsPerOrigin: number;
  readonly requestTimeoutMs: number;
}

type Method = 'GET' | 'POST' | 'PUT';
/** Headers a caller adds (content-type is set from the body). */
type ExtraHeaders = Readonly<Record<string, string>>;

export class HttpClients {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly opts: HttpOptions) {}

  async json(origin: string, method: Method, path: string, body?: unknown, headers?: ExtraHeaders): Promise<JsonResponse> {
    // dispatch() rather than request(): the load generator shares the 2 cores with what it measures.
    const res = await httpCall(this.pool(origin), {
      origin,
      method,
      path,
      headers: body === undefined ? { ...headers } : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? null : JSON.stringify(body),
      timeoutMs: this.opts.requestTimeoutMs,
      answerBytesMax: ANSWER_BYTES_MAX,
    });
    return { status: res.status, body: parseJsonOrText(res.text) };
  }

  /** Like json(), but a non-2xx status throws HttpStatusError. */
  async ok(origin: string, method: Method, path: string, body?: unknown, headers?: ExtraHeaders): Promise<unknown> {
    const res = await this.json(origin, method, path, body, headers);
    if (res.status < 200 || res.status > 299) throw new HttpStatusError(res.status, res.body, `${method} ${origin}${path}`);
    return res.body;
  }

  /** Drops the pool of an origin whose process died, so no request waits on its dead sockets. */
  async forget(origin: string): Promise<void> {
    const pool = this.pools.get(origin);
    this.pools.delete(origin);
    await pool?.destroy();
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.destroy()));
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      pool = new Pool(origin, {
        connections: this.opts.connectionsPerOrigin,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 60_000,
        connectTimeout: this.opts.requestTimeoutMs,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }
}

function parseJsonOrText(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Ratify answers `{error: {code}}`; etcd's gateway answers `{error, code, message}`. */
function serverErrorCode(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const error = (body as { error?: unknown }).error;
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  if (typeof error === 'string') return `ETCD ${error.slice(0, 40)}`;
  return undefined;
}
