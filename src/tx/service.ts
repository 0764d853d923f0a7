// Wires the coordinator together for the node: driver (leader only), the
// operations behind the API, forwarding, and the fastify plugin.
import type pino from 'pino';
import type { Registry } from 'prom-client';
import { clusterCaller, replicateIncarnation, type IncarnatedStateMachine } from '../node/cluster-incarnation.js';
import type { ReplicatedLog } from '../node/replicated-log.js';
import { validateTxConfig, type TxConfig } from './config.js';
import { TxDriver } from './driver.js';
import type { RunDeps } from './protocol-run.js';
import { createTxMetrics } from './metrics.js';
import { TxOperations } from './operations.js';
import { createHttpParticipantClient, type ParticipantClient } from './participant-client.js';
import type { ParticipantKeys } from './participant-keys.js';
import { ParticipantUrlPolicy, type HostPort } from './participant-url-policy.js';
import { createTxRoutes } from './routes.js';
import { StuckOperations } from './stuck-operations.js';
import type { TxService, TxStateMachine } from './types.js';
import { TxWaiters } from './waiters.js';
import { callObserver, instrumentParticipantClient } from './instrumented-client.js';
import { ParticipantAttempts } from './participant-attempts.js';

export interface TxServiceOptions {
  readonly log: ReplicatedLog;
  readonly stateMachine: TxStateMachine;
  readonly config: TxConfig;
  readonly logger: pino.Logger;
  readonly metrics: Registry;
  /** Tests inject a recording or failing client; by default undici over HTTP. */
  readonly participantClient?: ParticipantClient;
  /** Injected time and randomness (simulation); default Date.now and Math.random. */
  readonly now?: () => number;
  readonly random?: () => number;
  /** Where this node listens: the participant URL policy refuses it, and allows loopback participants only when it is loopback. */
  readonly listen: HostPort;
  /** A client-role principal sees only its own transactions; the node turns it on by default once tokens are set. Default false. */
  readonly ownTransactionsOnly?: boolean;
  /**
   * The cluster participant calls name: its id and the replicated incarnation
   * (the leader makes one when there is none). Absent: calls carry no fence
   * headers and are never signed (tests with a fake log).
   */
  readonly cluster?: { readonly clusterId: string; readonly incarnation: IncarnatedStateMachine };
  /** Keys that sign participant calls (needs `cluster`). */
  readonly participantKeys?: ParticipantKeys;
  /** Overrides of the completion queue's bounds (completion-queue.ts); tests set them. */
  readonly completionQueue?: RunDeps['completionQueue'];
}

export function createTxService(opts: TxServiceOptions): TxService {
  const { log, stateMachine: sm, config } = opts;
  validateTxConfig(config);
  const logger = opts.logger.child({ component: 'tx' });
  const now = opts.now ?? Date.now;
  const metrics = createTxMetrics(opts.metrics, {
    inFlight: () => sm.activeCount(),
    // Only the leader drives phase 2, so only it reports failing participants (no double counting across nodes).
    failingParticipants: () => (driver.leadingTerm() === null ? 0 : sm.failingParticipantCount()),
    stats: () => sm.stats(),
    now,
  });
  const attempts = new ParticipantAttempts(config.maxActiveTransactions);
  const unsubscribe = sm.onTransition((tx) => {
    // Timed once per transaction, by the leader that applies it (not once per replica).
    if (driver.leadingTerm() !== null) metrics.transition(tx, now());
    if (tx.state === 'committed' || tx.state === 'aborted') attempts.forget(tx.id);
  });
  const urlPolicy = new ParticipantUrlPolicy({
    allowlist: config.participantHostAllowlist,
    listen: opts.listen,
    memberUrls: () => log.status().members.map((m) => m.url),
  });
  // Every call is timed and counted as an attempt: by the HTTP client itself, or around an injected one.
  const observer = callObserver({ metrics, attempts, now });
  const client =
    opts.participantClient === undefined
      ? createHttpParticipantClient({
          connectionsPerOrigin: config.participantConnectionsPerOrigin,
          batchCallsMax: config.participantBatchCallsMax,
          onRequest: (shape, calls) => metrics.participantRequest(shape, calls),
          urlPolicy,
          logger,
          observer,
          ...(opts.cluster === undefined ? {} : { caller: clusterCaller(opts.cluster.clusterId, opts.cluster.incarnation) }),
          ...(opts.participantKeys === undefined ? {} : { keys: opts.participantKeys }),
        })
      : instrumentParticipantClient(opts.participantClient, observer);
  const driver = new TxDriver({
    log,
    sm,
    config,
    client,
    logger,
    metrics,
    now,
    random: opts.random ?? Math.random,
    attempts,
    ...(opts.completionQueue && { completionQueue: opts.completionQueue }),
  });
  const waiters = new TxWaiters(sm);
  const ops = new TxOperations({ log, sm, config, driver, waiters, metrics, now, urlPolicy });
  const stuck = new StuckOperations({ log, sm, config, driver, logger, now });
  let stopped = false;
  let stopReplicating = (): void => undefined;
  return {
    plugin: createTxRoutes({
      ops,
      stuck,
      log,
      config,
      leadingTerm: () => driver.leadingTerm(),
      ownTransactionsOnly: opts.ownTransactionsOnly ?? false,
      attemptsOf: (txId) => attempts.of(txId, driver.leadingTerm()),
    }),
    start: () => {
      const cluster = opts.cluster;
      if (cluster !== undefined) {
        stopReplicating = replicateIncarnation(log, cluster.incarnation, (e) =>
          logger.warn({ err: e }, 'replicating the cluster incarnation failed; will retry'),
        );
      }
      driver.start();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      unsubscribe();
      stopReplicating();
      waiters.close();
      await driver.stop();
      await client.close();
    },
  };
}
