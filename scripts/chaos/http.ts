// JSON over HTTP with a hard time bound on every call: a SIGSTOPped node (or a paused
// container behind docker-proxy) accepts the connection and then never answers.
import { Agent, request } from 'undici';

/** Trusts the cluster's CA for every call below (the local target's nodes serve HTTPS); null: the system's CAs. */
let agent: Agent | null = null;
let trusted: Buffer | null = null;

export function trustCa(pem: Buffer | null): void {
  void agent?.close();
  trusted = pem;
  agent = pem === null ? null : new Agent({ connect: { ca: pem } });
}

/** The CA given to trustCa, for the client SDK's own connections. */
export function trustedCa(): Buffer | null {
  return trusted;
}

/** A client API token sent with every call below (the local target's nodes require one); null: none. */
let bearer: string | null = null;

export function authorizeWith(token: string | null): void {
  bearer = token;
}

/** The token given to authorizeWith, for the client SDK's own calls. */
export function clientToken(): string | null {
  return bearer;
}

export type HttpResult =
  | { readonly kind: 'reply'; readonly status: number; readonly body: unknown }
  | { readonly kind: 'failure'; readonly error: string };

export async function httpJson(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  o: { body?: unknown; headers?: Record<string, string>; timeoutMs: number },
): Promise<HttpResult> {
  try {
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...(bearer === null ? {} : { authorization: `Bearer ${bearer}` }),
      ...(o.headers ?? {}),
    };
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    const res = await request(url, {
      method,
      headers,
      body: o.body === undefined ? null : JSON.stringify(o.body),
      headersTimeout: o.timeoutMs,
      bodyTimeout: o.timeoutMs,
      signal: AbortSignal.timeout(o.timeoutMs),
      ...(agent === null ? {} : { dispatcher: agent }),
    });
    const text = await res.body.text();
    let body: unknown = text;
    try {
      body = text === '' ? null : JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page): keep the text for the message.
    }
    return { kind: 'reply', status: res.statusCode, body };
  } catch (e) {
    const err = e as Error & { code?: string };
    return { kind: 'failure', error: `${method} ${url}: ${err.code ?? err.name}: ${err.message}` };
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Polls `probe` until it returns something other than undefined; null after `timeoutMs`. */
export async function pollUntil<T>(
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  intervalMs = 250,
  signal?: AbortSignal,
): Promise<T | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() >= deadline || signal?.aborted === true) return null;
    await sleep(intervalMs, signal);
  }
}
