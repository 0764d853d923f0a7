// cluster/grafana/ratify-dashboard.json against a live node: every PromQL
// expression in it parses (Prometheus's own lezer grammar), and every ratify_*
// metric it selects is one a running node exposes on /metrics. A renamed metric
// or a typo in the dashboard fails here instead of showing an empty panel.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { resolveNodeConfig } from '../../src/node/config.js';
import { startNode, type RunningNode } from '../../src/node/server.js';
import { freePorts } from '../helpers/cluster.js';
import { httpJson } from '../helpers/http.js';
import { waitUntil } from '../helpers/wait.js';

const DASHBOARD = new URL('../../cluster/grafana/ratify-dashboard.json', import.meta.url);

interface Panel {
  readonly title: string;
  readonly targets?: ReadonlyArray<{ readonly expr: string }>;
}

/** Grafana's own variables, as Prometheus would see them after Grafana filled them in. */
function substituteGrafanaVariables(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '1h').replaceAll('$__interval', '15s').replaceAll('$job', '.*');
}

/** The metric names an expression selects; throws on a syntax error. */
function selectedMetrics(expr: string): string[] {
  const text = substituteGrafanaVariables(expr);
  const tree = parser.parse(text);
  const names: string[] = [];
  const errors: number[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(node.from);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') names.push(text.slice(node.from, node.to));
    },
  });
  if (errors.length > 0) throw new Error(`PromQL syntax error at ${errors[0]} in ${text}`);
  return names;
}

/** Families from `# TYPE` lines, with the series names a histogram or summary adds. */
function exposedNames(metricsText: string): Set<string> {
  const out = new Set<string>();
  for (const m of metricsText.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    out.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) out.add(name + s);
  }
  return out;
}

const dataRoot = mkdtempSync(join(tmpdir(), 'ratify-grafana-'));
let running: RunningNode;
let exposed: Set<string>;
const panels = (JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] }).panels;

beforeAll(async () => {
  const [port] = await freePorts(1);
  const url = `http://127.0.0.1:${port}`;
  running = await startNode(
    resolveNodeConfig({ flags: { id: 'g1', peers: `g1=${url}`, dataDir: join(dataRoot, 'g1'), stateMachine: 'tx' } }),
    {
      processMetrics: false,
      logger: silentLogger(),
    },
  );
  await waitUntil(async () => (await httpJson('GET', `${url}/readyz`)).status === 200, { what: 'node ready' });
  exposed = exposedNames((await httpJson<string>('GET', `${url}/metrics`)).body);
});
afterAll(async () => {
  await running?.stop();
  rmSync(dataRoot, { recursive: true, force: true });
});

describe('the Grafana dashboard', () => {
  it('has panels, and every expression parses as PromQL', () => {
    expect(panels.length).toBeGreaterThanOrEqual(10);
    for (const p of panels) {
      expect(p.targets?.length ?? 0, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(() => selectedMetrics(t.expr), `${p.title}: ${t.expr}`).not.toThrow();
    }
    expect(() => selectedMetrics('sum(rate(ratify_raft_term[1m])')).toThrow(/syntax error/);
  });

  it('selects only ratify_* metrics a live node exposes, and uses every metric of issue 16', () => {
    const used = new Set(panels.flatMap((p) => (p.targets ?? []).flatMap((t) => selectedMetrics(t.expr))));
    const missing = [...used].filter((n) => !exposed.has(n));
    expect(missing).toEqual([]);
    expect([...used].every((n) => n.startsWith('ratify_'))).toBe(true);
    for (const name of [
      'ratify_tx_decision_seconds_bucket',
      'ratify_tx_completion_seconds_bucket',
      'ratify_tx_participant_call_seconds_bucket',
      'ratify_tx_oldest_unfinished_age_seconds',
      'ratify_tx_transactions',
      'ratify_raft_replication_lag_entries',
      'ratify_raft_append_rtt_seconds_bucket',
      'ratify_http_requests_rejected_total',
      'ratify_tx_protocol_violations_total',
      'ratify_raft_elections_total',
    ]) {
      expect(used.has(name), name).toBe(true);
    }
    // The check can fail: a name the node does not expose is caught.
    expect(exposed.has('ratify_tx_decision_latency_seconds_bucket')).toBe(false);
  });
});
