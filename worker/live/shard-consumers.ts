import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.js';
import { liveQueueOptions, type LiveJobEnvelope } from '../../shared/live/live-queues.js';
import type { LiveJobResult } from '../../shared/live/operations.js';
import type { RedisKeys } from '../../shared/redis-keys.js';
import type { LiveExecutor } from './live-executor.js';

/** One BullMQ worker per owned shard queue; closing waits for its in-flight jobs to finish. */
export class ShardConsumers {
  private readonly workers = new Map<number, Worker<LiveJobEnvelope, LiveJobResult>>();

  constructor(
    private readonly connection: Redis,
    private readonly keys: RedisKeys,
    private readonly executor: LiveExecutor,
    private readonly concurrency: number,
    private readonly logger: Logger,
  ) {}

  get shards(): number[] {
    return [...this.workers.keys()];
  }

  start(shard: number): void {
    if (this.workers.has(shard)) return;
    const worker = new Worker<LiveJobEnvelope, LiveJobResult>(
      this.keys.liveQueueName,
      (job: Job<LiveJobEnvelope, LiveJobResult>) => this.executor.execute(job.id!, job.data, job.timestamp),
      { ...liveQueueOptions(this.keys, shard, this.connection), concurrency: this.concurrency, maxStalledCount: 1 },
    );
    worker.on('error', (err) => this.logger.warn({ shard, err: err.message }, 'live queue worker error'));
    this.workers.set(shard, worker);
  }

  async stop(shard: number): Promise<void> {
    const worker = this.workers.get(shard);
    if (!worker) return;
    this.workers.delete(shard);
    await worker.close();
  }
}
