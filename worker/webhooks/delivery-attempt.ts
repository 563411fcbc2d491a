import { DelayedError } from 'bullmq';
import type { Logger } from '../../shared/logger.js';
import { retryDelayMs, type DeliveryJobResult, type WebhookJob } from '../../shared/webhooks/delivery-queue.js';
import type { DeliveryStore } from './delivery-store.js';
import type { WebhookSender } from './webhook-sender.js';

export interface DeliveryAttemptOptions {
  maxAttempts: number;
  retryBaseMs: number;
}

/** How long a session.status delivery waits behind an earlier one before looking again. */
const ORDER_WAIT_MIN_MS = 100;
const ORDER_WAIT_MAX_MS = 60_000;

/**
 * Runs one delivery job: one HTTP attempt, recorded in MySQL. A failed attempt gives the job back
 * to the queue, delayed by the back-off; the last one, or one that disables the endpoint, fails
 * the job (so it shows under "failed" in Bull Board). A job whose delivery already ended, or that
 * belongs to an earlier redelivery round, does nothing: jobs may be duplicated, never deliveries.
 */
export class DeliveryAttempt {
  constructor(
    private readonly store: DeliveryStore,
    private readonly sender: WebhookSender,
    private readonly options: DeliveryAttemptOptions,
    private readonly logger: Logger,
    /** A delivery ended: its endpoint has room for another one. */
    private readonly onSettled: () => void,
  ) {}

  async process(job: WebhookJob, token: string): Promise<DeliveryJobResult> {
    const now = Date.now();
    const delivery = await this.store.load(job.data.deliveryId, now);
    if (
      !delivery ||
      delivery.generation !== job.data.generation ||
      (delivery.status !== 'queued' && delivery.status !== 'attempting')
    )
      return { outcome: 'skipped' };
    if (!delivery.enabled) {
      await this.store.abandon(delivery, now);
      this.onSettled();
      return { outcome: 'skipped' };
    }
    if (delivery.eventType === 'session.status') {
      const before = await this.store.predecessor(delivery);
      if (before) {
        const wait = Math.min(
          ORDER_WAIT_MAX_MS,
          Math.max(ORDER_WAIT_MIN_MS, (before.nextAttemptAt ?? now) - now + ORDER_WAIT_MIN_MS),
        );
        await job.moveToDelayed(now + wait, token);
        throw new DelayedError();
      }
    }

    const result = await this.sender.send({
      url: delivery.url,
      id: delivery.eventId,
      body: delivery.body,
      secrets: delivery.secrets,
    });
    const at = Date.now();
    if (result.ok) {
      await this.store.succeeded(delivery, result, at);
      this.onSettled();
      return { outcome: 'delivered', status: result.status, latencyMs: result.latencyMs };
    }
    const attempt = delivery.attempts + 1;
    const nextAttemptAt =
      attempt >= this.options.maxAttempts ? null : at + retryDelayMs(attempt, this.options.retryBaseMs);
    const disabled = await this.store.failed(delivery, result, nextAttemptAt, at);
    const log = this.logger.child({
      deliveryId: delivery.id,
      endpointId: delivery.endpointId,
      eventId: delivery.eventId,
    });
    if (disabled) {
      log.warn({ reason: disabled }, 'webhook endpoint disabled');
      this.onSettled();
      throw new Error(`endpoint disabled: ${disabled}`);
    }
    if (nextAttemptAt === null) {
      log.warn({ attempts: attempt, err: result.error }, 'webhook delivery given up');
      this.onSettled();
      throw new Error(`gave up after ${attempt} attempts: ${result.error}`);
    }
    log.debug({ attempt, err: result.error, nextAttemptAt }, 'webhook delivery attempt failed');
    await job.updateData({ ...job.data, attempts: attempt, lastError: result.error });
    await job.moveToDelayed(nextAttemptAt, token);
    throw new DelayedError();
  }
}
