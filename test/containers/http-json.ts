// Small JSON-over-HTTP helpers for talking to nodes and participants from the test process.
// Every call has a timeout: a paused container accepts connections (docker-proxy) and then
// never answers, and the workload must move on to another node.
export type HttpReply = { readonly kind: 'reply'; readonly status: number; readonly body: unknown; readonly retryAfterS: number | null };
export type HttpFailure = { readonly kind: 'failure'; readonly error: string };
export type HttpResult = HttpReply | HttpFailure;

export async function requestJson(
  method: 'GET' | 'POST',
  url: string,
  options: { readonly body?: unknown; readonly headers?: Record<string, string>; readonly timeoutMs: number },
): Promise<HttpResult> {
  try {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(url, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text === '' ? null : JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page, say): keep the text for the failure message.
    }
    const retryAfter = Number(res.headers.get('retry-after'));
    return { kind: 'reply', status: res.status, body, retryAfterS: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { kind: 'failure', error: `${method} ${url}: ${e.cause?.code ?? e.name}: ${e.message}` };
  }
}

export function getJson(url: string, timeoutMs = 3000): Promise<HttpResult> {
  return requestJson('GET', url, { timeoutMs });
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns a value other than undefined; throws `what` after `timeoutMs`. */
export async function pollUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = undefined;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
    }
    await sleep(intervalMs);
  }
}
