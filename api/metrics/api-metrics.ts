import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../../shared/logger.js';
import { within } from '../../shared/within.js';
import type { WatchedQueue } from '../queues/watched-queues.js';
import { sharedReading } from './shared-reading.js';

const QUEUE_STATES = ['waiting', 'active', 'delayed'] as const;
/** A scrape must not hang on a slow Redis: past this, the queue depth series are left out of that scrape. */
const QUEUE_DEPTH_BUDGET_MS = 1_000;
/**
 * A reading of every queue's depth is one Redis script call per queue (32 by default). Scrapes
 * within this long after a reading reuse it, and concurrent scrapes share the reading in flight,
 * so many scrapers (or one hammering /metrics, which is open without METRICS_TOKEN) cost Redis one
 * reading per period.
 */
const QUEUE_DEPTH_REUSE_MS = 5_000;

type DepthReading = Record<(typeof QUEUE_STATES)[number], number>[];

/**
 * Prometheus metrics of one api process. Sessions online are not here: counting presence keys
 * would mean a SCAN over Redis per scrape, while each worker already exports `wag_sessions_online`
 * for the sessions it holds; sum that over workers.
 */
export class ApiMetrics {
  readonly registry = new Registry();
  readonly httpRequests: Histogram<'method' | 'route' | 'status'>;
  readonly liveOps: Histogram<'op' | 'outcome'>;
  readonly queueJobs: Gauge<'queue' | 'shard' | 'state'>;

  constructor(queues: readonly WatchedQueue[], logger: Logger) {
    collectDefaultMetrics({ register: this.registry });
    const readDepths = sharedReading(
      QUEUE_DEPTH_REUSE_MS,
      () =>
        within(
          Promise.all(queues.map((w) => w.queue.getJobCounts(...QUEUE_STATES))),
          QUEUE_DEPTH_BUDGET_MS,
        ) as Promise<DepthReading>,
    );
    this.httpRequests = new Histogram({
      name: 'wag_http_request_duration_seconds',
      help: 'HTTP request latency by method, route template (never the raw URL) and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    this.liveOps = new Histogram({
      name: 'wag_api_live_operation_seconds',
      help: 'Live operation latency as the api sees it (queueing, the worker and the reply), by operation and outcome (ok or error code)',
      labelNames: ['op', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    this.queueJobs = new Gauge({
      name: 'wag_queue_jobs',
      help: 'Jobs in a queue by state (waiting, active, delayed), read from Redis at most every 5 s; shard is empty for queues shared by all shards',
      labelNames: ['queue', 'shard', 'state'],
      registers: [this.registry],
      // Every api process reads the same queues; across a cluster the depth is one reading, not a sum.
      aggregator: 'max',
      async collect() {
        this.reset();
        try {
          const counts = await readDepths();
          queues.forEach((w, i) => {
            for (const state of QUEUE_STATES)
              this.set(
                { queue: w.kind, shard: w.shard === undefined ? '' : String(w.shard), state },
                counts[i]![state] ?? 0,
              );
          });
        } catch (err) {
          logger.debug({ err: (err as Error).message }, 'queue depth not collected for this scrape');
        }
      },
    });
  }
}
