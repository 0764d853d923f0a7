// The flags every operator command shares (where the cluster is, how to
// authenticate, --json) and the one RatifyClient built from them. The TLS flags
// mirror the node's (--tls-ca, --tls-cert, --tls-key and their RATIFY_TLS_*
// variables), so one environment serves both.
import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { RatifyClient, type RatifyClientOptions } from '../sdk/client.js';
import { parseSecretList, readSecretFile } from '../node/secrets.js';
import { UsageError } from './exit-codes.js';
import type { CliIo } from './output.js';

export interface ConnectionFlags {
  readonly nodes?: string;
  readonly token?: string;
  readonly tokenFile?: string;
  readonly clusterSecretFile?: string;
  readonly tlsCa?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly timeoutMs?: string;
  readonly json?: boolean;
}

/** Per request; the client retries on another node within its retry budget. */
const TIMEOUT_DEFAULT_MS = 10_000;
const TIMEOUT_MAX_MS = 3_600_000;

export function addConnectionOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--nodes <urls>', 'comma-separated node URLs, e.g. http://127.0.0.1:7001,http://127.0.0.1:7002 [env RATIFY_NODES]'),
    )
    .addOption(
      new Option(
        '--token <token>',
        'client API token, sent as Authorization: Bearer (prefer RATIFY_TOKEN or --token-file: ps shows flags) [env RATIFY_TOKEN]',
      ),
    )
    .addOption(new Option('--token-file <file>', 'a file holding the token [env RATIFY_TOKEN_FILE]'))
    .addOption(
      new Option(
        '--cluster-secret-file <file>',
        'admin calls of a cluster with a secret and no tokens: a file with the secret (first line) [env RATIFY_CLUSTER_SECRET_FILE, or RATIFY_CLUSTER_SECRET]',
      ),
    )
    .addOption(
      new Option(
        '--tls-ca <file>',
        "PEM CA bundle the nodes' certificates chain to (https:// nodes; default: system CAs) [env RATIFY_TLS_CA]",
      ),
    )
    .addOption(
      new Option(
        '--tls-cert <file>',
        'client certificate, where the cluster asks for one (mutual TLS, admin calls without a secret) [env RATIFY_TLS_CERT]',
      ),
    )
    .addOption(new Option('--tls-key <file>', 'key of --tls-cert [env RATIFY_TLS_KEY]'))
    .addOption(new Option('--timeout-ms <ms>', `bound on each request (default: ${TIMEOUT_DEFAULT_MS})`))
    .option('--json', 'print the result as JSON (for scripts)', false);
}

/** Flag, then environment variable; empty strings count as absent. */
function pick(flag: string | undefined, io: CliIo, env: string): string | undefined {
  const v = flag ?? io.env[env];
  return v === undefined || v === '' ? undefined : v;
}

export function clientOptions(flags: ConnectionFlags, io: CliIo): RatifyClientOptions {
  const nodesText = pick(flags.nodes, io, 'RATIFY_NODES');
  if (nodesText === undefined) throw new UsageError('no cluster given: pass --nodes http://host:port,... or set RATIFY_NODES');
  const nodes = nodesText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const n of nodes) {
    let url: URL;
    try {
      url = new URL(n);
    } catch {
      throw new UsageError(`node ${JSON.stringify(n)} is not a URL; write it as http://host:port`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new UsageError(`node ${JSON.stringify(n)} must be an http:// or https:// URL`);
  }
  const timeoutMs = flags.timeoutMs === undefined ? TIMEOUT_DEFAULT_MS : Number(flags.timeoutMs);
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > TIMEOUT_MAX_MS)
    throw new UsageError(`--timeout-ms (${flags.timeoutMs}) must be an integer from 1 to ${TIMEOUT_MAX_MS}`);
  const token = readToken(flags, io);
  const secret = readSecret(flags, io);
  const ca = pick(flags.tlsCa, io, 'RATIFY_TLS_CA');
  const cert = pick(flags.tlsCert, io, 'RATIFY_TLS_CERT');
  const key = pick(flags.tlsKey, io, 'RATIFY_TLS_KEY');
  if ((cert === undefined) !== (key === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  const tls = {
    ...(ca === undefined ? {} : { ca: readFile('--tls-ca', ca) }),
    ...(cert === undefined ? {} : { cert: readFile('--tls-cert', cert) }),
    ...(key === undefined ? {} : { key: readFile('--tls-key', key) }),
  };
  return {
    nodes,
    timeoutMs,
    // An operator waits for an answer, not for minutes of backoff: a few quick retries find a new leader.
    retries: 4,
    backoffMaxMs: 1_000,
    connectionsPerNode: 2,
    ...(token === undefined ? {} : { token }),
    ...(secret === undefined ? {} : { secret }),
    ...(Object.keys(tls).length === 0 ? {} : { tls }),
  };
}

export function connect(flags: ConnectionFlags, io: CliIo): RatifyClient {
  const options = clientOptions(flags, io);
  try {
    return new RatifyClient(options);
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^RatifyClient: /, ''));
  }
}

function readToken(flags: ConnectionFlags, io: CliIo): string | undefined {
  const inline = pick(flags.token, io, 'RATIFY_TOKEN');
  const file = pick(flags.tokenFile, io, 'RATIFY_TOKEN_FILE');
  if (inline !== undefined && file !== undefined)
    throw new UsageError('give the token once: --token/RATIFY_TOKEN or --token-file/RATIFY_TOKEN_FILE');
  const token = file === undefined ? inline : readFile('--token-file', file).toString('utf8').trim();
  if (token !== undefined && !/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) {
    throw new UsageError('the token must be a bearer token (letters, digits and - . _ ~ + /, then = padding); it is not printed here');
  }
  return token;
}

function readSecret(flags: ConnectionFlags, io: CliIo): string | undefined {
  const file = pick(flags.clusterSecretFile, io, 'RATIFY_CLUSTER_SECRET_FILE');
  let text: string | undefined;
  try {
    text = file === undefined ? pick(undefined, io, 'RATIFY_CLUSTER_SECRET') : readSecretFile(file);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (text === undefined) return undefined;
  // The node's own parsers: of a rotation list (new,old, or one per line) the first signs.
  const first = parseSecretList(text)[0];
  if (first === undefined) throw new UsageError('the cluster secret is empty');
  return first;
}

function readFile(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UsageError(`${flag} ${path} cannot be read: ${(e as Error).message}`);
  }
}
