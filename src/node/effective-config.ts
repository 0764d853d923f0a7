// The configuration a node runs with, as it logs it at start-up: every setting after
// flags, environment, config file and defaults were layered, so an operator sees what
// took effect without reading four sources. Secrets never appear.
//
// Redaction is by name rather than by a list of today's fields, so a setting added
// later (a client token, a password) is hidden without anyone remembering to: any key
// that names a secret, token, password or credential shows only whether it is set
// (and how many values a list holds). A key ending in `File` holds a path and is
// shown. A URL's password (http://user:pass@host) is hidden wherever it appears.
import type { NodeConfig } from './config.js';

const SECRET_KEY = /secret|token|password|passphrase|credential|api[-_]?key|private[-_]?key|participant[-_]?keys?$/i;
const PATH_KEY = /File$/;
export const REDACTED = '[redacted]';

/** A JSON-ready copy of `config` for the start-up log line. */
export function effectiveConfig(config: NodeConfig): Record<string, unknown> {
  const { listen, peers, ...rest } = config;
  return redact({
    ...rest,
    listen: `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`,
    peers: peers.map((p) => `${p.id}=${p.url}`).join(','),
  }) as Record<string, unknown>;
}

/** Copies `value`, hiding secrets by key name (see above) and passwords inside URLs. */
export function redact(value: unknown, key = ''): unknown {
  if (key !== '' && SECRET_KEY.test(key) && !PATH_KEY.test(key)) return hidden(value);
  if (typeof value === 'string') return hideUrlPasswords(value);
  if (Array.isArray(value)) return value.map((v) => redact(v));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]));
  }
  return value;
}

function hidden(value: unknown): unknown {
  if (value === null || value === undefined || value === '') return value;
  if (Array.isArray(value)) return `${REDACTED} (${value.length})`;
  // clusterSecret holds a comma-separated list during a rotation: say how many.
  if (typeof value === 'string' && value.includes(',')) return `${REDACTED} (${value.split(',').filter((s) => s.trim() !== '').length})`;
  return REDACTED;
}

function hideUrlPasswords(s: string): string {
  return s.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@,]*):[^\s/@,]*@/gi, `$1:${REDACTED}@`);
}
