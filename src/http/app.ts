// buildApp(): the fastify instance of one node, built without listening (tests use
// app.inject(); src/node/server.ts listens). Every route group is its own plugin.
import Fastify, { LogController, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { requestLoggerFactory } from './request-logger.js';
import type { TxPluginOptions } from '../tx/routes.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { KV_KEY_BYTES_MAX, type KvStateMachine } from '../kv/state-machine.js';
import type { NodeId } from '../raft/types.js';
import type { TlsMaterial } from '../transport/peer-tls.js';
import { RAFT_MESSAGES_PATH, RAFT_STREAM_PATH, raftRoutes } from '../transport/raft-routes.js';
import type { InboundHandler } from '../transport/transport.js';
import type { ClusterNode } from './cluster-node.js';
import { installClusterIdentity } from './cluster-identity.js';
import { clusterRoutes } from './cluster-routes.js';
import { dashboardRoutes, type DashboardTuning } from './dashboard-routes.js';
import type { TxTableReader } from './decision-feed.js';
import { peerCredentialHeaders } from './auth.js';
import { Draining } from './draining.js';
import { installEdge } from './edge.js';
import { sendFrameworkError } from './error-handler.js';
import { healthRoutes } from './health-routes.js';
import { kvRoutes } from '../kv/routes.js';
import { LeaderForwarder } from './leader-forward.js';
import { metricsRoutes } from './metrics-routes.js';
import { installOpenApi, openApiRoutes } from './openapi.js';
import { snapshotRoutes, type BackupSource } from './snapshot-routes.js';
import { consistencyRoutes, type DigestNode } from './consistency-routes.js';
import { AssetStore } from './static-assets.js';
import type { ClientTokens } from './tokens.js';

export interface AppConfig {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  /** One secret, or several comma-separated while rotating (src/node/secrets.ts). */
  readonly clusterSecret: string | null;
  /** Serve HTTPS with this material (and ask for client certificates with mutual TLS); null or absent: HTTP. */
  readonly tls?: TlsMaterial | null;
  readonly bodyLimitBytes: number;
  readonly raftBodyLimitBytes: number;
  readonly readyLagEntriesMax: number;
  /** Bound on a request forwarded to the leader. */
  readonly forwardTimeoutMs: number;
  /** Deepest nesting of a JSON body (default 64, json-body.ts). */
  readonly jsonDepthMax?: number;
}

export interface AppOptions {
  readonly config: AppConfig;
  readonly node: ClusterNode;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Raft messages that passed the transport's checks. */
  readonly onRaftMessages: InboundHandler;
  /** The transaction API (src/tx), when this node runs the tx state machine. */
  readonly txPlugin?: FastifyPluginAsync<TxPluginOptions>;
  /** The KV API, when this node runs `--state-machine kv`. */
  readonly kv?: KvStateMachine;
  /** Test only (src/node/test-switches.ts): KV reads on a follower skip the read barrier. */
  readonly staleFollowerReads?: boolean;
  /** Client API tokens (tokens.ts); without them reader and client routes are open. */
  readonly clientTokens?: ClientTokens;
  /** The node process drives the stop through it (src/node/server.ts); tests may leave it out. */
  readonly draining?: Draining;
  /** The replicated transaction table, read by the dashboard (transactions in flight, recent outcomes). */
  readonly txTable?: TxTableReader;
  /** GET /v1/cluster/snapshot (backups); absent, the route is not served. */
  readonly backup?: { readonly source: BackupSource; readonly stateMachine: 'tx' | 'kv'; readonly bytesMax: number };
  /** The consistency check across replicas (consistency-routes.ts); absent, its routes are not served. */
  readonly consistency?: { readonly node: DigestNode; readonly intervalEntries: number; readonly checkMs: number };
  /** Tests shorten the dashboard's windows and timeouts. */
  readonly dashboard?: DashboardTuning;
  /** Why the node is wedged, or null: /healthz answers 503 with it (src/node/liveness.ts). */
  readonly wedged?: () => string | null;
  /** The cluster's replicated incarnation, named on every reply (cluster-identity.ts); absent on KV nodes. */
  readonly incarnation?: () => string | null;
}

/**
 * Longest path parameter accepted: a KV key of KV_KEY_BYTES_MAX bytes, percent-encoded
 * (up to 3 characters a byte). Ids are far shorter. Anything longer is 414 URI_TOO_LONG.
 */
export const PARAM_LENGTH_MAX = 3 * KV_KEY_BYTES_MAX;

/** Peer traffic keeps flowing while a node drains, so what it proposed can still commit. */
const EXEMPT_FROM_DRAINING: ReadonlySet<string> = new Set([RAFT_MESSAGES_PATH, RAFT_STREAM_PATH, '/healthz']);

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const { config, node } = opts;
  const tls = config.tls ?? null;
  const app = Fastify({
    ...(tls === null ? {} : { https: httpsOptions(tls) }),
    loggerInstance: opts.logger,
    bodyLimit: config.bodyLimitBytes,
    // Per-request info lines would drown the Raft logs; errors are logged by the handler.
    logController: new LogController({ disableRequestLogging: true }),
    // request.log without a pino child per request (request-logger.ts).
    childLoggerFactory: requestLoggerFactory,
    // Draining answers in the project's error shape instead (see draining.ts).
    return503OnClosing: false,
    routerOptions: { maxParamLength: PARAM_LENGTH_MAX },
    // Errors raised before routing (param too long, malformed URL) get the same shape as all others.
    frameworkErrors: sendFrameworkError,
  }) as unknown as FastifyInstance;
  installEdge(app, {
    clusterSecret: config.clusterSecret,
    clusterId: config.clusterId,
    nodeId: config.nodeId,
    tlsMutual: tls?.mutual ?? false,
    isMember: (id) => node.status().members.some((m) => m.id === id),
    ...(opts.clientTokens === undefined ? {} : { clientTokens: opts.clientTokens }),
    ...(config.jsonDepthMax === undefined ? {} : { jsonDepthMax: config.jsonDepthMax }),
    rejections: { rejected: (code, status) => opts.metrics.rejectedRequests.inc({ code, status: String(status) }) },
  });
  installClusterIdentity(app, { clusterId: config.clusterId, incarnation: opts.incarnation ?? (() => null) });
  // Before any route: the routes are recorded as they are added.
  const openApi = installOpenApi(app);
  const assets = new AssetStore();
  const draining = opts.draining ?? new Draining();
  draining.install(app, (req) => EXEMPT_FROM_DRAINING.has(req.routeOptions.url ?? ''));
  // The one forwarder of the node: every route group relays writes to the leader through it.
  const forwarder = new LeaderForwarder({
    nodeId: config.nodeId,
    timeoutMs: config.forwardTimeoutMs,
    tls,
    peerHeaders: peerCredentialHeaders(config.clusterSecret),
  });
  draining.onBegin(() => forwarder.abortInFlight());
  app.addHook('onClose', async () => forwarder.close());

  await app.register(raftRoutes, {
    clusterId: config.clusterId,
    nodeId: config.nodeId,
    // Refuse only senders whose removal is committed and applied here (peer-admission.ts).
    admit: (id: NodeId) => node.admitPeer(id),
    onSenderUrl: (id: NodeId, url: string) => node.noteSenderUrl(id, url),
    onMessages: opts.onRaftMessages,
    bodyLimitBytes: config.raftBodyLimitBytes,
  });
  await app.register(clusterRoutes, { node, forwarder });
  if (opts.consistency !== undefined)
    await app.register(consistencyRoutes, { ...opts.consistency, registry: opts.metrics.registry, logger: opts.logger, tls });
  if (opts.backup !== undefined) await app.register(snapshotRoutes, { ...opts.backup, nodeId: config.nodeId, clusterId: config.clusterId });
  await app.register(healthRoutes, {
    node,
    readyLagEntriesMax: config.readyLagEntriesMax,
    ...(opts.wedged === undefined ? {} : { wedged: opts.wedged }),
  });
  await app.register(metricsRoutes, { registry: opts.metrics.registry });
  if (opts.kv !== undefined)
    await app.register(kvRoutes, { node, kv: opts.kv, forwarder, staleFollowerReads: opts.staleFollowerReads ?? false });
  if (opts.txPlugin !== undefined) await app.register(opts.txPlugin, { forwarder });
  await app.register(dashboardRoutes, {
    node,
    lagEntriesMax: config.readyLagEntriesMax,
    assets,
    tls,
    ...(opts.txTable === undefined ? {} : { txTable: opts.txTable }),
    ...(opts.dashboard === undefined ? {} : { tuning: opts.dashboard }),
  });
  await app.register(openApiRoutes, { assets, openApi });
  return app;
}

/**
 * With mutual TLS the server asks every client for a certificate but lets those
 * without one in: the client API stays open to them, and the auth hook requires a
 * verified certificate naming the sender on peer routes (and on admin routes
 * when there is no cluster secret).
 */
function httpsOptions(tls: TlsMaterial): { key: Buffer; cert: Buffer; ca?: Buffer; requestCert: boolean; rejectUnauthorized: boolean } {
  return { key: tls.key, cert: tls.cert, ...(tls.ca === null ? {} : { ca: tls.ca }), requestCert: tls.mutual, rejectUnauthorized: false };
}
