import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Registry } from 'prom-client';
import { ApiMetrics } from '../api/metrics/api-metrics.js';
import { createLogger } from '../shared/logger.js';
import { WorkerMetrics } from '../worker/worker-metrics.js';
import { REPO_ROOT } from './support/processes.js';

const DASHBOARD = path.join(REPO_ROOT, 'deploy', 'grafana', 'gateway-dashboard.json');

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { refId: string; expr: string; datasource?: { uid: string } }[];
}

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/** The series names Prometheus stores for each metric of a registry: a histogram is its _bucket, _sum and _count. */
async function seriesOf(registry: Registry): Promise<Set<string>> {
  const names = new Set<string>();
  for (const metric of await registry.getMetricsAsJSON()) {
    // prom-client's typings call it an enum; at run time it is the text of the exposition format.
    const type = metric.type as unknown as string;
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${metric.name}${suffix}`);
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) names.add(`${metric.name}${suffix}`);
    else names.add(metric.name);
  }
  return names;
}

/** The metric names a PromQL expression reads: identifiers left once label matchers, ranges, grouping clauses and function calls are set aside. */
function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  return [...bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*(?![A-Za-z0-9_:]|\s*\()/g)]
    .map((m) => m[0])
    .filter((name) => !KEYWORDS.has(name.toLowerCase()));
}

describe('Grafana dashboard (deploy/grafana/gateway-dashboard.json)', () => {
  let exported: Set<string>;
  let panels: Panel[];

  before(async () => {
    const api = new ApiMetrics([], createLogger('silent', 'test'));
    const worker = new WorkerMetrics('test-worker', { online: () => 0, shards: () => 0, liveRunning: () => 0 });
    exported = new Set([...(await seriesOf(api.registry)), ...(await seriesOf(worker.registry))]);
    panels = (JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] }).panels.filter(
      (p) => p.type !== 'row',
    );
  });

  it('reads metric names the way PromQL does (the check below relies on it)', () => {
    assert.deepEqual(
      metricNamesIn(
        'histogram_quantile(0.95, sum by (le, route) (rate(wag_x_bucket{status=~"5.."}[$__rate_interval])))',
      ),
      ['wag_x_bucket'],
    );
    assert.deepEqual(metricNamesIn('max by (shard) (a{queue="live"}) / on (shard) b * 60'), ['a', 'b']);
    assert.deepEqual(metricNamesIn('sum(rate(c[5m])) or vector(0)'), ['c']);
  });

  it('has panels, each with at least one query on the dashboard’s Prometheus data source', () => {
    assert.ok(panels.length >= 10, `${panels.length} panels`);
    const ids = new Set<number>();
    for (const panel of panels) {
      assert.ok(!ids.has(panel.id), `panel id ${panel.id} is used twice`);
      ids.add(panel.id);
      assert.ok(panel.targets && panel.targets.length > 0, `"${panel.title}" has no query`);
      assert.equal(panel.datasource?.uid, '${datasource}', `"${panel.title}" is not on the dashboard's data source`);
      assert.ok(panel.gridPos.x + panel.gridPos.w <= 24, `"${panel.title}" is wider than the grid`);
    }
  });

  it("names only metrics the api's or the workers' registries export, in every panel's query", () => {
    assert.ok(
      exported.has('wag_http_request_duration_seconds_bucket') && exported.has('wag_sessions_online'),
      'the registries were read',
    );
    for (const panel of panels) {
      for (const target of panel.targets ?? []) {
        const names = metricNamesIn(target.expr);
        assert.ok(names.length > 0, `"${panel.title}" ${target.refId} reads no metric: ${target.expr}`);
        for (const name of names)
          assert.ok(
            exported.has(name),
            `"${panel.title}" ${target.refId} reads ${name}, which the gateway does not export`,
          );
      }
    }
  });

  it('covers request rates and latencies, live operations by outcome, queue depths, sessions online, shards per worker and batch throughput', () => {
    const read = new Set(panels.flatMap((p) => (p.targets ?? []).flatMap((t) => metricNamesIn(t.expr))));
    for (const name of [
      'wag_http_request_duration_seconds_count',
      'wag_http_request_duration_seconds_bucket',
      'wag_api_live_operation_seconds_count',
      'wag_live_operation_seconds_count',
      'wag_queue_jobs',
      'wag_sessions_online',
      'wag_shards_owned',
      'wag_batch_numbers_checked_total',
    ]) {
      assert.ok(read.has(name), `no panel reads ${name}`);
    }
  });
});
