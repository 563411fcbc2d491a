import { Queue, Worker } from 'bullmq';
import type { RedisClient } from '../../shared/redis.js';
import type { DataSource } from 'typeorm';
import type { Config } from '../../shared/config.js';
import type { Logger } from '../../shared/logger.js';
import type { RedisKeys } from '../../shared/redis-keys.js';
import {
  webhookQueueOptions,
  type DeliveryJobResult,
  type WEBHOOK_DELIVERY_JOB,
  type WebhookJobData,
  type WebhookQueue,
  type WebhookWorker,
} from '../../shared/webhooks/delivery-queue.js';
import { DeliveryAttempt } from './delivery-attempt.js';
import { DeliveryStore } from './delivery-store.js';
import { OutboxRelay } from './outbox-relay.js';
import { WebhookEventSinks } from './webhook-event-sinks.js';
import { WebhookSender } from './webhook-sender.js';

export interface WebhookDeps {
  db: DataSource;
  /** Fail-fast client for commands (relay lock, adding jobs). */
  redis: RedisClient;
  /** Never-give-up client for the BullMQ consumer. */
  bullConnection: RedisClient;
  keys: RedisKeys;
  workerId: string;
  logger: Logger;
  onDelivered?: (outcome: 'delivered' | 'failed') => void;
}

/**
 * The webhook side of a worker: the event producers (sinks handed to the session manager, the
 * batches and ingestion), the relay from the outbox to the queue, and the consumer that attempts
 * deliveries. Deliveries follow no shard: every worker takes them, on a queue of their own, with
 * their own Redis connection, so a slow receiver occupies webhook slots only.
 */
export class WebhookDispatcher {
  readonly sinks: WebhookEventSinks;
  private readonly queue: WebhookQueue;
  private readonly relay: OutboxRelay;
  private readonly sender: WebhookSender;
  private readonly attempt: DeliveryAttempt;
  private worker: WebhookWorker | undefined;

  constructor(
    private readonly config: Config,
    private readonly deps: WebhookDeps,
  ) {
    const { webhooks } = config;
    const logger = deps.logger.child({ component: 'webhooks' });
    this.queue = new Queue<WebhookJobData, DeliveryJobResult, typeof WEBHOOK_DELIVERY_JOB>(
      deps.keys.webhookQueueName,
      webhookQueueOptions(deps.keys, deps.redis),
    );
    this.queue.on('error', (err) => logger.debug({ err: err.message }, 'webhook queue error'));
    this.relay = new OutboxRelay(
      deps.db,
      deps.redis,
      deps.keys.webhookRelayLock(),
      this.queue,
      {
        inFlight: webhooks.endpointInFlight,
        intervalMs: webhooks.relayIntervalMs,
        retentionMs: webhooks.retentionMs,
        workerId: deps.workerId,
      },
      logger,
    );
    this.sinks = new WebhookEventSinks(
      deps.db,
      {
        publicUrl: config.publicUrl,
        progressIntervalMs: webhooks.progressIntervalMs,
        onWritten: () => this.relay.nudge(),
      },
      logger,
    );
    this.sender = new WebhookSender({
      allowHttp: webhooks.allowHttp,
      allowPrivate: webhooks.allowPrivate,
      timeoutMs: webhooks.timeoutMs,
      socketsPerHost: webhooks.endpointInFlight,
    });
    this.attempt = new DeliveryAttempt(
      new DeliveryStore(deps.db, webhooks.disableAfterMs),
      this.sender,
      { maxAttempts: webhooks.maxAttempts, retryBaseMs: webhooks.retryBaseMs },
      logger,
      () => this.relay.nudge(),
    );
  }

  start(): void {
    const { webhooks } = this.config;
    const logger = this.deps.logger.child({ component: 'webhooks' });
    // The lock outlives the slowest attempt; a worker killed mid-attempt hands its jobs back once it lapses.
    const lockDuration = Math.max(5_000, 2 * webhooks.timeoutMs);
    this.worker = new Worker<WebhookJobData, DeliveryJobResult, typeof WEBHOOK_DELIVERY_JOB>(
      this.deps.keys.webhookQueueName,
      (job, token) => this.attempt.process(job, token!),
      {
        ...webhookQueueOptions(this.deps.keys, this.deps.bullConnection),
        concurrency: webhooks.concurrency,
        lockDuration,
        stalledInterval: Math.floor(lockDuration / 2),
        // A stall is a worker dying mid-attempt; the delivery is attempted again however often that happens.
        maxStalledCount: 1_000,
      },
    );
    this.worker.on('error', (err) => logger.warn({ err: err.message }, 'webhook worker error'));
    this.worker.on('completed', (_job, result) => {
      if (result.outcome === 'delivered') this.deps.onDelivered?.('delivered');
    });
    this.worker.on('failed', (job, err) => {
      this.deps.onDelivered?.('failed');
      logger.info({ jobId: job?.id, err: err.message }, 'webhook delivery failed for good');
    });
    this.relay.start();
    this.relay.nudge();
  }

  /** Stops taking deliveries and lets the attempts in flight finish (each is bounded by WEBHOOK_TIMEOUT_MS). */
  async stop(): Promise<void> {
    await this.relay.stop();
    await this.worker?.close();
    await this.queue.close().catch(() => undefined);
    this.sender.close();
  }
}
