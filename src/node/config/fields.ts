// The node's settings, each declared once: its flag, environment variable, parser,
// default, range and --help text. The config-file key is the flag in camelCase
// (field.ts); the transaction layer's settings are declared the same way in
// src/tx/config.ts (txFields). The sources (sources.ts), --help (node-options.ts) and
// the range checks (validate.ts) all read these tables.
//
// Timing defaults (tickMs 20, electionTicks 15, heartbeatTicks 3): a follower waits a
// randomized 300-600 ms without heartbeats before it campaigns, and the leader
// heartbeats every 60 ms, so five heartbeats must go missing first. On loopback that
// gives failover (SIGKILL of the leader -> next committed write) well under a second,
// while an event-loop stall of a couple of hundred milliseconds on a loaded 2-core box
// (GC, a slow fsync callback) does not depose a healthy leader. PreVote and
// CheckQuorum keep a node that was merely slow from bumping everyone's term.
import { JSON_DEPTH_MAX_DEFAULT } from '../../http/json-body.js';
import { LOG_FORMATS } from '../../log-format.js';
import { LOG_LEVELS } from '../../logger.js';
import { txFields } from '../../tx/config.js';
import { defaultsOf, fileKey, type NodeField, showDefault } from './field.js';
import { parseBoolean, parseInteger, parseListen, parseNullable, parseOneOf, parsePeers, parseString } from './parse.js';
import { type FieldName, type NodeConfig, STATE_MACHINES } from './types.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const int = parseInteger;

export type NodeFieldTable = { readonly [K in FieldName]: NodeField<NodeConfig[K]> };

export const nodeFields = {
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
    default: 'ratify',
    parse: parseString,
  },
  clusterSecret: {
    flag: 'cluster-secret',
    env: 'RATIFY_CLUSTER_SECRET',
    description:
      'shared secret for peer calls (signed) and admin calls (header x-ratify-secret); "new,old" while rotating; prefer the env or --cluster-secret-file: ps shows flags',
    defaultHelp: 'none: required unless listening on loopback',
    default: null,
    parse: parseNullable(parseString),
  },
  clusterSecretFile: {
    flag: 'cluster-secret-file',
    env: 'RATIFY_CLUSTER_SECRET_FILE',
    description: 'file with the cluster secret(s), one per line (the first signs)',
    defaultHelp: 'none',
    default: null,
    parse: parseNullable(parseString),
  },
  tlsCert: {
    flag: 'tls-cert',
    env: 'RATIFY_TLS_CERT',
    description: 'PEM certificate: serve HTTPS to clients and peers (peer URLs are https://)',
    defaultHelp: 'none: plain HTTP',
    default: null,
    parse: parseNullable(parseString),
  },
  tlsKey: {
    flag: 'tls-key',
    env: 'RATIFY_TLS_KEY',
    description: 'PEM private key of --tls-cert',
    defaultHelp: 'none',
    default: null,
    parse: parseNullable(parseString),
  },
  tlsCa: {
    flag: 'tls-ca',
    env: 'RATIFY_TLS_CA',
    description: "PEM CA bundle that peers' certificates must chain to",
    defaultHelp: "none: the system's CAs",
    default: null,
    parse: parseNullable(parseString),
  },
  tlsMutual: {
    flag: 'tls-mutual',
    env: 'RATIFY_TLS_MUTUAL',
    description: 'mutual TLS between nodes: peer calls need a --tls-ca certificate whose DNS subjectAltName is the member id (true|false)',
    default: false,
    parse: parseBoolean,
  },
  tickMs: { flag: 'tick-ms', env: 'RATIFY_TICK_MS', description: 'length of one Raft tick', default: 20, range: [1, 1000], parse: int },
  electionTicks: {
    flag: 'election-ticks',
    env: 'RATIFY_ELECTION_TICKS',
    description: 'election timeout base, in ticks',
    default: 15,
    range: [2, 1000],
    parse: int,
  },
  heartbeatTicks: {
    flag: 'heartbeat-ticks',
    env: 'RATIFY_HEARTBEAT_TICKS',
    description: 'heartbeat interval, in ticks',
    default: 3,
    range: [1, 1000],
    parse: int,
  },
  maxInflightAppends: {
    flag: 'max-inflight-appends',
    env: 'RATIFY_MAX_INFLIGHT_APPENDS',
    description: 'pipelined appends per follower',
    default: 32,
    range: [1, 1024],
    parse: int,
  },
  maxAppendBytes: {
    flag: 'max-append-bytes',
    env: 'RATIFY_MAX_APPEND_BYTES',
    description: 'entry bytes per append message',
    default: 1 * MiB,
    range: [1 * KiB, 64 * MiB],
    parse: int,
  },
  snapshotThresholdEntries: {
    flag: 'snapshot-threshold-entries',
    env: 'RATIFY_SNAPSHOT_THRESHOLD_ENTRIES',
    description: 'applied entries between snapshots (log compaction)',
    default: 10_000,
    range: [1, 10_000_000],
    parse: int,
  },
  // etcd keeps 5,000 (SnapshotCatchUpEntries), hashicorp/raft 10,240 (TrailingLogs),
  // always. A node killed and restarted under load misses a few thousand entries;
  // without a trail, a leader snapshot in between makes it receive and restore the
  // whole state machine, holding its old and new state at once (the failover peaks
  // of the benchmark). Ratify's leader keeps only what its furthest-behind peer
  // lacks (RaftCore.catchUpTrail), so with every node up to date it costs nothing
  // (a new leader counts a peer it has not heard from yet as lacking everything).
  snapshotCatchUpEntries: {
    flag: 'snapshot-catchup-entries',
    env: 'RATIFY_SNAPSHOT_CATCHUP_ENTRIES',
    description: 'entries a leader keeps behind each snapshot for a lagging follower, to catch up from the log',
    default: 5_000,
    range: [0, 10_000_000],
    parse: int,
  },
  snapshotChunkBytes: {
    flag: 'snapshot-chunk-bytes',
    env: 'RATIFY_SNAPSHOT_CHUNK_BYTES',
    description: 'bytes per InstallSnapshot chunk',
    default: 1 * MiB,
    range: [1 * KiB, 64 * MiB],
    parse: int,
  },
  // The transaction state at its default limits stays far below (tens of MiB); a cap
  // keeps a broken or hostile leader from making a follower gather without end.
  // At most 2 GiB: well below what one Node.js buffer can hold (the snapshot is one array once gathered).
  snapshotBytesMax: {
    flag: 'snapshot-bytes-max',
    env: 'RATIFY_SNAPSHOT_BYTES_MAX',
    description: 'largest snapshot this node gathers from a leader (in memory); a larger one is refused',
    default: 1024 * MiB,
    range: [1 * MiB, 2048 * MiB],
    parse: int,
  },
  maxUncommittedEntries: {
    flag: 'max-uncommitted-entries',
    env: 'RATIFY_MAX_UNCOMMITTED_ENTRIES',
    description: 'leader refuses proposals beyond this many uncommitted entries',
    default: 8192,
    range: [1, 1_000_000],
    parse: int,
  },
  maxPendingProposals: {
    flag: 'max-pending-proposals',
    env: 'RATIFY_MAX_PENDING_PROPOSALS',
    description: 'local proposals waiting to be applied',
    default: 4096,
    range: [1, 1_000_000],
    parse: int,
  },
  // At most 10,000: the core holds no more reads in flight (src/raft/read-only.ts); more would be refused there.
  maxPendingReads: {
    flag: 'max-pending-reads',
    env: 'RATIFY_MAX_PENDING_READS',
    description: 'read barriers waiting',
    default: 4096,
    range: [1, 10_000],
    parse: int,
  },
  proposalTimeoutMs: {
    flag: 'proposal-timeout-ms',
    env: 'RATIFY_PROPOSAL_TIMEOUT_MS',
    description: 'default time limit of a proposal',
    default: 5000,
    range: [10, 600_000],
    parse: int,
  },
  readTimeoutMs: {
    flag: 'read-timeout-ms',
    env: 'RATIFY_READ_TIMEOUT_MS',
    description: 'default time limit of a read barrier',
    default: 5000,
    range: [10, 600_000],
    parse: int,
  },
  bodyLimitBytes: {
    flag: 'body-limit-bytes',
    env: 'RATIFY_BODY_LIMIT_BYTES',
    description: 'client request body limit',
    default: 1 * MiB,
    range: [1 * KiB, 64 * MiB],
    parse: int,
  },
  raftBodyLimitBytes: {
    flag: 'raft-body-limit-bytes',
    env: 'RATIFY_RAFT_BODY_LIMIT_BYTES',
    description: 'peer (Raft) request body limit',
    default: 8 * MiB,
    range: [64 * KiB, 256 * MiB],
    parse: int,
  },
  maxQueuedMessagesPerPeer: {
    flag: 'max-queued-messages-per-peer',
    env: 'RATIFY_MAX_QUEUED_MESSAGES_PER_PEER',
    description: 'outbound Raft messages queued per peer',
    default: 8192,
    range: [1, 1_000_000],
    parse: int,
  },
  maxInflightRequestsPerPeer: {
    flag: 'max-inflight-requests-per-peer',
    env: 'RATIFY_MAX_INFLIGHT_REQUESTS_PER_PEER',
    description: 'concurrent Raft HTTP requests per peer',
    default: 4,
    range: [1, 64],
    parse: int,
  },
  peerRequestTimeoutMs: {
    flag: 'peer-request-timeout-ms',
    env: 'RATIFY_PEER_REQUEST_TIMEOUT_MS',
    description: 'time limit of one Raft HTTP request',
    default: 2000,
    range: [10, 600_000],
    parse: int,
  },
  readyLagEntriesMax: {
    flag: 'ready-lag-entries-max',
    env: 'RATIFY_READY_LAG_ENTRIES_MAX',
    description: '/readyz tolerates this many committed-but-unapplied entries',
    default: 64,
    range: [0, 1_000_000],
    parse: int,
  },
  // A learner this close commits its first entries as a voter within a heartbeat or two.
  promoteLagEntriesMax: {
    flag: 'promote-lag-entries-max',
    env: 'RATIFY_PROMOTE_LAG_ENTRIES_MAX',
    description: "promote a learner only when it trails the leader's log by at most this many entries",
    default: 64,
    range: [0, 1_000_000],
    parse: int,
  },
  // A digest costs one serialization of the whole state, like a snapshot, and every replica makes
  // it at the same index, so at once. Every 10,000 entries (as often as snapshots) that work
  // showed in the tails: alternating runs at 50,000 cut writes p99 at 64 from 33.9 to 28.2 ms and
  // transactions p99.9 at 16 from 82 to 65 ms (scripts/bench/results/README.md, "Digests every
  // 50,000 entries"). The leader compares digests once a minute (consistencyCheckMs); 50,000
  // entries is under a minute at the benchmark's rates. A multiple of the snapshot threshold, so
  // the node whose snapshot phase is 0 still snapshots on every digest (node-snapshots.ts).
  consistencyIntervalEntries: {
    flag: 'consistency-interval-entries',
    env: 'RATIFY_CONSISTENCY_INTERVAL_ENTRIES',
    description:
      'digest the applied state (sha256) at applied indexes that are multiples of this, for the consistency check across replicas',
    default: 50_000,
    range: [1, 100_000_000],
    parse: int,
  },
  consistencyCheckMs: {
    flag: 'consistency-check-ms',
    env: 'RATIFY_CONSISTENCY_CHECK_MS',
    description: "how often the leader compares the members' state digests (0: never; `ratify check` still can)",
    default: 60_000,
    range: [0, 86_400_000],
    parse: int,
  },
  // Docker's default grace period is 10 s before SIGKILL: stop well inside it.
  shutdownTimeoutMs: {
    flag: 'shutdown-timeout-ms',
    env: 'RATIFY_SHUTDOWN_TIMEOUT_MS',
    description: 'bound on a graceful stop (SIGTERM/SIGINT); then open requests are cut and the process exits',
    default: 5000,
    range: [100, 600_000],
    parse: int,
  },
  // Far above any healthy synced write (milliseconds) or a busy disk's worst (seconds); the
  // liveness probe adds its own periodSeconds x failureThreshold before a restart.
  healthStallMs: {
    flag: 'health-stall-ms',
    env: 'RATIFY_HEALTH_STALL_MS',
    description: '/healthz answers 503 (wedged) when the Raft loop or a log write has had work pending and made no progress for this long',
    default: 30_000,
    range: [100, 3_600_000],
    parse: int,
  },
  raftStreams: {
    flag: 'raft-streams',
    env: 'RATIFY_RAFT_STREAMS',
    description: 'Raft traffic over long-lived streams instead of one request per batch (true|false)',
    default: true,
    parse: parseBoolean,
  },
  join: {
    flag: 'join',
    env: 'RATIFY_JOIN',
    description:
      'join a running cluster as a learner-to-be: --peers lists its voters and this node; add it with POST /v1/cluster/members (true|false)',
    default: false,
    parse: parseBoolean,
  },
  preVote: {
    flag: 'pre-vote',
    env: 'RATIFY_PRE_VOTE',
    description: 'PreVote phase before elections (true|false)',
    default: true,
    parse: parseBoolean,
  },
  checkQuorum: {
    flag: 'check-quorum',
    env: 'RATIFY_CHECK_QUORUM',
    description: 'leader steps down without a quorum (true|false)',
    default: true,
    parse: parseBoolean,
  },
  seed: {
    flag: 'seed',
    env: 'RATIFY_SEED',
    description: 'seed of election randomness',
    defaultHelp: 'random',
    default: null,
    parse: parseNullable(int),
  },
  logLevel: {
    flag: 'log-level',
    env: 'RATIFY_LOG_LEVEL',
    description: LOG_LEVELS.join('|'),
    default: 'info',
    parse: parseOneOf(LOG_LEVELS),
  },
  logFormat: {
    flag: 'log-format',
    env: 'RATIFY_LOG_FORMAT',
    description: 'auto (readable on a terminal, JSON lines otherwise) | json | pretty',
    default: 'auto',
    parse: parseOneOf(LOG_FORMATS),
  },
  stateMachine: {
    flag: 'state-machine',
    env: 'RATIFY_STATE_MACHINE',
    description: 'tx (transaction coordinator) | kv (test/benchmark key-value store)',
    default: 'tx',
    parse: parseOneOf(STATE_MACHINES),
  },
  // Client API tokens: a file, or RATIFY_TOKENS (inline, same format); never a flag holding tokens.
  tokensFile: {
    flag: 'tokens-file',
    env: 'RATIFY_TOKENS_FILE',
    description: 'file of client API tokens, "principal role token" per line (or RATIFY_TOKENS inline)',
    defaultHelp: 'none: client API open',
    default: null,
    parse: parseNullable(parseString),
  },
  participantKeysFile: {
    flag: 'participant-keys-file',
    env: 'RATIFY_PARTICIPANT_KEYS_FILE',
    description: 'file of the keys that sign participant calls, "participant key" per line (* for every other participant)',
    defaultHelp: 'none: participant calls go unsigned',
    default: null,
    parse: parseNullable(parseString),
  },
  ownTransactionsOnly: {
    flag: 'own-transactions-only',
    env: 'RATIFY_OWN_TRANSACTIONS_ONLY',
    description: 'a client-role token sees and acts on only the transactions it created (true|false)',
    defaultHelp: 'true when tokens are set',
    default: null,
    parse: parseNullable(parseBoolean),
  },
  // msgpackr overflows the stack near 1,500 levels (src/http/json-body.ts); nothing needs more than a few.
  jsonDepthMax: {
    flag: 'json-depth-max',
    env: 'RATIFY_JSON_DEPTH_MAX',
    description: 'deepest nesting of a JSON request body',
    default: JSON_DEPTH_MAX_DEFAULT,
    range: [4, 256],
    parse: int,
  },
} as const satisfies NodeFieldTable;

/** The fields that have a default (all but the required ones and listen, which comes from the peers). */
type DefaultedName = { [K in FieldName]: (typeof nodeFields)[K] extends { readonly default: unknown } ? K : never }[FieldName];

export const nodeConfigDefaults = defaultsOf(nodeFields) as { readonly [K in DefaultedName]: NodeConfig[K] };

export interface ConfigFieldInfo {
  readonly name: FieldName;
  readonly flag: string;
  readonly env: string;
  /** The key in the config file (the flag in camelCase). */
  readonly fileKey: string;
  readonly description: string;
  /** The default as --help shows it ("required" for settings without one). */
  readonly defaultText: string;
}

/** For the CLI: one option per field. */
export function configFields(): ConfigFieldInfo[] {
  return fieldNames().map((name) => {
    const f: NodeField<unknown> = nodeFields[name];
    return {
      name,
      flag: f.flag,
      env: f.env,
      fileKey: fileKey(f),
      description: f.description,
      defaultText: f.defaultHelp ?? showDefault(f.default),
    };
  });
}

/** For the CLI: every transaction-layer setting with its env var and default. */
export function txConfigFields(): { readonly key: string; readonly env: string; readonly defaultText: string }[] {
  return Object.values(txFields).map((f) => ({ key: f.flag, env: f.env, defaultText: showDefault(f.default) }));
}

export function fieldNames(): FieldName[] {
  return Object.keys(nodeFields) as FieldName[];
}

export function snakeUpper(camel: string): string {
  return camel.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}
