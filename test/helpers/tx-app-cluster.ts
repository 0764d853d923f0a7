// Three in-process coordinator nodes, each with the node's whole HTTP app
// (buildApp: transaction API, cluster API, dashboard, OpenAPI) listening on a
// loopback port, so that what crosses between nodes over HTTP (forwarding to the
// leader, the dashboard's survey of the members) really does. Raft itself runs
// over the in-memory network.
//
//   const c = await startTxAppCluster();
//   afterEach(() => c.close());
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.js';
import type { DashboardTuning } from '../../src/http/dashboard-routes.js';
import type { ClientTokens } from '../../src/http/tokens.js';
import { silentLogger } from '../../src/logger.js';
import type { RaftNode } from '../../src/node/raft-node.js';
import { createTxService } from '../../src/tx/service.js';
import { createTxStateMachine } from '../../src/tx/state-machine.js';
import type { TxService, TxStateMachine } from '../../src/tx/types.js';
import { testTxConfig } from '../tx/harness.js';
import { freePorts } from './cluster.js';
import { InProcessCluster } from './in-process-cluster.js';

export interface TxAppNode {
  readonly id: string;
  readonly url: string;
  readonly node: RaftNode;
  readonly app: FastifyInstance;
  readonly service: TxService;
  readonly table: TxStateMachine;
}

export class TxAppCluster {
  readonly nodes = new Map<string, TxAppNode>();
  constructor(readonly raft: InProcessCluster<TxStateMachine>) {}

  get(id: string): TxAppNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`${id} is not running`);
    return n;
  }

  async leader(): Promise<TxAppNode> {
    return this.get((await this.raft.waitForLeader()).nodeId);
  }

  async follower(): Promise<TxAppNode> {
    const leader = await this.leader();
    return [...this.nodes.values()].find((n) => n.id !== leader.id)!;
  }

  /** A crash of one node: its HTTP app and its Raft node stop. */
  async kill(id: string): Promise<void> {
    const n = this.get(id);
    this.nodes.delete(id);
    await n.service.stop();
    await n.app.close();
    await this.raft.stop(id);
  }

  async close(): Promise<void> {
    for (const id of [...this.nodes.keys()]) await this.kill(id);
    await this.raft.stopAll();
  }
}

export async function startTxAppCluster(opts: { dashboard?: DashboardTuning; clientTokens?: ClientTokens } = {}): Promise<TxAppCluster> {
  const ids = ['n1', 'n2', 'n3'];
  const ports = await freePorts(ids.length);
  const urlOf = (id: string): string => `http://127.0.0.1:${ports[ids.indexOf(id)]}`;
  const raft = new InProcessCluster<TxStateMachine>({ ids, createStateMachine: () => createTxStateMachine(testTxConfig), urlOf });
  const cluster = new TxAppCluster(raft);
  try {
    await raft.startAll();
    for (const id of ids) {
      const node = raft.node(id);
      const m = raft.member(id);
      const service = createTxService({
        log: node,
        stateMachine: m.stateMachine,
        config: testTxConfig,
        logger: silentLogger(),
        metrics: m.metrics.registry,
        listen: { host: '127.0.0.1', port: ports[ids.indexOf(id)]! },
      });
      const app = await buildApp({
        config: {
          nodeId: id,
          clusterId: 'ratify',
          clusterSecret: null,
          bodyLimitBytes: 1 << 20,
          raftBodyLimitBytes: 1 << 20,
          readyLagEntriesMax: 64,
          forwardTimeoutMs: 5000,
        },
        node,
        logger: silentLogger(),
        metrics: m.metrics,
        onRaftMessages: (msgs) => node.receive(msgs),
        txPlugin: service.plugin,
        txTable: m.stateMachine,
        // Served as a node serves them (src/node/server.ts), so the OpenAPI document lists them.
        consistency: { node, intervalEntries: 1000, checkMs: 0 },
        backup: { source: node, stateMachine: 'tx', bytesMax: 64 * 1024 * 1024 },
        ...(opts.dashboard === undefined ? {} : { dashboard: opts.dashboard }),
        ...(opts.clientTokens === undefined ? {} : { clientTokens: opts.clientTokens }),
      });
      await app.listen({ host: '127.0.0.1', port: ports[ids.indexOf(id)]! });
      service.start();
      cluster.nodes.set(id, { id, url: urlOf(id), node, app, service, table: m.stateMachine });
    }
    return cluster;
  } catch (err) {
    await cluster.close();
    throw err;
  }
}
