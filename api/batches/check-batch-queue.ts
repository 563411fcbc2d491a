import { Queue } from 'bullmq';
import type { RedisClient } from '../../shared/redis.js';
import {
  batchJobId,
  batchQueueOptions,
  CHECK_BATCH_JOB,
  CHECK_BATCH_JOB_OPTIONS,
  type BatchQueue,
  type CheckBatchJobData,
  type CheckBatchJobResult,
} from '../../shared/batches/check-batch-jobs.js';
import type { JobSigningKey } from '../../shared/job-signing/job-signing-key.js';
import type { Logger } from '../../shared/logger.js';
import type { RedisKeys } from '../../shared/redis-keys.js';
import { shardOf } from '../../shared/shards.js';

/**
 * Puts one job per session of a batch on that session's shard batch queue, where the worker owning
 * the shard picks it up. Best effort by design: the batch is already stored, and a worker taking
 * the shard (or its periodic sweep) enqueues any missing job of an unfinished batch.
 */
export class CheckBatchQueue {
  private readonly queues = new Map<number, BatchQueue>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly shardCount: number,
    private readonly signing: JobSigningKey,
    private readonly logger: Logger,
  ) {}

  async enqueue(batchId: string, sessionIds: string[]): Promise<void> {
    await Promise.all(
      sessionIds.map(async (sessionId) => {
        try {
          const jobId = batchJobId(batchId, sessionId);
          const data = (await this.signing.signer()).seal('check-batch', jobId, { batchId, sessionId });
          await this.queueOf(sessionId).add(CHECK_BATCH_JOB, data, { ...CHECK_BATCH_JOB_OPTIONS, jobId });
        } catch (err) {
          this.logger.warn(
            { batchId, sessionId, err: (err as Error).message },
            'could not enqueue the batch now; the owning worker will pick it up from MySQL',
          );
        }
      }),
    );
  }

  /** Drops a cancelled batch's jobs unless a worker is running them (that worker stops at its next chunk). */
  async discard(batchId: string, sessionIds: string[]): Promise<void> {
    await Promise.all(
      sessionIds.map((sessionId) =>
        this.queueOf(sessionId)
          .remove(batchJobId(batchId, sessionId))
          .catch(() => undefined),
      ),
    );
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
  }

  private queueOf(sessionId: string): BatchQueue {
    const shard = shardOf(sessionId, this.shardCount);
    let queue = this.queues.get(shard);
    if (!queue) {
      queue = new Queue<CheckBatchJobData, CheckBatchJobResult, typeof CHECK_BATCH_JOB>(
        this.keys.batchQueueName,
        batchQueueOptions(this.keys, shard, this.redis),
      );
      queue.on('error', (err) => this.logger.debug({ shard, err: err.message }, 'batch queue error'));
      this.queues.set(shard, queue);
    }
    return queue;
  }
}
