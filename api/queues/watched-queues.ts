import { Queue } from 'bullmq';
import type { RedisClient } from '../../shared/redis.js';
import {
  batchQueueOptions,
  type BatchQueue,
  type CHECK_BATCH_JOB,
  type CheckBatchJobData,
  type CheckBatchJobResult,
} from '../../shared/batches/check-batch-jobs.js';
import { liveQueueOptions, type LiveJobEnvelope, type LiveQueue } from '../../shared/live/live-queues.js';
import type { LiveOpName } from '../../shared/live/operations.js';
import type { RedisKeys } from '../../shared/redis-keys.js';
import {
  webhookQueueOptions,
  type DeliveryJobResult,
  type WEBHOOK_DELIVERY_JOB,
  type WebhookJobData,
  type WebhookQueue,
} from '../../shared/webhooks/delivery-queue.js';

/** A BullMQ queue operators watch: shown in Bull Board and measured by the queue depth gauge. */
export type WatchedQueue = {
  /** The shard a live queue belongs to; undefined for a queue shared by all shards. */
  shard: number | undefined;
  /** What operators read, e.g. `live shard 3`: every shard's BullMQ queue has the same name, `live`. */
  label: string;
} & (
  { kind: 'live'; queue: LiveQueue } | { kind: 'batch'; queue: BatchQueue } | { kind: 'webhooks'; queue: WebhookQueue }
);

/** Every queue of the gateway, built in this one place so the board and the metrics see the same list. */
export function watchedQueues(
  keys: RedisKeys,
  shardCount: number,
  connection: RedisClient,
  onError: (err: Error, label: string) => void,
): WatchedQueue[] {
  const watched: WatchedQueue[] = [];
  for (let shard = 0; shard < shardCount; shard++) {
    watched.push({
      kind: 'live',
      shard,
      label: `live shard ${shard}`,
      queue: new Queue<LiveJobEnvelope, void, LiveOpName>(
        keys.liveQueueName,
        liveQueueOptions(keys, shard, connection),
      ),
    });
  }
  for (let shard = 0; shard < shardCount; shard++) {
    watched.push({
      kind: 'batch',
      shard,
      label: `batch shard ${shard}`,
      queue: new Queue<CheckBatchJobData, CheckBatchJobResult, typeof CHECK_BATCH_JOB>(
        keys.batchQueueName,
        batchQueueOptions(keys, shard, connection),
      ),
    });
  }
  watched.push({
    kind: 'webhooks',
    shard: undefined,
    label: 'webhook deliveries',
    queue: new Queue<WebhookJobData, DeliveryJobResult, typeof WEBHOOK_DELIVERY_JOB>(
      keys.webhookQueueName,
      webhookQueueOptions(keys, connection),
    ),
  });
  // An EventEmitter 'error' without a listener would crash the process.
  for (const w of watched) w.queue.on('error', (err) => onError(err, w.label));
  return watched;
}

export async function closeWatchedQueues(watched: WatchedQueue[]): Promise<void> {
  await Promise.allSettled(watched.map((w) => w.queue.close()));
}
