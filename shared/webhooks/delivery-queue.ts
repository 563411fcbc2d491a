/**
 * The webhook delivery queue: one BullMQ queue for every organization, consumed by every worker,
 * apart from the live and batch queues. MySQL is the record of each delivery; a job only says
 * "attempt this delivery (this generation of it)", so a lost or duplicated job changes nothing.
 */
import type { ConnectionOptions, DefaultJobOptions, Job, Queue, Worker } from 'bullmq';
import type { RedisKeys } from '../redis-keys.js';

export const WEBHOOK_DELIVERY_JOB = 'deliver';

export interface WebhookJobData {
  deliveryId: number;
  /** Bumped by each redelivery, so a job of an earlier round does nothing. */
  generation: number;
  /** Shown in Bull Board. */
  endpointId: string;
  eventId: string;
  eventType: string;
  /** Attempts made so far and the last one's error, as shown in Bull Board (MySQL has the record). */
  attempts?: number;
  lastError?: string;
}

/** What a delivery job ended with (its return value in Bull Board). */
export interface DeliveryJobResult {
  outcome: 'delivered' | 'skipped';
  status?: number;
  latencyMs?: number;
}

/** Both ends of the webhook queue: the outbox relay enqueues, every worker delivers. */
export type WebhookQueue = Queue<WebhookJobData, DeliveryJobResult, typeof WEBHOOK_DELIVERY_JOB>;
export type WebhookWorker = Worker<WebhookJobData, DeliveryJobResult, typeof WEBHOOK_DELIVERY_JOB>;
export type WebhookJob = Job<WebhookJobData, DeliveryJobResult, typeof WEBHOOK_DELIVERY_JOB>;

export function webhookQueueOptions(keys: RedisKeys, connection: ConnectionOptions) {
  return { prefix: keys.webhookQueuePrefix, connection };
}

export const webhookJobId = (deliveryId: number, generation: number) => `d${deliveryId}-g${generation}`;

export const WEBHOOK_JOB_OPTIONS: DefaultJobOptions = {
  // Retries are scheduled by the delivery itself (back-off recorded in MySQL), never by BullMQ.
  attempts: 1,
  removeOnComplete: { age: 3600, count: 2000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 5000 },
};

/**
 * Pause before attempt `attempt + 1` after `attempt` failed ones: base × 3^(attempt − 1), at most 6 h.
 * With the 5 s default and 12 attempts: 5 s, 15 s, 45 s, 2¼ min, 6¾ min, 20 min, 1 h, 3 h, then 6 h
 * three times — about 22 h from the first attempt to the last.
 */
export function retryDelayMs(attempt: number, baseMs: number): number {
  return Math.min(baseMs * 3 ** Math.max(0, attempt - 1), MAX_RETRY_DELAY_MS);
}

export const MAX_RETRY_DELAY_MS = 6 * 3600_000;
