import { Queue, UnrecoverableError, Worker } from 'bullmq';
import type { RedisClient } from '../../shared/redis.js';
import {
  batchJobId,
  batchQueueOptions,
  CHECK_BATCH_JOB,
  CHECK_BATCH_JOB_OPTIONS,
  type BatchJob,
  type BatchQueue,
  type BatchWorker,
  type CheckBatchJobData,
  type CheckBatchJobResult,
} from '../../shared/batches/check-batch-jobs.js';
import type { JobSigner } from '../../shared/job-signing/job-signer.js';
import type { Logger } from '../../shared/logger.js';
import type { RedisKeys } from '../../shared/redis-keys.js';
import { shardOf } from '../../shared/shards.js';
import type { BatchWorkStore } from './batch-work-store.js';
import type { CheckBatchRunner } from './check-batch-runner.js';
import { within } from '../../shared/within.js';

export interface BatchConsumerOptions {
  shardCount: number;
  concurrency: number;
  lockMs: number;
  /** How often the owned shards' unfinished batches are checked for a missing job (and old answers pruned). */
  sweepMs: number;
}

/** How long giving a shard up waits for its running batches to stop between two chunks. */
const HAND_OVER_GRACE_MS = 3_000;

interface OwnedShard {
  worker: BatchWorker;
  queue: BatchQueue;
  abort: AbortController;
}

/**
 * Consumes the batch queues of the shards this worker owns, so each session's part of a batch runs
 * where that session's connection is. Taking a shard over also re-enqueues the jobs of its sessions'
 * unfinished batches that are gone (MySQL is the record; the queue only carries the ids), and jobs
 * of a worker that died are recovered by BullMQ's stalled-job check once their lock lapses. Giving
 * a shard up stops its jobs between two chunks and leaves them delayed in the queue for the next owner.
 */
export class BatchConsumers {
  private readonly owned = new Map<number, OwnedShard>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly blockingConnection: RedisClient,
    private readonly commands: RedisClient,
    private readonly keys: RedisKeys,
    private readonly store: BatchWorkStore,
    private readonly runner: CheckBatchRunner,
    private readonly options: BatchConsumerOptions,
    private readonly signer: JobSigner,
    private readonly logger: Logger,
    /** Housekeeping run with each sweep (pruning expired cached answers). */
    private readonly onSweep: () => Promise<void> = () => Promise.resolve(),
    private readonly onRefused: () => void = () => undefined,
  ) {}

  start(shard: number): void {
    if (this.owned.has(shard)) return;
    const abort = new AbortController();
    const worker = new Worker<CheckBatchJobData, CheckBatchJobResult, typeof CHECK_BATCH_JOB>(
      this.keys.batchQueueName,
      (job: BatchJob, token?: string) =>
        this.signedByGateway(job, shard) ? this.runner.process(job, token!, abort.signal) : refuse(),
      {
        ...batchQueueOptions(this.keys, shard, this.blockingConnection),
        concurrency: this.options.concurrency,
        lockDuration: this.options.lockMs,
        stalledInterval: Math.max(1_000, Math.floor(this.options.lockMs / 2)),
        // A stall is a worker dying mid-batch; the batch resumes from MySQL however often that happens.
        maxStalledCount: 1_000,
      },
    );
    worker.on('error', (err) => this.logger.warn({ shard, err: err.message }, 'batch queue worker error'));
    worker.on('failed', (job, err) =>
      this.logger.warn({ shard, jobId: job?.id, err: err.message }, 'batch job failed; the sweep re-enqueues it'),
    );
    const queue = new Queue<CheckBatchJobData, CheckBatchJobResult, typeof CHECK_BATCH_JOB>(
      this.keys.batchQueueName,
      batchQueueOptions(this.keys, shard, this.commands),
    );
    queue.on('error', (err) => this.logger.debug({ shard, err: err.message }, 'batch queue error'));
    this.owned.set(shard, { worker, queue, abort });
    void this.sweep([shard]);
    if (!this.timer) {
      this.timer = setInterval(() => void this.sweep([...this.owned.keys()]), this.options.sweepMs);
      this.timer.unref();
    }
  }

  async stop(shard: number): Promise<void> {
    const owned = this.owned.get(shard);
    if (!owned) return;
    this.owned.delete(shard);
    if (this.owned.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    owned.abort.abort();
    // Normally the running batches hand over within a chunk. A chunk stuck on an unreachable
    // Redis must not hold up the shard's release (the lease fence waits for it): such a job is
    // left to lapse and be recovered as stalled by the next owner.
    let timer: NodeJS.Timeout | undefined;
    const graceful = await Promise.race([
      owned.worker.close().then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), HAND_OVER_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!graceful) {
      this.logger.warn({ shard }, 'batch jobs did not hand over in time; closing the shard queue without them');
      // Not awaited past the grace either: with Redis away even a forced close waits for it.
      await within(owned.worker.close(true), HAND_OVER_GRACE_MS).catch(() => undefined);
    }
    await within(owned.queue.close(), HAND_OVER_GRACE_MS).catch(() => undefined);
  }

  private signedByGateway(job: BatchJob, shard: number): boolean {
    if (this.signer.verify('check-batch', job.id, job.data)) return true;
    this.onRefused();
    this.logger.warn({ shard, jobId: job.id, name: job.name }, 'refused a batch job the gateway did not sign; not run');
    return false;
  }

  /** Makes sure every session of these shards has a job that will run for each of its unfinished batches. */
  private async sweep(shards: number[]): Promise<void> {
    if (shards.length === 0) return;
    try {
      const wanted = new Set(shards);
      for (const { batchId, sessionId } of await this.store.unfinishedMembers()) {
        const shard = shardOf(sessionId, this.options.shardCount);
        const owned = wanted.has(shard) ? this.owned.get(shard) : undefined;
        if (owned) await this.ensureQueued(owned.queue, batchId, sessionId, shard);
      }
      await this.onSweep();
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, shards }, 'batch sweep failed; retrying at the next one');
    }
  }

  private async ensureQueued(queue: BatchQueue, batchId: string, sessionId: string, shard: number): Promise<void> {
    const jobId = batchJobId(batchId, sessionId);
    const state = await queue.getJobState(jobId);
    if (state === 'unknown' || state === 'completed' || state === 'failed') {
      if (state !== 'unknown') await queue.remove(jobId);
      await queue.add(CHECK_BATCH_JOB, this.signer.seal('check-batch', jobId, { batchId, sessionId }), {
        ...CHECK_BATCH_JOB_OPTIONS,
        jobId,
      });
      this.logger.info(
        { batchId, sessionId, shard, previous: state },
        'unfinished batch had no runnable job for this session; re-enqueued',
      );
    }
  }
}

/** Fails a job unrun; the sweep gives a real unfinished batch a signed job again. */
function refuse(): Promise<CheckBatchJobResult> {
  return Promise.reject(
    new UnrecoverableError('refused: this job was not created by the gateway (bad or missing signature)'),
  );
}
