// startNode(): wire one node process together and listen.
//   storage (LevelDB) -> state machine (tx or kv) -> RaftNode -> HTTP transport
//   -> tx service -> fastify app -> listen -> start ticking.
// stop() drains client HTTP first (new requests get SHUTTING_DOWN), then closes in
// the reverse order of dependency: tx service, Raft node, transport, HTTP app,
// storage. Every step gets a share of shutdownTimeoutMs, so a stop never waits on a
// client, a participant or a peer for longer than that.
import { mkdirSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../http/app.js';
import { Draining } from '../http/draining.js';
import { colorLogs, prettyLogs, type LogFormat, type PrettyOptions } from '../log-format.js';
import { createLogger, type Logger } from '../logger.js';
import { createMetrics, registerTransportMetrics, type Metrics } from '../metrics.js';
import type { StateMachine } from '../raft/state-machine.js';
import type { RaftStorage } from '../storage/raft-storage.js';
import { LevelRaftStorage } from '../storage/leveldb-storage.js';
import { HttpTransport } from '../transport/http-transport.js';
import { createTxService } from '../tx/service.js';
import { createTxStateMachine } from '../tx/state-machine.js';
import type { NodeConfig } from './config.js';
import { effectiveConfig } from './effective-config.js';
import { IncarnatedStateMachine } from './cluster-incarnation.js';
import { createKvStateMachine } from '../kv/state-machine.js';
import { RaftNode } from './raft-node.js';
import { ReplicationMetrics } from './replication-metrics.js';
import { WatchedStorage, wedgedReason } from './liveness.js';
import { stallableStorage } from './stall-switch.js';
import { StateDigests } from './state-digests.js';
import { loseFirstApply, readTestSwitches } from './test-switches.js';
import { loadTlsMaterial } from './tls-files.js';
import { securityNotes } from './security-warnings.js';

export interface RunningNode {
  readonly config: NodeConfig;
  readonly node: RaftNode;
  readonly app: FastifyInstance;
  readonly logger: Logger;
  readonly metrics: Metrics;
  stop(): Promise<void>;
}

export interface StartNodeOptions {
  /** Called after the node logged a fatal error (a bug or a failed disk write). The CLI exits the process. */
  readonly onFatal?: (err: unknown) => void;
  /** Tests running several nodes in one process turn process metrics off. */
  readonly processMetrics?: boolean;
  readonly logger?: Logger;
  /** Where test switches (test-switches.ts) are read from; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

/** Readable log lines when stdout is a terminal (or --log-format pretty); JSON lines otherwise. */
function stdoutFormat(format: LogFormat): { pretty?: PrettyOptions } {
  const terminal = process.stdout.isTTY === true;
  return prettyLogs(format, terminal) ? { pretty: { color: colorLogs(terminal) } } : {};
}

export async function startNode(config: NodeConfig, opts: StartNodeOptions = {}): Promise<RunningNode> {
  let raftNode: RaftNode | null = null;
  const logger =
    opts.logger ??
    createLogger({ level: config.logLevel, nodeId: config.id, term: () => raftNode?.term, ...stdoutFormat(config.logFormat) });
  logger.info(
    { config: effectiveConfig(config) },
    'effective configuration (flags > RATIFY_* env > config file > defaults; secrets redacted)',
  );
  const tls = loadTlsMaterial(config);
  mkdirSync(config.dataDir, { recursive: true });
  const parts: Parts = {
    storage: await LevelRaftStorage.open(config.dataDir),
    draining: new Draining(),
    transport: null,
    node: null,
    tx: null,
    app: null,
  };
  try {
    const metrics = createMetrics({ processMetrics: opts.processMetrics ?? true, nodeId: config.id });
    const kv = config.stateMachine === 'kv' ? createKvStateMachine() : null;
    const tests = readTestSwitches(opts.env ?? process.env);
    for (const w of tests.warnings) logger.warn(w);
    const txStateMachine = kv === null ? createTxStateMachine(config.tx) : null;
    // The tx state machine with the cluster's incarnation around it (participants fence per incarnation).
    const incarnated = txStateMachine === null ? null : new IncarnatedStateMachine(txStateMachine);
    const applied: StateMachine = kv ?? incarnated!;
    const stateMachine: StateMachine = tests.switches.loseApply ? loseFirstApply(applied) : applied;
    const transport = new HttpTransport({
      nodeId: config.id,
      clusterId: config.clusterId,
      secret: config.clusterSecret,
      tls,
      members: config.peers,
      maxQueuedMessagesPerPeer: config.maxQueuedMessagesPerPeer,
      maxInflightRequestsPerPeer: config.maxInflightRequestsPerPeer,
      requestTimeoutMs: config.peerRequestTimeoutMs,
      streams: config.raftStreams,
      // Every node runs with the same limits: an envelope never exceeds what a peer accepts.
      maxEnvelopeBytes: config.raftBodyLimitBytes,
      logger,
      onRemovedByPeer: (notice) => raftNode?.onRemovedByPeer(notice),
    });
    parts.transport = transport;
    registerTransportMetrics(metrics.registry, () => transport.counters());
    const replication = new ReplicationMetrics(metrics.registry, () => raftNode?.coreStatus() ?? null);
    const stallFile = tests.switches.stallStorageFile;
    const watched = new WatchedStorage(stallFile === null ? parts.storage : stallableStorage(parts.storage, stallFile));
    const node = await RaftNode.open({
      config,
      storage: watched,
      transport: replication.wrap(transport),
      stateMachine,
      logger,
      metrics: metrics.raft,
      digests: new StateDigests(config.consistencyIntervalEntries),
      ...(opts.onFatal === undefined ? {} : { onFatal: opts.onFatal }),
    });
    raftNode = parts.node = node;
    if (txStateMachine !== null) {
      parts.tx = createTxService({
        log: node,
        stateMachine: txStateMachine,
        config: config.tx,
        logger,
        metrics: metrics.registry,
        listen: config.listen,
        // On by default once there are principals to tell apart.
        ownTransactionsOnly: config.ownTransactionsOnly ?? config.clientTokens.enabled,
        cluster: { clusterId: config.clusterId, incarnation: incarnated! },
        ...(config.participantKeys === undefined ? {} : { participantKeys: config.participantKeys }),
      });
    }
    const app = await buildApp({
      config: {
        nodeId: config.id,
        clusterId: config.clusterId,
        clusterSecret: config.clusterSecret,
        tls,
        bodyLimitBytes: config.bodyLimitBytes,
        raftBodyLimitBytes: config.raftBodyLimitBytes,
        readyLagEntriesMax: config.readyLagEntriesMax,
        forwardTimeoutMs: config.proposalTimeoutMs * 2,
        jsonDepthMax: config.jsonDepthMax,
      },
      clientTokens: config.clientTokens,
      node,
      logger,
      metrics,
      onRaftMessages: (messages) => {
        replication.received(messages);
        node.receive(messages);
      },
      ...(kv === null ? {} : { kv, staleFollowerReads: tests.switches.staleFollowerReads }),
      ...(parts.tx === null ? {} : { txPlugin: parts.tx.plugin }),
      ...(txStateMachine === null ? {} : { txTable: txStateMachine }),
      ...(incarnated === null ? {} : { incarnation: () => incarnated.incarnation() }),
      draining: parts.draining,
      wedged: () =>
        wedgedReason(
          { loopStalledSince: () => node.loopStalledSince(), oldestWriteStartedAt: () => watched.oldestWriteStartedAt() },
          config.healthStallMs,
        ),
      consistency: { node, intervalEntries: config.consistencyIntervalEntries, checkMs: config.consistencyCheckMs },
      backup: { source: node, stateMachine: config.stateMachine, bytesMax: config.snapshotBytesMax },
    });
    parts.app = app;
    await app.listen({ host: config.listen.host, port: config.listen.port });
    node.start();
    await parts.tx?.start();
    const security = {
      tls: tls === null ? 'off' : tls.mutual ? 'mutual' : 'server',
      clusterSecret: config.clusterSecret === null ? 'none' : 'set',
    };
    logger.info({ listen: config.listen, peers: config.peers, stateMachine: config.stateMachine, ...security }, 'ratify node started');
    const notes = securityNotes(config);
    if (Object.keys(notes.info).length > 0) logger.info(notes.info, 'client API tokens loaded');
    for (const warning of notes.warnings) logger.warn(warning);
    let stopping: Promise<void> | null = null;
    return {
      config,
      node,
      app,
      logger,
      metrics,
      stop: () => (stopping ??= stopParts(parts, logger, config.shutdownTimeoutMs).then(() => logger.info('ratify node stopped'))),
    };
  } catch (err) {
    await stopParts(parts, logger, config.shutdownTimeoutMs);
    throw err;
  }
}

interface Parts {
  readonly storage: RaftStorage;
  readonly draining: Draining;
  transport: HttpTransport | null;
  node: RaftNode | null;
  tx: ReturnType<typeof createTxService> | null;
  app: FastifyInstance | null;
}

/**
 * Stop order: no new client work, no tx work, no Raft activity, no traffic, and the
 * disk last. Each step may run until its share of the bound has passed: tx until 45%
 * (its driver gives runs up to 2 s), Raft node 60%, transport 65%, HTTP 90%, storage
 * the rest. So one step that hangs cannot starve the ones after it. A step that overruns
 * its share is left behind, logged: what it guards is durable already (Raft persists
 * before it acknowledges), and waiting on it is what made stops hang.
 */
async function stopParts(p: Parts, logger: Logger, shutdownTimeoutMs: number): Promise<void> {
  const t0 = performance.now();
  const until = (share: number): number => t0 + share * shutdownTimeoutMs;
  p.draining.begin();
  await bounded(logger, 'tx service', p.tx && (() => p.tx?.stop()), until(0.45));
  await bounded(logger, 'raft node', p.node && (() => p.node?.stop()), until(0.6));
  await bounded(logger, 'transport', p.transport && (() => p.transport?.close()), until(0.65));
  if (p.app !== null) await closeApp(p.app, p.draining, logger, until(0.9));
  await bounded(logger, 'storage', () => p.storage.close(), until(1));
}

/** Whatever still waits now waits on something that stopped: answer it, then close; cut connections if that hangs. */
async function closeApp(app: FastifyInstance, draining: Draining, logger: Logger, deadline: number): Promise<void> {
  const answered = draining.answerPending();
  if (answered > 0) logger.info({ answered }, 'answered requests still open with SHUTTING_DOWN');
  const closed = app.close();
  const graceEnd = performance.now() + Math.max(0, (deadline - performance.now()) / 2);
  if (await bounded(logger, 'http app', () => closed, graceEnd, false)) return;
  // Connections a client holds open (keep-alive, a request still being read) keep close() waiting.
  app.server.closeAllConnections();
  await bounded(logger, 'http app', () => closed, deadline);
}

/** Runs `step` until `deadline` (a performance.now() time). True if it finished in time; errors are logged. */
async function bounded(
  logger: Logger,
  what: string,
  step: (() => unknown) | null,
  deadline: number,
  warnOnTimeout = true,
): Promise<boolean> {
  if (step === null) return true;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - performance.now()));
  });
  try {
    const result = await Promise.race([Promise.resolve().then(step), timedOut]);
    if (result !== 'timeout') return true;
    if (warnOnTimeout) logger.warn(`the ${what} did not stop within its share of shutdownTimeoutMs; leaving it behind`);
    return false;
  } catch (err) {
    logger.warn({ err }, `error while stopping the ${what}`);
    return true;
  } finally {
    clearTimeout(timer);
  }
}

const BACKSTOP_SLACK_MS = 2000;

/**
 * SIGTERM/SIGINT -> graceful stop (bounded by shutdownTimeoutMs), then `exit(0)`.
 * A second signal exits at once with 1, and so does a stop that overruns its bound
 * (a bug: every step of it is bounded).
 */
export function installSignalHandlers(running: RunningNode, exit: (code: number) => void): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      exit(1);
      return;
    }
    stopping = true;
    running.logger.info({ signal, shutdownTimeoutMs: running.config.shutdownTimeoutMs }, 'stopping');
    const backstop = setTimeout(() => {
      running.logger.error('graceful stop overran shutdownTimeoutMs; exiting');
      exit(1);
    }, running.config.shutdownTimeoutMs + BACKSTOP_SLACK_MS);
    backstop.unref();
    running.stop().then(
      () => exit(0),
      (err: unknown) => {
        running.logger.error({ err }, 'graceful stop failed');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
