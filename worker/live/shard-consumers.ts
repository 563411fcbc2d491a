import { UnrecoverableError, Worker } from 'bullmq';
import type { RedisClient } from '../../shared/redis.js';
import type { Logger } from '../../shared/logger.js';
import {
  liveQueueOptions,
  type LiveJob,
  type LiveJobEnvelope,
  type LiveTaken,
  type LiveWorker,
} from '../../shared/live/live-queues.js';
import type { LiveOpName } from '../../shared/live/operations.js';
import type { RedisKeys } from '../../shared/redis-keys.js';
import type { JobSigner } from '../../shared/job-signing/job-signer.js';
import type { LiveExecutor } from './live-executor.js';
import { within } from '../../shared/within.js';
import { publish } from '../../shared/redis-pubsub.js';

/** How long a shard's consumer may take to close before it is dropped. */
const CLOSE_GRACE_MS = 2_000;

interface Shard {
  worker: LiveWorker;
  /** Operations handed to their sessions and not yet answered. */
  running: Set<Promise<void>>;
}

/**
 * One BullMQ consumer per owned shard queue. A live job is done, as far as the queue goes, once
 * its operation has been handed to the session: the answer travels to the caller by pub/sub, never
 * through the job, so nothing is gained by holding the job active during the WhatsApp call. Taking
 * jobs one at a time then spares BullMQ's look for a second job before it starts the first (a Redis
 * round trip on every job of a quiet queue), while up to `concurrency` operations per shard run
 * at once. Stopping a shard waits for its running operations: its sessions' connections close
 * only after them.
 */
export class ShardConsumers {
  private readonly consumers = new Map<number, Shard>();

  constructor(
    private readonly connection: RedisClient,
    /** Where taken notices are published (the connection that publishes replies). */
    private readonly publisher: RedisClient,
    /** The lease this worker holds the shard under now (worker/shards; it changes when granted again). */
    private readonly leaseOf: (shard: number) => string | undefined,
    private readonly keys: RedisKeys,
    private readonly executor: LiveExecutor,
    private readonly concurrency: number,
    private readonly signer: JobSigner,
    private readonly logger: Logger,
    private readonly onRefused: () => void = () => undefined,
  ) {}

  get shards(): number[] {
    return [...this.consumers.keys()];
  }

  /** Operations started and not answered yet, over every shard. */
  get running(): number {
    let n = 0;
    for (const state of this.consumers.values()) n += state.running.size;
    return n;
  }

  start(shard: number): void {
    if (this.consumers.has(shard)) return;
    const running = new Set<Promise<void>>();
    const worker = new Worker<LiveJobEnvelope, void, LiveOpName>(
      this.keys.liveQueueName,
      (job) => this.handOver(shard, running, job),
      {
        ...liveQueueOptions(this.keys, shard, this.connection),
        concurrency: 1,
        maxStalledCount: 1,
      },
    );
    worker.on('error', (err) => this.logger.warn({ shard, err: err.message }, 'live queue worker error'));
    this.consumers.set(shard, { worker, running });
  }

  async stop(shard: number): Promise<void> {
    const state = this.consumers.get(shard);
    if (!state) return;
    this.consumers.delete(shard);
    // BullMQ's close waits for Redis; while Redis is away (a failover) it must not hold up the
    // release, which stops the shard's sessions only after this: the consumer is then dropped.
    await within(state.worker.close(), CLOSE_GRACE_MS).catch(() => {
      this.logger.warn({ shard }, 'live queue consumer did not close in time; dropping it');
      void within(state.worker.close(true), CLOSE_GRACE_MS).catch(() => undefined);
    });
    await Promise.allSettled([...state.running]);
  }

  /**
   * Waits for a free slot (which holds further jobs back in the queue), then starts the operation
   * without waiting for it. A job the api did not sign (added through Bull Board or straight into
   * Redis) fails unrun and unanswered: its reply channel is as untrusted as the rest of it.
   */
  private async handOver(shard: number, running: Set<Promise<void>>, job: LiveJob): Promise<void> {
    if (!this.signer.verify('live', job.id, job.data)) {
      this.onRefused();
      this.logger.warn(
        { shard, jobId: job.id, name: job.name },
        'refused a live job the api did not sign; not executed',
      );
      throw new UnrecoverableError('refused: this job was not created by the gateway api (bad or missing signature)');
    }
    const lease = this.leaseOf(shard);
    if (lease !== undefined && job.data.lease !== lease) {
      // The api saw another owner when it queued the job: it is told this one took it (LiveTaken).
      const taken: LiveTaken = { jobId: job.id!, takenUnder: lease };
      void publish(this.publisher, job.data.replyTo, JSON.stringify(taken)).catch(() => undefined);
    }
    while (running.size >= this.concurrency) await Promise.race(running);
    const operation: Promise<void> = this.executor
      .execute(job.id!, job.data, job.timestamp)
      .then(
        () => undefined,
        (err: Error) => this.logger.error({ shard, jobId: job.id, err: err.message }, 'live job crashed'),
      )
      .finally(() => running.delete(operation));
    running.add(operation);
  }
}
