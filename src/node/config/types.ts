// The shape of a node's configuration once every source has been layered and
// validated (resolve.ts). What each setting means is said here; where it comes from
// (flag, env var, file key), its default and bounds are in fields.ts.
import type { ClientTokens } from '../../http/tokens.js';
import type { Member, NodeId } from '../../raft/types.js';
import type { TxConfig } from '../../tx/config.js';
import type { ParticipantKeys } from '../../tx/participant-keys.js';
import type { LogFormat } from '../../log-format.js';
import type { LogLevel } from '../../logger.js';
import type { ListenAddress } from './parse.js';

export type { ListenAddress } from './parse.js';

export const STATE_MACHINES = ['tx', 'kv'] as const;
/** `tx`: the transaction coordinator. `kv`: a tiny key-value store for raw-consensus tests and benchmarks. */
export type StateMachineKind = (typeof STATE_MACHINES)[number];

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
  /** At most this many applied entries a leader keeps behind each snapshot, for a follower that fell a little behind. */
  readonly snapshotCatchUpEntries: number;
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

/** The settings declared in the field table; the rest are loaded from files they name. */
export type FieldName = Exclude<keyof NodeConfig, 'tx' | 'clientTokens' | 'participantKeys'>;
