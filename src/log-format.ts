// Log lines for people: a pino JSON line as one short readable line, when the output
// is a terminal. Scripts, tests and log shippers read the JSON, which is what they
// get whenever stdout is not a terminal (or with --log-format json); nothing here
// changes a byte of it.
//
//   17:02:11.532 INFO  n1 t2  became leader  commitIndex=12
//   17:02:14.020 WARN  n1 t2  peer n3 unreachable  peer=n3 failures=3
//   17:02:15.001 ERROR n1 t2  unhandled error in request  url=/v1/transactions
//       Error: ...stack, indented
//
// Our own formatter rather than pino-pretty: `ratify node` and `ratify cluster` are
// the installed CLI, so pino-pretty would be a runtime dependency, with a dozen
// packages of its own (colorette, dateformat, help-me, pump, ...), that every
// installation and container image carries for a development nicety. This is a
// page of code, formats synchronously in the line's own write (so a fatal line is
// on the terminal before the process exits), and is tested like the rest.

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
/** `auto`: pretty on a terminal, JSON otherwise. */
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface PrettyOptions {
  /** ANSI colours for the level (a terminal without NO_COLOR). */
  readonly color: boolean;
  /** Leave the node id out: `ratify cluster` already prefixes each line with it. */
  readonly omitNodeId?: boolean;
}

/** Whether to pretty-print, for a format and whether the output is a terminal. */
export function prettyLogs(format: LogFormat, isTerminal: boolean): boolean {
  return format === 'pretty' || (format === 'auto' && isTerminal);
}

/** Colour on a terminal unless NO_COLOR is set (https://no-color.org). */
export function colorLogs(isTerminal: boolean, env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  return isTerminal && (env['NO_COLOR'] === undefined || env['NO_COLOR'] === '');
}

const LEVELS: Readonly<Record<number, { name: string; color: string }>> = {
  10: { name: 'TRACE', color: '90' },
  20: { name: 'DEBUG', color: '90' },
  30: { name: 'INFO ', color: '32' },
  40: { name: 'WARN ', color: '33' },
  50: { name: 'ERROR', color: '31' },
  60: { name: 'FATAL', color: '35' },
};
const SHOWN_APART: ReadonlySet<string> = new Set(['level', 'time', 'nodeId', 'term', 'msg', 'pid', 'hostname', 'err']);

/** One pino JSON line (with or without its newline) as a readable line; anything else comes back unchanged. */
export function formatLogLine(line: string, opts: PrettyOptions): string {
  const trimmed = line.endsWith('\n') ? line.slice(0, -1) : line;
  const newline = trimmed.length === line.length ? '' : '\n';
  const entry = parseEntry(trimmed);
  if (entry === null) return line;
  const level = LEVELS[Number(entry['level'])] ?? { name: String(entry['level']).padEnd(5), color: '0' };
  const paint = (code: string, s: string): string => (opts.color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const time = typeof entry['time'] === 'string' ? entry['time'].slice(11, 23) : String(entry['time'] ?? '');
  const who = [
    opts.omitNodeId === true ? '' : String(entry['nodeId'] ?? ''),
    entry['term'] === undefined ? '' : `t${String(entry['term'])}`,
  ]
    .filter((s) => s !== '')
    .join(' ');
  const fields = Object.entries(entry)
    .filter(([k]) => !SHOWN_APART.has(k))
    .map(([k, v]) => `${paint('2', `${k}=`)}${showValue(v)}`)
    .join(' ');
  const head = [paint('2', time), paint(level.color, level.name), who, String(entry['msg'] ?? '')].filter((s) => s !== '').join(' ');
  return `${head}${fields === '' ? '' : `  ${fields}`}${describeErr(entry['err'])}${newline}`;
}

function parseEntry(line: string): Record<string, unknown> | null {
  if (!line.startsWith('{')) return null;
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null && !Array.isArray(v) && 'level' in v ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function showValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

/** pino's serialized error: its message, then its stack indented under the line. */
function describeErr(err: unknown): string {
  if (typeof err !== 'object' || err === null) return err === undefined ? '' : `  err=${showValue(err)}`;
  const e = err as { message?: unknown; stack?: unknown };
  const stack = typeof e.stack === 'string' ? e.stack : typeof e.message === 'string' ? e.message : JSON.stringify(err);
  return `\n${stack
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n')}`;
}
