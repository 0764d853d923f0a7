// startNode(): wire one node process together and listen.
//   storage (LevelDB) -> state machine (tx or kv) -> RaftNode -> HTTP transport
//   -> tx service -> fastify app -> listen -> start ticking.
// stop() closes in the reverse order of dependency: tx service, Raft node,
// transport, HTTP app, storage.
import { mkdirSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../http/app.js';
import { createLogger, type Logger } from '../logger.js';
import { createMetrics, type Metrics } from '../metrics.js';
import type { StateMachine } from '../raft/state-machine.js';
import type { RaftStorage } from '../storage/raft-storage.js';
import { LevelRaftStorage } from '../storage/leveldb-storage.js';
import { HttpTransport } from '../transport/http-transport.js';
import { createTxService } from '../tx/service.js';
import { createTxStateMachine } from '../tx/state-machine.js';
import type { NodeConfig } from './config.js';
import { createKvStateMachine } from './kv-state-machine.js';
import { RaftNode } from './raft-node.js';

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
}

export async function startNode(config: NodeConfig, opts: StartNodeOptions = {}): Promise<RunningNode> {
  let raftNode: RaftNode | null = null;
  const logger = opts.logger ?? createLogger({ level: config.logLevel, nodeId: config.id, term: () => raftNode?.term });
  mkdirSync(config.dataDir, { recursive: true });
  const parts: Parts = { storage: await LevelRaftStorage.open(config.dataDir), transport: null, node: null, tx: null, app: null };
  try {
    const metrics = createMetrics({ processMetrics: opts.processMetrics ?? true, nodeId: config.id });
    const kv = config.stateMachine === 'kv' ? createKvStateMachine() : null;
    const txStateMachine = kv === null ? createTxStateMachine(config.tx) : null;
    const stateMachine: StateMachine = kv ?? txStateMachine!;
    const transport = new HttpTransport({
      nodeId: config.id,
      clusterId: config.clusterId,
      secret: config.clusterSecret,
      members: config.peers,
      maxQueuedMessagesPerPeer: config.maxQueuedMessagesPerPeer,
      maxInflightRequestsPerPeer: config.maxInflightRequestsPerPeer,
      requestTimeoutMs: config.peerRequestTimeoutMs,
      // Every node runs with the same limits: an envelope never exceeds what a peer accepts.
      maxEnvelopeBytes: config.raftBodyLimitBytes,
      logger,
    });
    parts.transport = transport;
    const node = await RaftNode.open({
      config,
      storage: parts.storage,
      transport,
      stateMachine,
      logger,
      metrics: metrics.raft,
      ...(opts.onFatal === undefined ? {} : { onFatal: opts.onFatal }),
    });
    raftNode = parts.node = node;
    if (txStateMachine !== null) {
      parts.tx = createTxService({ log: node, stateMachine: txStateMachine, config: config.tx, logger, metrics: metrics.registry });
    }
    const app = await buildApp({
      config: {
        nodeId: config.id,
        clusterId: config.clusterId,
        clusterSecret: config.clusterSecret,
        bodyLimitBytes: config.bodyLimitBytes,
        raftBodyLimitBytes: config.raftBodyLimitBytes,
        readyLagEntriesMax: config.readyLagEntriesMax,
        forwardTimeoutMs: config.proposalTimeoutMs * 2,
      },
      node,
      logger,
      metrics,
      onRaftMessages: (messages) => node.receive(messages),
      ...(kv === null ? {} : { kv }),
      ...(parts.tx === null ? {} : { txPlugin: parts.tx.plugin }),
    });
    parts.app = app;
    await app.listen({ host: config.listen.host, port: config.listen.port });
    node.start();
    await parts.tx?.start();
    logger.info({ listen: config.listen, peers: config.peers, stateMachine: config.stateMachine }, 'ratify node started');
    let stopping: Promise<void> | null = null;
    return {
      config,
      node,
      app,
      logger,
      metrics,
      stop: () => (stopping ??= stopParts(parts, logger).then(() => logger.info('ratify node stopped'))),
    };
  } catch (err) {
    await stopParts(parts, logger);
    throw err;
  }
}

interface Parts {
  readonly storage: RaftStorage;
  transport: HttpTransport | null;
  node: RaftNode | null;
  tx: ReturnType<typeof createTxService> | null;
  app: FastifyInstance | null;
}

/** Stop order: no new tx work, then no Raft activity, then no traffic, and the disk last. */
async function stopParts(p: Parts, logger: Logger): Promise<void> {
  const steps: [string, (() => unknown) | null][] = [
    ['tx service', p.tx && (() => p.tx?.stop())],
    ['raft node', p.node && (() => p.node?.stop())],
    ['transport', p.transport && (() => p.transport?.close())],
    ['http app', p.app && (() => p.app?.close())],
    ['storage', () => p.storage.close()],
  ];
  for (const [what, step] of steps) {
    if (step === null) continue;
    try {
      await step();
    } catch (err) {
      logger.warn({ err }, `error while stopping the ${what}`);
    }
  }
}

/** SIGTERM/SIGINT -> graceful stop, then `exit(0)`; a second signal exits at once. */
export function installSignalHandlers(running: RunningNode, exit: (code: number) => void): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      exit(1);
      return;
    }
    stopping = true;
    running.logger.info({ signal }, 'stopping');
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
