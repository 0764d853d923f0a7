// `ratify tx stuck` and `ratify tx force-finish <id> --confirm <id>`: the
// operator's commands for stuck transactions (README: Stuck transactions),
// over the admin routes of any node (a follower forwards force-finish to the
// leader). Nodes from --nodes or RATIFY_NODES (comma-separated; the first that
// answers is used), credentials from --token/RATIFY_TOKEN (an admin token) or
// --cluster-secret/RATIFY_CLUSTER_SECRET (nodes without tokens).
//
// Exit codes: 0 done, 1 the cluster refused or could not be reached, 2 usage.
import type { Command } from 'commander';

export const EXIT_REFUSED = 1;
export const EXIT_USAGE = 2;

interface Connection {
  readonly nodes: readonly string[];
  readonly headers: Readonly<Record<string, string>>;
}

interface CommonOptions {
  nodes?: string;
  token?: string;
  clusterSecret?: string;
  json?: boolean;
}

/** What a command prints and how it exits; `io` is injectable for tests. */
export interface StuckIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  out(text: string): void;
  err(text: string): void;
  exit(code: number): void;
}

/** Adds `stuck` and `force-finish` to the `tx` command (src/cli/tx.ts). */
export function addStuckCommands(tx: Command, io: StuckIo): Command {
  common(tx.command('stuck'))
    .description('list transactions whose outcome is fixed but which have not finished, longest stuck first')
    .option('--older-than-ms <ms>', 'only those stuck at least this long', '10000')
    .option('--limit <n>', 'at most this many')
    .action(async (opts: CommonOptions & { olderThanMs: string; limit?: string }) => {
      const conn = connection(opts, io);
      if (conn === null) return;
      const query = new URLSearchParams({ olderThanMs: opts.olderThanMs, ...(opts.limit === undefined ? {} : { limit: opts.limit }) });
      const answer = await call(conn, 'GET', `/v1/admin/stuck-transactions?${query}`, undefined, io);
      if (answer === null) return;
      if (opts.json === true) io.out(`${JSON.stringify(answer, null, 2)}\n`);
      else io.out(formatStuck(answer as StuckAnswer));
    });
  common(tx.command('force-finish'))
    .description('finish a stuck transaction with its own outcome, giving up on participants that have not acknowledged')
    .argument('<id>', 'the transaction')
    .option('--confirm <id>', 'the same id again: force-finish is not undone')
    .option('--outcome <outcome>', "the outcome you expect (committed|aborted); refused if it is not the transaction's")
    .action(async (id: string, opts: CommonOptions & { confirm?: string; outcome?: string }) => {
      if (opts.confirm !== id) {
        io.err(`ratify tx force-finish: repeat the id to confirm: --confirm ${id}\n`);
        io.exit(EXIT_USAGE);
        return;
      }
      if (opts.outcome !== undefined && opts.outcome !== 'committed' && opts.outcome !== 'aborted') {
        io.err(`ratify tx force-finish: --outcome must be committed or aborted, not ${opts.outcome}\n`);
        io.exit(EXIT_USAGE);
        return;
      }
      const conn = connection(opts, io);
      if (conn === null) return;
      const body = { confirm: id, ...(opts.outcome === undefined ? {} : { outcome: opts.outcome }) };
      const answer = await call(conn, 'POST', `/v1/admin/stuck-transactions/${encodeURIComponent(id)}/force-finish`, body, io);
      if (answer === null) return;
      const view = answer as TxViewLike;
      if (opts.json === true) io.out(`${JSON.stringify(view, null, 2)}\n`);
      else
        io.out(
          `${view.id}: ${view.state}; abandoned: ${
            view.participants
              .filter((p) => p.abandoned !== undefined)
              .map((p) => p.name)
              .join(', ') || 'none'
          }\n`,
        );
    });
  return tx;
}

function common(cmd: Command): Command {
  return cmd
    .option('--nodes <urls>', 'node URLs, comma-separated (default: RATIFY_NODES)')
    .option('--token <token>', 'an admin token (default: RATIFY_TOKEN)')
    .option('--cluster-secret <secret>', 'the cluster secret, for nodes without tokens (default: RATIFY_CLUSTER_SECRET)')
    .option('--json', 'print the answer as JSON');
}

function connection(opts: CommonOptions, io: StuckIo): Connection | null {
  const nodes = (opts.nodes ?? io.env['RATIFY_NODES'] ?? '')
    .split(',')
    .map((u) => u.trim().replace(/\/+$/, ''))
    .filter((u) => u !== '');
  if (nodes.length === 0) {
    io.err('ratify tx: no nodes: give --nodes http://host:port[,...] or set RATIFY_NODES\n');
    io.exit(EXIT_USAGE);
    return null;
  }
  const token = opts.token ?? io.env['RATIFY_TOKEN'];
  const secret = opts.clusterSecret ?? io.env['RATIFY_CLUSTER_SECRET'];
  const headers: Record<string, string> = {};
  if (token !== undefined && token !== '') headers['authorization'] = `Bearer ${token}`;
  else if (secret !== undefined && secret !== '') headers['x-ratify-secret'] = secret.split(',')[0]!.trim();
  return { nodes, headers };
}

/** The JSON answer of the first node that answers; null (after printing why and exiting 1) otherwise. */
async function call(conn: Connection, method: 'GET' | 'POST', path: string, body: unknown, io: StuckIo): Promise<unknown> {
  const failures: string[] = [];
  for (const node of conn.nodes) {
    let res: Response;
    try {
      res = await fetch(`${node}${path}`, {
        method,
        headers: { ...conn.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (e) {
      failures.push(`${node}: ${e instanceof Error ? e.message : String(e)}`);
      continue;
    }
    const text = await res.text();
    const json = parseJson(text);
    // No leader here: another node may know better.
    if (res.status === 503) {
      failures.push(`${node}: ${errorText(json, text)}`);
      continue;
    }
    if (res.ok) return json;
    io.err(`ratify tx: ${node} answered ${res.status}: ${errorText(json, text)}\n`);
    io.exit(EXIT_REFUSED);
    return null;
  }
  io.err(`ratify tx: no node answered:\n${failures.map((f) => `  ${f}\n`).join('')}`);
  io.exit(EXIT_REFUSED);
  return null;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function errorText(json: unknown, text: string): string {
  const error = (json as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return error === undefined ? text.slice(0, 200) : `${String(error.code)}: ${String(error.message)}`;
}

interface TxViewLike {
  readonly id: string;
  readonly state: string;
  readonly participants: ReadonlyArray<{ name: string; acknowledged: boolean; lastError?: string; abandoned?: string }>;
}

interface StuckAnswer {
  readonly count: number;
  readonly finishing: number;
  readonly maxStuckTransactions: number;
  readonly transactions: ReadonlyArray<{ ageMs: number; stuckForMs: number; tx: TxViewLike }>;
}

/** One line per transaction, then one per participant still owing an acknowledgement, with its last error. */
export function formatStuck(a: StuckAnswer): string {
  const lines = [`${a.count} stuck (${a.finishing} unfinished with a fixed outcome, maxStuckTransactions ${a.maxStuckTransactions})`];
  for (const { ageMs, stuckForMs, tx } of a.transactions) {
    lines.push(`${tx.id}  ${tx.state}  age ${seconds(ageMs)}  stuck ${seconds(stuckForMs)}`);
    for (const p of tx.participants) if (!p.acknowledged) lines.push(`    ${p.name}: ${p.lastError ?? 'no error reported yet'}`);
  }
  return `${lines.join('\n')}\n`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
