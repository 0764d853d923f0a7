// Node configuration: fields, defaults, layering and validation.
//
// Sources, highest precedence first: CLI flags > environment (RATIFY_*) > JSON
// config file (--config) > defaults. Every field is declared once in FIELDS with its
// flag, env var and parser, so the CLI, the env reader and the file reader agree.
//
// Timing defaults (tickMs 20, electionTicks 15, heartbeatTicks 3): a follower waits a
// randomized 300-600 ms without heartbeats before it campaigns, and the leader
// heartbeats every 60 ms, so five heartbeats must go missing first. On loopback that
// gives failover (SIGKILL of the leader -> next committed write) well under a second,
// while an event-loop stall of a couple of hundred milliseconds on a loaded 2-core box
// (GC, a slow fsync callback) does not depose a healthy leader. PreVote and
// CheckQuorum keep a node that was merely slow from bumping everyone's term.
import { RatifyError } from '../errors.js';
import { JSON_DEPTH_MAX_DEFAULT } from '../http/json-body.js';
import { ClientTokens, loadClientTokens } from '../http/tokens.js';
import { loadParticipantKeys, ParticipantKeys } from '../tx/participant-keys.js';
import { LOG_FORMATS, type LogFormat } from '../log-format.js';
import { LOG_LEVELS, type LogLevel } from '../logger.js';
import type { Member, NodeId } from '../raft/types.js';
import { txConfigDefaults, validateTxConfig, type TxConfig } from '../tx/config.js';
import { readConfigFile } from './config-file.js';
import { isLoopbackHost } from './loopback.js';
import { isHttpUrl, listenFromPeers, peerUrlError } from './peer-urls.js';
import { parseSecretList, readSecretFile, secretErrors } from './secrets.js';

export const STATE_MACHINES = ['tx', 'kv'] as const;
/** `tx`: the transaction coordinator. `kv`: a tiny key-value store for raw-consensus tests and benchmarks. */
export type StateMachineKind = (typeof STATE_MACHINES)[number];

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface NodeConfig {
  readonly id: NodeId;
  readonly listen: ListenAddress;
  /** Initial voters (bootstrap membership); must include this node (for its address). */
  readonly peers: readonly Member[];
  /**
   * Join a running cluster: this node is not one of the initial voters; it waits,
   * not campaigning, until the leader adds it as a learner. Only matters on an
   * empty data directory.
   */
  readonly join: boolean;
  readonly dataDir: string;
  readonly clusterId: string;
  /**
   * Shared secret(s) for peer and admin calls, comma-separated during a rotation (the
   * first signs, all are accepted; src/node/secrets.ts); null disables the check.
   * Filled from clusterSecretFile when that is set.
   */
  readonly clusterSecret: string | null;
  /** A file holding the secret(s), one per line, instead of clusterSecret. */
  readonly clusterSecretFile: string | null;
  /** PEM certificate (chain) and key: serve HTTPS, to clients and peers alike. */
  readonly tlsCert: string | null;
  readonly tlsKey: string | null;
  /** PEM CA bundle that peers' certificates must chain to (and clients' certificates, with tlsMutual). */
  readonly tlsCa: string | null;
  /** Mutual TLS between nodes: peer calls need a certificate from tlsCa naming the sender's member id. */
  readonly tlsMutual: boolean;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly maxInflightAppends: number;
  readonly maxAppendBytes: number;
  readonly snapshotThresholdEntries: number;
  readonly snapshotChunkBytes: number;
  /** Bytes of one incoming snapshot gathered in memory; a larger one is refused. */
  readonly snapshotBytesMax: number;
  readonly maxUncommittedEntries: number;
  readonly maxPendingProposals: number;
  readonly maxPendingReads: number;
  readonly proposalTimeoutMs: number;
  readonly readTimeoutMs: number;
  /** Client API request bodies. */
  readonly bodyLimitBytes: number;
  /** Raft peer request bodies (append batches, snapshot chunks). */
  readonly raftBodyLimitBytes: number;
  /** Outbound Raft messages queued per peer before the transport drops (Raft retries). */
  readonly maxQueuedMessagesPerPeer: number;
  /** Concurrent HTTP requests per peer (pipelining). */
  readonly maxInflightRequestsPerPeer: number;
  /** Time limit of one Raft request, and how long a stream may leave bytes unacknowledged. */
  readonly peerRequestTimeoutMs: number;
  /** Raft traffic over long-lived streams (POST /raft/v1/stream); false sends one request per envelope. */
  readonly raftStreams: boolean;
  /** /readyz: applied index may trail the leader's commit index by this much and still be ready. */
  readonly readyLagEntriesMax: number;
  /** A learner is promoted only when its log trails the leader's last index by at most this many entries. */
  readonly promoteLagEntriesMax: number;
  /** Every node digests its applied state (sha256 of its snapshot bytes) at applied indexes that are multiples of this (src/node/state-digests.ts). */
  readonly consistencyIntervalEntries: number;
  /** How often the leader compares the members' digests (src/http/consistency-routes.ts); 0 turns the periodic check off. */
  readonly consistencyCheckMs: number;
  /** Bound on a graceful stop (SIGTERM/SIGINT): past it, open requests are answered SHUTTING_DOWN and connections cut. */
  readonly shutdownTimeoutMs: number;
  /** /healthz answers 503 once the Raft loop or a log write has had work pending and made no progress for this long (liveness.ts). */
  readonly healthStallMs: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Seed of the election-timeout randomness; null seeds from crypto. */
  readonly seed: number | null;
  readonly logLevel: LogLevel;
  /** JSON lines, or readable lines for a terminal (src/log-format.ts); `auto` picks by whether stdout is a terminal. */
  readonly logFormat: LogFormat;
  readonly stateMachine: StateMachineKind;
  /** File of client API tokens (src/http/tokens.ts); RATIFY_TOKENS holds them inline instead. Null: none. */
  readonly tokensFile: string | null;
  /** A client-role principal sees only its own transactions; null: on exactly when tokens are set. */
  readonly ownTransactionsOnly: boolean | null;
  /** Deepest nesting of a JSON request body (src/http/json-body.ts). */
  readonly jsonDepthMax: number;
  readonly tx: TxConfig;
  /** Loaded from tokensFile or RATIFY_TOKENS by resolveNodeConfig (digests only; never a flag). */
  readonly clientTokens: ClientTokens;
  /** File of the keys that sign participant calls (src/tx/participant-keys.ts). Null: calls go unsigned. */
  readonly participantKeysFile: string | null;
  /** Loaded from participantKeysFile by resolveNodeConfig; absent in configs built without it (tests): none. */
  readonly participantKeys?: ParticipantKeys;
}

type FieldName = Exclude<keyof NodeConfig, 'tx' | 'clientTokens' | 'participantKeys'>;

interface Field<T> {
  readonly flag: string;
  readonly env: string;
  readonly description: string;
  /** Shown by --help when there is no plain default value (required settings, derived defaults). */
  readonly defaultHelp?: string;
  /** Accepts a string (flag, env) or a JSON value (file); throws a message naming the field. */
  readonly parse: (value: unknown, name: string) => T;
}

const KiB = 1024;
const MiB = 1024 * KiB;

export const nodeConfigDefaults = {
  clusterId: 'ratify',
  clusterSecret: null,
  clusterSecretFile: null,
  tlsCert: null,
  tlsKey: null,
  tlsCa: null,
  tlsMutual: false,
  tickMs: 20,
  electionTicks: 15,
  heartbeatTicks: 3,
  maxInflightAppends: 32,
  maxAppendBytes: 1 * MiB,
  snapshotThresholdEntries: 10_000,
  snapshotChunkBytes: 1 * MiB,
  // The transaction state at its default limits stays far below (tens of MiB); a cap
  // keeps a broken or hostile leader from making a follower gather without end.
  snapshotBytesMax: 1024 * MiB,
  maxUncommittedEntries: 8192,
  maxPendingProposals: 4096,
  maxPendingReads: 4096,
  proposalTimeoutMs: 5000,
  readTimeoutMs: 5000,
  bodyLimitBytes: 1 * MiB,
  raftBodyLimitBytes: 8 * MiB,
  readyLagEntriesMax: 64,
  // A learner this close commits its first entries as a voter within a heartbeat or two.
  promoteLagEntriesMax: 64,
  // As often as snapshots by default: a digest costs one serialization of the state, like a snapshot.
  consistencyIntervalEntries: 10_000,
  consistencyCheckMs: 60_000,
  // Docker's default grace period is 10 s before SIGKILL: stop well inside it.
  shutdownTimeoutMs: 5000,
  // Far above any healthy synced write (milliseconds) or a busy disk's worst (seconds); the
  // liveness probe adds its own periodSeconds x failureThreshold before a restart.
  healthStallMs: 30_000,
  maxQueuedMessagesPerPeer: 8192,
  maxInflightRequestsPerPeer: 4,
  peerRequestTimeoutMs: 2000,
  raftStreams: true,
  join: false,
  preVote: true,
  checkQuorum: true,
  seed: null,
  logLevel: 'info',
  logFormat: 'auto',
  stateMachine: 'tx',
  tokensFile: null,
  participantKeysFile: null,
  ownTransactionsOnly: null,
  jsonDepthMax: JSON_DEPTH_MAX_DEFAULT,
} as const satisfies Partial<Record<FieldName, unknown>>;

// ---- parsers: strings come from flags and env, other JSON values from the file ----

function parseString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new Error(`${name} (${show(value)}) must be a string`);
  return value;
}

function parseInteger(value: unknown, name: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new Error(`${name} (${show(value)}) must be an integer`);
  return n;
}

function parseBoolean(value: unknown, name: string): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new Error(`${name} (${show(value)}) must be true or false`);
}

function parseNullable<T>(inner: (v: unknown, n: string) => T): (v: unknown, n: string) => T | null {
  return (v, n) => (v === null || v === '' ? null : inner(v, n));
}

function parseOneOf<T extends string>(allowed: readonly T[]): (v: unknown, n: string) => T {
  return (value, name) => {
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
    throw new Error(`${name} (${show(value)}) must be one of ${allowed.join(', ')}`);
  };
}

export function parseListen(value: unknown, name = 'listen'): ListenAddress {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    return { host: parseString(o['host'], `${name}.host`), port: parseInteger(o['port'], `${name}.port`) };
  }
  const s = parseString(value, name);
  const colon = s.lastIndexOf(':');
  if (colon <= 0) throw new Error(`${name} (${show(value)}) must look like host:port`);
  return { host: s.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: parseInteger(s.slice(colon + 1), `${name} port`) };
}

/** "n1=http://h:1,n2=http://h:2", or in a file an array of {id,url} or an {id: url} object. */
export function parsePeers(value: unknown, name = 'peers'): Member[] {
  let pairs: [unknown, unknown][];
  if (typeof value === 'string') {
    pairs = value
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '')
      .map((p) => {
        const eq = p.indexOf('=');
        if (eq <= 0) throw new Error(`${name} entry (${show(p)}) must look like id=url`);
        return [p.slice(0, eq), p.slice(eq + 1)];
      });
  } else if (Array.isArray(value)) {
    pairs = value.map((p: unknown) => {
      const o = (typeof p === 'object' && p !== null ? p : {}) as Record<string, unknown>;
      return [o['id'], o['url']];
    });
  } else if (typeof value === 'object' && value !== null) {
    pairs = Object.entries(value);
  } else {
    throw new Error(`${name} (${show(value)}) must be a list of id=url`);
  }
  return pairs.map(([id, url]) => ({
    id: parseString(id, `${name} id`),
    url: parseString(url, `${name} url`).replace(/\/+$/, ''),
    voter: true,
  }));
}

const int = parseInteger;
const FIELDS: { readonly [K in FieldName]: Field<NodeConfig[K]> } = {
  id: { flag: 'id', env: 'RATIFY_ID', description: 'node id (must appear in peers)', defaultHelp: 'required', parse: parseString },
  listen: {
    flag: 'listen',
    env: 'RATIFY_LISTEN',
    description: 'host:port to listen on',
    defaultHelp: 'from own peer URL',
    parse: parseListen,
  },
  peers: {
    flag: 'peers',
    env: 'RATIFY_PEERS',
    description: 'initial voters: id=url,id=url,...',
    defaultHelp: 'required',
    parse: parsePeers,
  },
  dataDir: { flag: 'data', env: 'RATIFY_DATA', description: 'data directory', defaultHelp: 'required', parse: parseString },
  clusterId: {
    flag: 'cluster-id',
    env: 'RATIFY_CLUSTER_ID',
    description: 'cluster id; peers of another cluster are refused',
    parse: parseString,
  },
  clusterSecret: {
    flag: 'cluster-secret',
    env: 'RATIFY_CLUSTER_SECRET',
    description:
      'shared secret for peer calls (signed) and admin calls (header x-ratify-secret); "new,old" while rotating; prefer the env or --cluster-secret-file: ps shows flags',
    defaultHelp: 'none: required unless listening on loopback',
    parse: parseNullable(parseString),
  },
  clusterSecretFile: {
    flag: 'cluster-secret-file',
    env: 'RATIFY_CLUSTER_SECRET_FILE',
    description: 'file with the cluster secret(s), one per line (the first signs)',
    defaultHelp: 'none',
    parse: parseNullable(parseString),
  },
  tlsCert: {
    flag: 'tls-cert',
    env: 'RATIFY_TLS_CERT',
    description: 'PEM certificate: serve HTTPS to clients and peers (peer URLs are https://)',
    defaultHelp: 'none: plain HTTP',
    parse: parseNullable(parseString),
  },
  tlsKey: {
    flag: 'tls-key',
    env: 'RATIFY_TLS_KEY',
    description: 'PEM private key of --tls-cert',
    defaultHelp: 'none',
    parse: parseNullable(parseString),
  },
  tlsCa: {
    flag: 'tls-ca',
    env: 'RATIFY_TLS_CA',
    description: "PEM CA bundle that peers' certificates must chain to",
    defaultHelp: "none: the system's CAs",
    parse: parseNullable(parseString),
  },
  tlsMutual: {
    flag: 'tls-mutual',
    env: 'RATIFY_TLS_MUTUAL',
    description: 'mutual TLS between nodes: peer calls need a --tls-ca certificate whose DNS subjectAltName is the member id (true|false)',
    parse: parseBoolean,
  },
  tickMs: { flag: 'tick-ms', env: 'RATIFY_TICK_MS', description: 'length of one Raft tick', parse: int },
  electionTicks: { flag: 'election-ticks', env: 'RATIFY_ELECTION_TICKS', description: 'election timeout base, in ticks', parse: int },
  heartbeatTicks: { flag: 'heartbeat-ticks', env: 'RATIFY_HEARTBEAT_TICKS', description: 'heartbeat interval, in ticks', parse: int },
  maxInflightAppends: {
    flag: 'max-inflight-appends',
    env: 'RATIFY_MAX_INFLIGHT_APPENDS',
    description: 'pipelined appends per follower',
    parse: int,
  },
  maxAppendBytes: { flag: 'max-append-bytes', env: 'RATIFY_MAX_APPEND_BYTES', description: 'entry bytes per append message', parse: int },
  snapshotThresholdEntries: {
    flag: 'snapshot-threshold-entries',
    env: 'RATIFY_SNAPSHOT_THRESHOLD_ENTRIES',
    description: 'applied entries between snapshots (log compaction)',
    parse: int,
  },
  snapshotChunkBytes: {
    flag: 'snapshot-chunk-bytes',
    env: 'RATIFY_SNAPSHOT_CHUNK_BYTES',
    description: 'bytes per InstallSnapshot chunk',
    parse: int,
  },
  snapshotBytesMax: {
    flag: 'snapshot-bytes-max',
    env: 'RATIFY_SNAPSHOT_BYTES_MAX',
    description: 'largest snapshot this node gathers from a leader (in memory); a larger one is refused',
    parse: int,
  },
  maxUncommittedEntries: {
    flag: 'max-uncommitted-entries',
    env: 'RATIFY_MAX_UNCOMMITTED_ENTRIES',
    description: 'leader refuses proposals beyond this many uncommitted entries',
    parse: int,
  },
  maxPendingProposals: {
    flag: 'max-pending-proposals',
    env: 'RATIFY_MAX_PENDING_PROPOSALS',
    description: 'local proposals waiting to be applied',
    parse: int,
  },
  maxPendingReads: { flag: 'max-pending-reads', env: 'RATIFY_MAX_PENDING_READS', description: 'read barriers waiting', parse: int },
  proposalTimeoutMs: {
    flag: 'proposal-timeout-ms',
    env: 'RATIFY_PROPOSAL_TIMEOUT_MS',
    description: 'default time limit of a proposal',
    parse: int,
  },
  readTimeoutMs: {
    flag: 'read-timeout-ms',
    env: 'RATIFY_READ_TIMEOUT_MS',
    description: 'default time limit of a read barrier',
    parse: int,
  },
  bodyLimitBytes: { flag: 'body-limit-bytes', env: 'RATIFY_BODY_LIMIT_BYTES', description: 'client request body limit', parse: int },
  raftBodyLimitBytes: {
    flag: 'raft-body-limit-bytes',
    env: 'RATIFY_RAFT_BODY_LIMIT_BYTES',
    description: 'peer (Raft) request body limit',
    parse: int,
  },
  maxQueuedMessagesPerPeer: {
    flag: 'max-queued-messages-per-peer',
    env: 'RATIFY_MAX_QUEUED_MESSAGES_PER_PEER',
    description: 'outbound Raft messages queued per peer',
    parse: int,
  },
  maxInflightRequestsPerPeer: {
    flag: 'max-inflight-requests-per-peer',
    env: 'RATIFY_MAX_INFLIGHT_REQUESTS_PER_PEER',
    description: 'concurrent Raft HTTP requests per peer',
    parse: int,
  },
  peerRequestTimeoutMs: {
    flag: 'peer-request-timeout-ms',
    env: 'RATIFY_PEER_REQUEST_TIMEOUT_MS',
    description: 'time limit of one Raft HTTP request',
    parse: int,
  },
  readyLagEntriesMax: {
    flag: 'ready-lag-entries-max',
    env: 'RATIFY_READY_LAG_ENTRIES_MAX',
    description: '/readyz tolerates this many committed-but-unapplied entries',
    parse: int,
  },
  promoteLagEntriesMax: {
    flag: 'promote-lag-entries-max',
    env: 'RATIFY_PROMOTE_LAG_ENTRIES_MAX',
    description: "promote a learner only when it trails the leader's log by at most this many entries",
    parse: int,
  },
  consistencyIntervalEntries: {
    flag: 'consistency-interval-entries',
    env: 'RATIFY_CONSISTENCY_INTERVAL_ENTRIES',
    description:
      'digest the applied state (sha256) at applied indexes that are multiples of this, for the consistency check across replicas',
    parse: int,
  },
  consistencyCheckMs: {
    flag: 'consistency-check-ms',
    env: 'RATIFY_CONSISTENCY_CHECK_MS',
    description: "how often the leader compares the members' state digests (0: never; `ratify check` still can)",
    parse: int,
  },
  shutdownTimeoutMs: {
    flag: 'shutdown-timeout-ms',
    env: 'RATIFY_SHUTDOWN_TIMEOUT_MS',
    description: 'bound on a graceful stop (SIGTERM/SIGINT); then open requests are cut and the process exits',
    parse: int,
  },
  healthStallMs: {
    flag: 'health-stall-ms',
    env: 'RATIFY_HEALTH_STALL_MS',
    description: '/healthz answers 503 (wedged) when the Raft loop or a log write has had work pending and made no progress for this long',
    parse: int,
  },
  raftStreams: {
    flag: 'raft-streams',
    env: 'RATIFY_RAFT_STREAMS',
    description: 'Raft traffic over long-lived streams instead of one request per batch (true|false)',
    parse: parseBoolean,
  },
  join: {
    flag: 'join',
    env: 'RATIFY_JOIN',
    description:
      'join a running cluster as a learner-to-be: --peers lists its voters and this node; add it with POST /v1/cluster/members (true|false)',
    parse: parseBoolean,
  },
  preVote: { flag: 'pre-vote', env: 'RATIFY_PRE_VOTE', description: 'PreVote phase before elections (true|false)', parse: parseBoolean },
  checkQuorum: {
    flag: 'check-quorum',
    env: 'RATIFY_CHECK_QUORUM',
    description: 'leader steps down without a quorum (true|false)',
    parse: parseBoolean,
  },
  seed: { flag: 'seed', env: 'RATIFY_SEED', description: 'seed of election randomness', defaultHelp: 'random', parse: parseNullable(int) },
  logLevel: { flag: 'log-level', env: 'RATIFY_LOG_LEVEL', description: LOG_LEVELS.join('|'), parse: parseOneOf(LOG_LEVELS) },
  logFormat: {
    flag: 'log-format',
    env: 'RATIFY_LOG_FORMAT',
    description: 'auto (readable on a terminal, JSON lines otherwise) | json | pretty',
    parse: parseOneOf(LOG_FORMATS),
  },
  stateMachine: {
    flag: 'state-machine',
    env: 'RATIFY_STATE_MACHINE',
    description: 'tx (transaction coordinator) | kv (test/benchmark key-value store)',
    parse: parseOneOf(STATE_MACHINES),
  },
  // Client API tokens: a file, or RATIFY_TOKENS (inline, same format); never a flag holding tokens.
  tokensFile: {
    flag: 'tokens-file',
    env: 'RATIFY_TOKENS_FILE',
    description: 'file of client API tokens, "principal role token" per line (or RATIFY_TOKENS inline)',
    defaultHelp: 'none: client API open',
    parse: parseNullable(parseString),
  },
  participantKeysFile: {
    flag: 'participant-keys-file',
    env: 'RATIFY_PARTICIPANT_KEYS_FILE',
    description: 'file of the keys that sign participant calls, "participant key" per line (* for every other participant)',
    defaultHelp: 'none: participant calls go unsigned',
    parse: parseNullable(parseString),
  },
  ownTransactionsOnly: {
    flag: 'own-transactions-only',
    env: 'RATIFY_OWN_TRANSACTIONS_ONLY',
    description: 'a client-role token sees and acts on only the transactions it created (true|false)',
    defaultHelp: 'true when tokens are set',
    parse: parseNullable(parseBoolean),
  },
  jsonDepthMax: { flag: 'json-depth-max', env: 'RATIFY_JSON_DEPTH_MAX', description: 'deepest nesting of a JSON request body', parse: int },
};

export interface ConfigFieldInfo {
  readonly name: FieldName;
  readonly flag: string;
  readonly env: string;
  readonly description: string;
  /** The default as --help shows it ("required" for settings without one). */
  readonly defaultText: string;
}

/** For the CLI: one option per field. */
export function configFields(): ConfigFieldInfo[] {
  return fieldNames().map((name) => {
    const f: Field<unknown> = FIELDS[name];
    return {
      name,
      flag: f.flag,
      env: f.env,
      description: f.description,
      defaultText: f.defaultHelp ?? showDefault(nodeConfigDefaults[name as keyof typeof nodeConfigDefaults]),
    };
  });
}

/** For the CLI: every transaction-layer setting with its env var and default. */
export function txConfigFields(): { readonly key: string; readonly env: string; readonly defaultText: string }[] {
  return Object.entries(txConfigDefaults).map(([key, value]) => ({ key, env: txEnvName(key), defaultText: showDefault(value) }));
}

function fieldNames(): FieldName[] {
  return Object.keys(FIELDS) as FieldName[];
}

function showDefault(value: unknown): string {
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.join(',');
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Raw values by field name (plus `tx`), before parsing. */
export type RawConfig = Readonly<Record<string, unknown>>;

export interface ConfigSources {
  /** Values from CLI flags, keyed by field name. */
  readonly flags?: RawConfig;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Path of a JSON config file. */
  readonly file?: string;
  /** Tx settings from flags, "key=value". */
  readonly txFlags?: readonly string[];
}

/** Layer the sources, parse, and validate. Throws RatifyError('CONFIG_INVALID') naming every bad value. */
export function resolveNodeConfig(sources: ConfigSources): NodeConfig {
  const file = sources.file === undefined ? { values: {}, errors: [] } : readConfigFile(sources.file, configFields());
  const errors: string[] = [...file.errors];
  const fileRaw: Record<string, unknown> = file.values;
  const envRaw = envValues(sources.env ?? {});
  const layered: Record<string, unknown> = { ...fileRaw, ...envRaw, ...(sources.flags ?? {}) };
  const parsed: Record<string, unknown> = { ...nodeConfigDefaults };
  for (const name of Object.keys(FIELDS) as FieldName[]) {
    const value = layered[name];
    if (value === undefined) continue;
    try {
      parsed[name] = FIELDS[name].parse(value, name);
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  for (const name of ['id', 'peers', 'dataDir'] as const) {
    if (parsed[name] === undefined) errors.push(`${name} is required (--${FIELDS[name].flag} or ${FIELDS[name].env})`);
  }
  if (parsed['listen'] === undefined && errors.length === 0) {
    const listen = listenFromPeers(parsed['id'] as NodeId, parsed['peers'] as Member[]);
    if ('errors' in listen) errors.push(...listen.errors);
    else parsed['listen'] = listen;
  }
  resolveSecretFile(parsed, errors);
  parsed['tx'] = resolveTxConfig(fileRaw['tx'], sources.env ?? {}, sources.txFlags ?? [], errors);
  parsed['clientTokens'] = clientTokensOf(parsed['tokensFile'] as string | null, sources.env ?? {}, errors);
  parsed['participantKeys'] = participantKeysOf(parsed['participantKeysFile'] as string | null, errors);
  if (errors.length > 0) throw configError(errors);
  const config = parsed as unknown as NodeConfig;
  validateNodeConfig(config);
  return config;
}

/** A secret file fills clusterSecret; giving both is ambiguous (which would win a rotation?). */
function resolveSecretFile(parsed: Record<string, unknown>, errors: string[]): void {
  const file = parsed['clusterSecretFile'];
  if (typeof file !== 'string') return;
  if (parsed['clusterSecret'] !== null && parsed['clusterSecret'] !== undefined) {
    errors.push('clusterSecret and clusterSecretFile are both set: give one (--cluster-secret-file is the one ps cannot show)');
    return;
  }
  try {
    parsed['clusterSecret'] = readSecretFile(file);
  } catch (e) {
    errors.push((e as Error).message);
  }
}

function clientTokensOf(file: string | null, env: Readonly<Record<string, string | undefined>>, errors: string[]): ClientTokens {
  try {
    return loadClientTokens(file, env);
  } catch (e) {
    const listed = (e as { details?: { errors?: unknown } }).details?.errors;
    errors.push(...(Array.isArray(listed) ? listed.map(String) : [(e as Error).message]));
    return ClientTokens.NONE;
  }
}

function participantKeysOf(file: string | null, errors: string[]): ParticipantKeys {
  try {
    return loadParticipantKeys(file);
  } catch (e) {
    const listed = (e as { details?: { errors?: unknown } }).details?.errors;
    errors.push(...(Array.isArray(listed) ? listed.map(String) : [(e as Error).message]));
    return ParticipantKeys.NONE;
  }
}

function envValues(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(FIELDS) as FieldName[]) {
    const v = env[FIELDS[name].env];
    if (v !== undefined) out[name] = v;
  }
  return out;
}

/**
 * Tx settings: defaults < file "tx" object < env RATIFY_TX_<SNAKE_CASE> < flags "--tx key=value".
 * String values are coerced to the type of the default, so only known keys are accepted.
 * An unknown key is an error wherever it comes from, RATIFY_TX_* variables included: a
 * misspelled limit that silently falls back to its default is worse than a refusal to start.
 * (Other RATIFY_* variables are left alone: test and deploy tooling uses that prefix too.)
 */
function resolveTxConfig(
  fileTx: unknown,
  env: Readonly<Record<string, string | undefined>>,
  txFlags: readonly string[],
  errors: string[],
): TxConfig {
  const out: Record<string, unknown> = { ...txConfigDefaults };
  const defaults = txConfigDefaults as unknown as Record<string, unknown>;
  const keys = Object.keys(defaults);
  const set = (key: string, value: unknown, where: string): void => {
    if (!(key in defaults)) {
      errors.push(`${where}: unknown tx setting "${key}" (valid: ${keys.join(', ')})`);
      return;
    }
    try {
      out[key] = coerceLike(defaults[key], value, `tx.${key}`);
    } catch (e) {
      errors.push((e as Error).message);
    }
  };
  if (fileTx !== undefined) {
    if (typeof fileTx !== 'object' || fileTx === null || Array.isArray(fileTx)) errors.push('config file: tx must be an object');
    else for (const [k, v] of Object.entries(fileTx)) set(k, v, 'config file');
  }
  const keyOfEnv = new Map(keys.map((k) => [txEnvName(k), k]));
  for (const [name, v] of Object.entries(env)) {
    if (v === undefined || !name.startsWith(TX_ENV_PREFIX)) continue;
    const key = keyOfEnv.get(name);
    if (key === undefined) errors.push(`environment: unknown tx setting ${name} (valid: ${[...keyOfEnv.keys()].join(', ')})`);
    else set(key, v, 'environment');
  }
  for (const kv of txFlags) {
    const eq = kv.indexOf('=');
    if (eq <= 0) errors.push(`--tx (${show(kv)}) must look like key=value`);
    else set(kv.slice(0, eq), kv.slice(eq + 1), '--tx');
  }
  return out as unknown as TxConfig;
}

const TX_ENV_PREFIX = 'RATIFY_TX_';

function txEnvName(key: string): string {
  return TX_ENV_PREFIX + snakeUpper(key);
}

function coerceLike(example: unknown, value: unknown, name: string): unknown {
  if (typeof example === 'number') return typeof value === 'string' ? parseNumber(value, name) : expectType(value, 'number', name);
  if (typeof example === 'boolean') return parseBoolean(value, name);
  if (typeof example === 'string') return parseString(value, name);
  if (Array.isArray(example) && typeof value === 'string')
    return value
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== '');
  return value; // nested or nullable settings come from the file as JSON; validateTxConfig checks them
}

function parseNumber(value: string, name: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new Error(`${name} (${show(value)}) must be a number`);
  return n;
}

function expectType(value: unknown, type: string, name: string): unknown {
  if (typeof value !== type) throw new Error(`${name} (${show(value)}) must be a ${type}`);
  return value;
}

export function snakeUpper(camel: string): string {
  return camel.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

// ---- validation ----

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MAX_PEERS = 64;
const MAX_ELECTION_TIMEOUT_MS = 60_000;

/** Throws RatifyError('CONFIG_INVALID') listing every violated bound. */
export function validateNodeConfig(config: NodeConfig): void {
  const errors = nodeConfigErrors(config);
  if (errors.length > 0) throw configError(errors);
}

export function nodeConfigErrors(c: NodeConfig): string[] {
  const errors: string[] = [];
  const range = (name: string, value: number, min: number, max: number): void => {
    if (!Number.isSafeInteger(value) || value < min || value > max) errors.push(`${name} (${value}) must be between ${min} and ${max}`);
  };
  if (!ID_PATTERN.test(c.id)) errors.push(`id (${show(c.id)}) must match ${ID_PATTERN.source}`);
  if (!ID_PATTERN.test(c.clusterId)) errors.push(`clusterId (${show(c.clusterId)}) must match ${ID_PATTERN.source}`);
  errors.push(...secretErrors(parseSecretList(c.clusterSecret)), ...tlsErrors(c), ...peerAuthErrors(c));
  if (c.listen.host === '') errors.push('listen host must not be empty');
  range('listen port', c.listen.port, 1, 65535);
  errors.push(...peerErrors(c.id, c.peers));
  if (c.dataDir === '') errors.push('dataDir must not be empty');
  range('tickMs', c.tickMs, 1, 1000);
  range('electionTicks', c.electionTicks, 2, 1000);
  range('heartbeatTicks', c.heartbeatTicks, 1, 1000);
  if (c.heartbeatTicks >= c.electionTicks) {
    errors.push(`heartbeatTicks (${c.heartbeatTicks}) must be less than electionTicks (${c.electionTicks})`);
  }
  if (c.electionTicks * c.tickMs > MAX_ELECTION_TIMEOUT_MS) {
    errors.push(`electionTicks * tickMs (${c.electionTicks * c.tickMs} ms) must be at most ${MAX_ELECTION_TIMEOUT_MS} ms`);
  }
  range('maxInflightAppends', c.maxInflightAppends, 1, 1024);
  range('maxAppendBytes', c.maxAppendBytes, 1 * KiB, 64 * MiB);
  range('snapshotThresholdEntries', c.snapshotThresholdEntries, 1, 10_000_000);
  range('snapshotChunkBytes', c.snapshotChunkBytes, 1 * KiB, 64 * MiB);
  // 2 GiB: well below what one Node.js buffer can hold (the snapshot is one array once gathered).
  range('snapshotBytesMax', c.snapshotBytesMax, 1 * MiB, 2048 * MiB);
  if (c.snapshotBytesMax < c.snapshotChunkBytes) {
    errors.push(`snapshotBytesMax (${c.snapshotBytesMax}) must be at least snapshotChunkBytes (${c.snapshotChunkBytes})`);
  }
  range('maxUncommittedEntries', c.maxUncommittedEntries, 1, 1_000_000);
  range('maxPendingProposals', c.maxPendingProposals, 1, 1_000_000);
  if (c.maxPendingProposals > c.maxUncommittedEntries) {
    errors.push(`maxPendingProposals (${c.maxPendingProposals}) must not exceed maxUncommittedEntries (${c.maxUncommittedEntries})`);
  }
  // The core holds at most 10,000 reads in flight (src/raft/read-only.ts); more would be refused there.
  range('maxPendingReads', c.maxPendingReads, 1, 10_000);
  range('proposalTimeoutMs', c.proposalTimeoutMs, 10, 600_000);
  range('readTimeoutMs', c.readTimeoutMs, 10, 600_000);
  range('bodyLimitBytes', c.bodyLimitBytes, 1 * KiB, 64 * MiB);
  range('raftBodyLimitBytes', c.raftBodyLimitBytes, 64 * KiB, 256 * MiB);
  // One append carries up to maxAppendBytes, or one oversized entry (at most a client body).
  const appendNeed = c.maxAppendBytes + Math.max(c.bodyLimitBytes, c.tx.maxBodyBytes);
  if (c.raftBodyLimitBytes < appendNeed) {
    errors.push(
      `raftBodyLimitBytes (${c.raftBodyLimitBytes}) must be at least maxAppendBytes + max(bodyLimitBytes, tx.maxBodyBytes) (${appendNeed})`,
    );
  }
  const chunkNeed = c.snapshotChunkBytes + 64 * KiB;
  if (c.raftBodyLimitBytes < chunkNeed) {
    errors.push(`raftBodyLimitBytes (${c.raftBodyLimitBytes}) must be at least snapshotChunkBytes + 64 KiB (${chunkNeed})`);
  }
  range('maxQueuedMessagesPerPeer', c.maxQueuedMessagesPerPeer, 1, 1_000_000);
  range('maxInflightRequestsPerPeer', c.maxInflightRequestsPerPeer, 1, 64);
  range('peerRequestTimeoutMs', c.peerRequestTimeoutMs, 10, 600_000);
  range('readyLagEntriesMax', c.readyLagEntriesMax, 0, 1_000_000);
  range('promoteLagEntriesMax', c.promoteLagEntriesMax, 0, 1_000_000);
  range('consistencyIntervalEntries', c.consistencyIntervalEntries, 1, 100_000_000);
  range('consistencyCheckMs', c.consistencyCheckMs, 0, 86_400_000);
  // Each check asks every member; more often than this would be load, not vigilance.
  if (c.consistencyCheckMs > 0 && c.consistencyCheckMs < 100)
    errors.push(`consistencyCheckMs (${c.consistencyCheckMs}) must be 0 (off) or at least 100`);
  range('shutdownTimeoutMs', c.shutdownTimeoutMs, 100, 600_000);
  range('healthStallMs', c.healthStallMs, 100, 3_600_000);
  // A Ready can rightly take a few ticks on a loaded machine; a bound inside that would restart healthy nodes.
  if (c.healthStallMs < 10 * c.tickMs) errors.push(`healthStallMs (${c.healthStallMs}) must be at least 10 x tickMs (${10 * c.tickMs})`);
  // msgpackr overflows the stack near 1,500 levels (src/http/json-body.ts); nothing needs more than a few.
  range('jsonDepthMax', c.jsonDepthMax, 4, 256);
  if (c.seed !== null && (!Number.isSafeInteger(c.seed) || c.seed < 0)) errors.push(`seed (${c.seed}) must be a non-negative integer`);
  if (!(LOG_LEVELS as readonly string[]).includes(c.logLevel))
    errors.push(`logLevel (${show(c.logLevel)}) must be one of ${LOG_LEVELS.join(', ')}`);
  if (!(STATE_MACHINES as readonly string[]).includes(c.stateMachine)) {
    errors.push(`stateMachine (${show(c.stateMachine)}) must be one of ${STATE_MACHINES.join(', ')}`);
  }
  errors.push(...txErrors(c.tx));
  return errors;
}

/** Secure by default: beyond loopback, anyone who reaches the port could otherwise speak Raft. */
function peerAuthErrors(c: NodeConfig): string[] {
  if (isLoopbackHost(c.listen.host) || parseSecretList(c.clusterSecret).length > 0 || c.tlsMutual) return [];
  return [
    `listen host ${show(c.listen.host)} is not loopback, so peers must authenticate: set a cluster secret ` +
      '(--cluster-secret-file FILE with one line of at least 16 random characters, or RATIFY_CLUSTER_SECRET; ' +
      'e.g. `head -c 24 /dev/urandom | base64`, the same on every node), or mutual TLS (--tls-cert, --tls-key, --tls-ca and --tls-mutual true)',
  ];
}

function tlsErrors(c: NodeConfig): string[] {
  const errors: string[] = [];
  if ((c.tlsCert === null) !== (c.tlsKey === null))
    errors.push('tlsCert and tlsKey go together: set both (--tls-cert, --tls-key) or neither');
  if (c.tlsMutual && (c.tlsCert === null || c.tlsCa === null))
    errors.push('tlsMutual needs tlsCert, tlsKey and tlsCa (--tls-cert, --tls-key, --tls-ca)');
  const scheme = c.tlsCert === null ? 'http:' : 'https:';
  const own = c.peers.find((p) => p.id === c.id);
  if (own !== undefined && isHttpUrl(own.url) && new URL(own.url).protocol !== scheme) {
    errors.push(`this node's peer url (${show(own.url)}) must be ${scheme}// ${c.tlsCert === null ? 'without' : 'with'} --tls-cert`);
  }
  return errors;
}

function peerErrors(id: NodeId, peers: readonly Member[]): string[] {
  const errors: string[] = [];
  if (peers.length < 1 || peers.length > MAX_PEERS) errors.push(`peers (${peers.length} members) must be between 1 and ${MAX_PEERS}`);
  const seen = new Set<string>();
  for (const p of peers) {
    if (!ID_PATTERN.test(p.id)) errors.push(`peer id (${show(p.id)}) must match ${ID_PATTERN.source}`);
    if (seen.has(p.id)) errors.push(`peer id (${show(p.id)}) appears more than once`);
    seen.add(p.id);
    const badUrl = peerUrlError(p.id, p.url);
    if (badUrl !== null) errors.push(badUrl);
  }
  if (!seen.has(id)) errors.push(`peers (${[...seen].join(', ')}) must include this node's id (${show(id)})`);
  return errors;
}

function txErrors(tx: TxConfig): string[] {
  try {
    validateTxConfig(tx);
    return [];
  } catch (e) {
    return [`tx: ${(e as Error).message}`];
  }
}

function configError(errors: readonly string[]): RatifyError {
  return new RatifyError('CONFIG_INVALID', `invalid configuration: ${errors.join('; ')}`, { details: { errors: [...errors] } });
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}
