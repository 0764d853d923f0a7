// JSON with object keys in sorted order, so two values that differ only in key
// order have one text. Used where "the same payload" must mean the same value,
// not the same bytes: an enlist's idempotency (a client that retries with its
// keys reordered is retrying, not conflicting) and the create request's hash.
//
// Recursive: its inputs passed the edge's nesting-depth limit (src/http/json-body.ts).
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
