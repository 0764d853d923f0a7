// One line for a caught error, for logs and for lastError-style fields: the
// system error code (ECONNREFUSED, UND_ERR_...) when the message lacks it, and
// plain words for timeouts and cancellations.
export function describeError(e: unknown): string {
  if (e instanceof Error) {
    if (e.name === 'TimeoutError') return 'timed out';
    if (e.name === 'AbortError') return 'cancelled';
    const code = (e as { code?: unknown }).code;
    return typeof code === 'string' && !e.message.includes(code) ? `${code}: ${e.message}` : e.message;
  }
  return String(e);
}
