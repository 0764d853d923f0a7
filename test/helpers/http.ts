// Minimal JSON-over-HTTP client for tests against real node processes.
import { request, type Dispatcher } from 'undici';

export interface JsonResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly headers: Record<string, string | string[] | undefined>;
}

export interface HttpJsonOptions {
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** Per-request bound; a hung node must not hang the test. Default 10 s. */
  readonly timeoutMs?: number;
  /** For https:// nodes: an undici Agent that trusts the test CA (and presents a certificate with mutual TLS). */
  readonly dispatcher?: Dispatcher;
}

// biome-ignore lint/suspicious/noExplicitAny: tests read the JSON they expect
export async function httpJson<T = any>(
  method: 'GET' | 'PUT' | 'POST' | 'DELETE',
  url: string,
  opts: HttpJsonOptions = {},
): Promise<JsonResponse<T>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await request(url, {
    method,
    headers,
    body: opts.body === undefined ? null : JSON.stringify(opts.body),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    signal: AbortSignal.timeout(timeoutMs),
    ...(opts.dispatcher === undefined ? {} : { dispatcher: opts.dispatcher }),
  });
  const text = await res.body.text();
  const contentType = String(res.headers['content-type'] ?? '');
  const body = (contentType.includes('json') && text !== '' ? JSON.parse(text) : text) as T;
  return { status: res.statusCode, body, headers: res.headers };
}

/** Reads one sample from Prometheus text exposition; labels must match exactly the given subset. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return undefined;
}
