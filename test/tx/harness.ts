// Builds coordinator nodes on a FakeCluster for tests: each node is a fastify
// app with the transaction plugin, its own state machine and driver.
import { waitUntil } from '../helpers/wait.js';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { peerCredentialHeaders } from '../../src/http/auth.js';
import { installEdge } from '../../src/http/edge.js';
import { LeaderForwarder } from '../../src/http/leader-forward.js';
import type { ClientTokens } from '../../src/http/tokens.js';
import { Registry } from 'prom-client';
import { txConfigDefaults, type TxConfig } from '../../src/tx/config.js';
import { createTxService, type TxServiceOptions } from '../../src/tx/service.js';
import { createTxStateMachine } from '../../src/tx/state-machine.js';
import type { TxService, TxStateMachine, TxView } from '../../src/tx/types.js';
import type { ParticipantClient } from '../../src/tx/participant-client.js';
import { ParticipantUrlPolicy, type HostPort } from '../../src/tx/participant-url-policy.js';
import { FakeCluster, type FakeReplicatedLog } from './fake-log.js';

/** Short timings so failure paths finish fast; only loopback participants. */
export const testTxConfig: TxConfig = {
  ...txConfigDefaults,
  defaultTimeoutMs: 10_000,
  prepareCallTimeoutMs: 1_000,
  prepareRetryDelayMs: 10,
  phase2CallTimeoutMs: 1_000,
  phase2BackoffBaseMs: 5,
  phase2BackoffCapMs: 50,
  participantFailingThreshold: 3,
  sweepIntervalMs: 20,
  gcIntervalMs: 50,
  decisionWaitSlackMs: 5_000,
  participantHostAllowlist: ['127.0.0.1'],
};

export interface TestNode {
  readonly id: string;
  readonly app: FastifyInstance;
  readonly sm: TxStateMachine;
  readonly log: FakeReplicatedLog;
  readonly service: TxService;
  readonly registry: Registry;
  /** Base URL once listen() was called. */
  url: string;
  listen(): Promise<string>;
  close(): Promise<void>;
}

export interface NodeOptions {
  readonly config?: Partial<TxConfig>;
  readonly participantClient?: ParticipantClient;
  readonly now?: () => number;
  /** Client API tokens for the node's edge; none leaves the API open. */
  readonly clientTokens?: ClientTokens;
  readonly ownTransactionsOnly?: boolean;
  /** The cluster secret of the node's edge (peer checks, forwarded marks); default none. */
  readonly clusterSecret?: string;
  /** The HTTP app's logger (audit lines); default none. */
  readonly appLogger?: pino.Logger;
  /** Where the node says it listens (participant URL policy); default 127.0.0.1, so loopback participants are allowed. */
  readonly listen?: HostPort;
  /** The completion queue's bounds (src/tx/completion-queue.ts); default COMPLETION_QUEUE_DEFAULTS. */
  readonly completionQueue?: TxServiceOptions['completionQueue'];
}

export async function startNode(cluster: FakeCluster, id: string, opts: NodeOptions = {}): Promise<TestNode> {
  const config = { ...testTxConfig, ...opts.config };
  const sm = createTxStateMachine(config);
  const log = cluster.addNode(id, sm);
  const registry = new Registry();
  const service = createTxService({
    log,
    stateMachine: sm,
    config,
    logger: pino({ level: process.env.TX_TEST_LOG ?? 'silent' }),
    metrics: registry,
    ...(opts.participantClient && { participantClient: opts.participantClient }),
    ...(opts.now && { now: opts.now }),
    ...(opts.ownTransactionsOnly !== undefined && { ownTransactionsOnly: opts.ownTransactionsOnly }),
    ...(opts.completionQueue && { completionQueue: opts.completionQueue }),
    listen: opts.listen ?? { host: '127.0.0.1', port: 0 },
  });
  const app = (opts.appLogger === undefined
    ? Fastify({ logger: false, forceCloseConnections: true })
    : Fastify({ loggerInstance: opts.appLogger, forceCloseConnections: true })) as unknown as FastifyInstance;
  // The same edge as the node's app (src/http/app.ts): error handler, strict validation, JSON bodies, auth, audit.
  const clusterSecret = opts.clusterSecret ?? null;
  installEdge(app, {
    clusterSecret,
    clusterId: 'ratify',
    nodeId: 'n1',
    isMember: (member) => cluster.nodes.has(member),
    ...(opts.clientTokens && { clientTokens: opts.clientTokens }),
  });
  const forwarder = new LeaderForwarder({
    nodeId: id,
    timeoutMs: config.forwardTimeoutMs,
    peerHeaders: peerCredentialHeaders(clusterSecret),
  });
  app.addHook('onClose', () => forwarder.close());
  await app.register(service.plugin, { forwarder });
  await app.ready();
  service.start();
  let closed = false;
  const node: TestNode = {
    id,
    app,
    sm,
    log,
    service,
    registry,
    url: '',
    async listen() {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const address = app.server.address();
      if (address === null || typeof address === 'string') throw new Error('no TCP address');
      node.url = `http://127.0.0.1:${address.port}`;
      log.url = node.url;
      return node.url;
    },
    async close() {
      if (closed) return;
      closed = true;
      await service.stop();
      await app.close();
    },
  };
  return node;
}

/** A one-node cluster whose node leads term 1. */
export async function startLeader(opts: NodeOptions = {}): Promise<{ cluster: FakeCluster; node: TestNode }> {
  const cluster = new FakeCluster();
  const node = await startNode(cluster, 'n1', opts);
  cluster.elect('n1');
  return { cluster, node };
}

/** Polls until `check` returns a value other than undefined/false; bounded, never timing-asserting. */
export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  return waitUntil(check, { what, timeoutMs, intervalMs: 10 });
}

export async function getView(node: TestNode, id: string): Promise<TxView> {
  const res = await node.app.inject({ method: 'GET', url: `/v1/transactions/${id}` });
  if (res.statusCode !== 200) throw new Error(`GET ${id}: ${res.statusCode} ${res.body}`);
  return res.json<TxView>();
}

export function participant(name: string, url: string, payload?: unknown): { name: string; url: string; payload?: unknown } {
  return payload === undefined ? { name, url } : { name, url, payload };
}

/** The URL policy of a node on loopback with no allowlist, for tests of the participant client. */
export function loopbackUrlPolicy(memberUrls: readonly string[] = []): ParticipantUrlPolicy {
  return new ParticipantUrlPolicy({ allowlist: [], listen: { host: '127.0.0.1', port: 0 }, memberUrls: () => memberUrls });
}
