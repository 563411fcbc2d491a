import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one worker process. */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly liveOps: Histogram<'op' | 'outcome'>;
  readonly sessionsOnline: Gauge;
  readonly shardsOwned: Gauge;
  readonly liveRunning: Gauge;
  readonly ingestedRows: Counter<'kind'>;
  /** Batch throughput: the batch worker adds each chunk's size once its results are stored. */
  readonly batchNumbersChecked: Counter;
  /** Webhook deliveries ended on this worker: delivered, or failed for good (retries are not counted). */
  readonly webhookDeliveries: Counter<'outcome'>;
  /** Jobs found on a queue without the gateway's signature, failed unrun. */
  readonly jobsRefused: Counter<'queue'>;
  /** WhatsApp connections that closed, by reason (clientOutdated = the WhatsApp Web version was refused). */
  readonly whatsappDisconnects: Counter<'reason'>;

  constructor(workerId: string, sample: { online: () => number; shards: () => number; liveRunning: () => number }) {
    this.registry.setDefaultLabels({ worker: workerId });
    collectDefaultMetrics({ register: this.registry });
    this.liveOps = new Histogram({
      name: 'wag_live_operation_seconds',
      help: 'Live operation latency on the worker, by operation and outcome (ok or error code)',
      labelNames: ['op', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    this.sessionsOnline = this.sampledGauge(
      'wag_sessions_online',
      'WhatsApp sessions online on this worker',
      sample.online,
    );
    this.shardsOwned = this.sampledGauge('wag_shards_owned', 'Shards whose lease this worker holds', sample.shards);
    this.liveRunning = this.sampledGauge(
      'wag_live_operations_running',
      'Live operations started on this worker and not answered yet (Bull Board counts a live job completed once its operation starts)',
      sample.liveRunning,
    );
    this.ingestedRows = new Counter({
      name: 'wag_ingested_rows_total',
      help: 'Rows written by ingestion, by kind',
      labelNames: ['kind'],
      registers: [this.registry],
    });
    this.batchNumbersChecked = new Counter({
      name: 'wag_batch_numbers_checked_total',
      help: 'Phone numbers of bulk check batches checked on this worker (results stored)',
      registers: [this.registry],
    });
    this.webhookDeliveries = new Counter({
      name: 'wag_webhook_deliveries_total',
      help: 'Webhook deliveries ended on this worker, by outcome (delivered, failed); retried attempts are not counted',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    this.jobsRefused = new Counter({
      name: 'wag_jobs_refused_total',
      help: 'Jobs refused unrun because the gateway did not sign them (added through Bull Board or straight into Redis), by queue (live or batch)',
      labelNames: ['queue'],
      registers: [this.registry],
    });
    this.whatsappDisconnects = new Counter({
      name: 'wag_whatsapp_disconnects_total',
      help: 'WhatsApp connections of this worker that closed, by reason (timedOut, connectionClosed, connectTimeout, clientOutdated = WhatsApp refused the client version, …)',
      labelNames: ['reason'],
      registers: [this.registry],
    });
  }

  /** A gauge read from the process's own state at scrape time. */
  private sampledGauge(name: string, help: string, read: () => number): Gauge {
    return new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }
}
