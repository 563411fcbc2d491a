import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { batchQueueOptions, CHECK_BATCH_JOB, CHECK_BATCH_JOB_OPTIONS, type CheckBatchJobData } from '../../shared/batches/check-batch-jobs.js';
import type { JobSigningKey } from '../../shared/job-signing/job-signing-key.js';
import type { Logger } from '../../shared/logger.js';
import type { RedisKeys } from '../../shared/redis-keys.js';
import { shardOf } from '../../shared/shards.js';

/**
 * Puts a batch on its session's shard batch queue, where the worker owning the shard picks it up.
 * Best effort by design: the batch is already stored, and a worker taking the shard (or its
 * periodic sweep) enqueues any unfinished batch that has no job.
 */
export class CheckBatchQueue {
  private readonly queues = new Map<number, Queue<CheckBatchJobData>>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly shardCount: number,
    private readonly signing: JobSigningKey,
    private readonly logger: Logger,
  ) {}

  async enqueue(batchId: string, sessionId: string): Promise<void> {
    try {
      const data = (await this.signing.signer()).seal('check-batch', batchId, { batchId });
      await this.queueOf(sessionId).add(CHECK_BATCH_JOB, data, { ...CHECK_BATCH_JOB_OPTIONS, jobId: batchId });
    } catch (err) {
      this.logger.warn({ batchId, err: (err as Error).message }, 'could not enqueue the batch now; the owning worker will pick it up from MySQL');
    }
  }

  /** Drops a cancelled batch's job unless a worker is running it (that worker stops at its next chunk). */
  async discard(batchId: string, sessionId: string): Promise<void> {
    await this.queueOf(sessionId)
      .remove(batchId)
      .catch(() => undefined);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
  }

  private queueOf(sessionId: string): Queue<CheckBatchJobData> {
    const shard = shardOf(sessionId, this.shardCount);
    let queue = this.queues.get(shard);
    if (!queue) {
      queue = new Queue<CheckBatchJobData>(this.keys.batchQueueName, batchQueueOptions(this.keys, shard, this.redis));
      queue.on('error', (err) => this.logger.debug({ shard, err: err.message }, 'batch queue error'));
      this.queues.set(shard, queue);
    }
    return queue;
  }
}
