// The dashboard: the page at GET / and its scripts at GET /assets/{name}, and the
// JSON it reads beyond GET /v1/cluster and the transaction API:
//   GET /v1/cluster/nodes  every member's own status, lag and health (cluster-survey.ts)
//   GET /v1/stats          the last minutes in fixed windows (activity-series.ts)
//   GET /v1/activity       in flight, stuck, failing, recent outcomes (tx-activity.ts)
// All public and read-only, all answered by the node asked from what it has
// applied (no leader needed: the page must work during an election).
// /v1/activity exists only on nodes that run the transaction state machine.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { ActivitySeries } from './activity-series.js';
import { PUBLIC, READER } from './auth.js';
import type { TlsMaterial } from '../transport/peer-tls.js';
import type { ClusterNode } from './cluster-node.js';
import { ClusterSurvey, type Prober } from './cluster-survey.js';
import { activitySchema, pageSchema, statsSchema, surveySchema } from './dashboard-schemas.js';
import { DecisionFeed, type TxTableReader } from './decision-feed.js';
import { ASSET_NAME_PATTERN, type AssetStore, sendAsset } from './static-assets.js';
import { txActivity } from './tx-activity.js';

/** Knobs with production defaults; tests shorten them or inject fakes. */
export interface DashboardTuning {
  /** Window of the stats series; the page's charts have one point per window. */
  readonly intervalMs?: number;
  /** Windows kept: 300 one-second windows are the last five minutes. */
  readonly windowsMax?: number;
  /** Bound on asking one member for its status; the page refreshes every 2 s. */
  readonly probeTimeoutMs?: number;
  readonly prober?: Prober;
  readonly now?: () => number;
}

export interface DashboardRoutesOptions {
  readonly node: ClusterNode;
  /** The replicated transaction table, on nodes that run the coordinator. */
  readonly txTable?: TxTableReader;
  readonly lagEntriesMax: number;
  readonly assets: AssetStore;
  /** The node's TLS material: the survey asks its peers over https with the same trust. */
  readonly tls?: TlsMaterial | null;
  readonly tuning?: DashboardTuning;
}

export const DASHBOARD_DEFAULTS = { intervalMs: 1000, windowsMax: 300, probeTimeoutMs: 1000 } as const;

/** Ids of recent decisions kept for the page's list of recent outcomes (the API's limit is below it). */
const RECENT_DECISIONS_MAX = 500;
/** The top of maxActiveTransactions' range: a valid table never holds more undecided transactions. */
const TRACKED_UNDECIDED_MAX = 1_000_000;

export const dashboardRoutes: FastifyPluginAsync<DashboardRoutesOptions> = async (app, opts) => {
  const { node, txTable, assets } = opts;
  const tuning = { ...DASHBOARD_DEFAULTS, ...opts.tuning };
  const now = tuning.now ?? Date.now;
  const page = assets.require('dashboard.html');

  const series = new ActivitySeries({ intervalMs: tuning.intervalMs, windowsMax: tuning.windowsMax });
  const feed =
    txTable === undefined
      ? null
      : new DecisionFeed({ table: txTable, series, recentMax: RECENT_DECISIONS_MAX, trackedMax: TRACKED_UNDECIDED_MAX, now });
  const sampleRaft = (): void => {
    feed?.flush();
    const s = node.status();
    series.recordRaft({ term: s.term, leaderId: s.leaderId, commitIndex: s.commitIndex, appliedIndex: s.appliedIndex }, now());
  };
  sampleRaft();
  const ticker = setInterval(sampleRaft, tuning.intervalMs).unref();
  const survey = new ClusterSurvey({
    node,
    lagEntriesMax: opts.lagEntriesMax,
    probeTimeoutMs: tuning.probeTimeoutMs,
    tls: opts.tls ?? null,
    ...(tuning.prober === undefined ? {} : { prober: tuning.prober }),
    now,
  });
  app.addHook('onClose', async () => {
    clearInterval(ticker);
    feed?.close();
    await survey.close();
  });

  app.get('/', { config: PUBLIC, schema: pageSchema }, async (req, reply) => sendAsset(req, reply, page));
  app.get<{ Params: { name: string } }>(
    '/assets/:name',
    {
      config: PUBLIC,
      schema: {
        params: {
          type: 'object',
          required: ['name'],
          properties: { name: { type: 'string', maxLength: 64, pattern: ASSET_NAME_PATTERN } },
        },
      },
    },
    async (req, reply): Promise<FastifyReply> => sendAsset(req, reply, assets.script(req.params.name)),
  );

  app.get('/v1/cluster/nodes', { config: READER, schema: surveySchema }, async (req) => survey.survey(req.headers.authorization ?? null));

  app.get('/v1/stats', { config: READER, schema: statsSchema }, async () => {
    feed?.flush();
    const at = now();
    return { nodeId: node.nodeId, atMs: at, intervalMs: series.intervalMs, windowsMax: series.windowsMax, samples: series.samples(at) };
  });

  if (txTable !== undefined && feed !== null) {
    app.get<{ Querystring: { stuckAfterMs: number; limit: number } }>(
      '/v1/activity',
      { config: READER, schema: activitySchema },
      async (req) => {
        feed.flush();
        const appliedIndex = node.status().appliedIndex;
        const activity = txActivity(txTable, feed.recentIds(), {
          nowMs: now(),
          stuckAfterMs: req.query.stuckAfterMs,
          limit: req.query.limit,
        });
        return { nodeId: node.nodeId, appliedIndex, ...activity };
      },
    );
  }
};
