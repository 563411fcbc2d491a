/**
 * The bulk number check contract shared by the api (creates batches, enqueues them, reads them)
 * and the worker (runs them): statuses, limits, the queue layout and the job payload.
 *
 * MySQL is the record of a batch and its numbers; the queue only says "this session has work on
 * this batch". A batch is checked through one session or a pool of them, and each of its sessions
 * has one job on that session's shard queue. A job carries nothing but the two ids, so it can be
 * lost, duplicated or re-added at any time without changing what gets checked.
 */
import type { ConnectionOptions, DefaultJobOptions, Job, Queue, Worker } from 'bullmq';
import type { RedisKeys } from '../redis-keys.js';

export const BATCH_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];
/** Statuses a batch never leaves. */
export const FINAL_BATCH_STATUSES: readonly BatchStatus[] = ['completed', 'failed', 'cancelled'];
export const isFinalBatchStatus = (status: string) => (FINAL_BATCH_STATUSES as readonly string[]).includes(status);

export const NUMBER_STATUSES = ['pending', 'on_whatsapp', 'not_on_whatsapp', 'invalid'] as const;
export type NumberStatus = (typeof NUMBER_STATUSES)[number];

/** What a batch's session is waiting for, when it cannot check right now. */
export const WAITING_REASONS = ['session', 'daily_limit'] as const;
export type WaitingReason = (typeof WAITING_REASONS)[number];

/** Most sessions one pooled batch may be checked through. */
export const MAX_POOL_SESSIONS = 20;

/** Most numbers one batch may carry (before de-duplication). */
export const MAX_BATCH_NUMBERS = 50_000;
/** "as given" is stored up to this many characters; longer input cannot be a phone number anyway. */
export const MAX_GIVEN_PHONE_LENGTH = 64;

export const CHECK_BATCH_JOB = 'check-batch';

export interface CheckBatchJobData {
  batchId: string;
  /** The session this job checks through (absent in jobs queued before pools: the batch's own session). */
  sessionId?: string;
  /** Consecutive failed attempts at the current chunk (server errors), for back-off and giving up. */
  failures?: number;
  /** Consecutive rate-overlimit answers, for exponential back-off. */
  rateLimited?: number;
  /** The gateway's signature of the rest (shared/job-signing); a worker runs no batch job without a valid one. */
  sig?: string;
}

/** What a batch job ended with (its return value in Bull Board). */
export interface CheckBatchJobResult {
  outcome: 'completed' | 'failed' | 'cancelled' | 'gone';
}

/** Both ends of a batch queue: the api enqueues, the shard's worker runs. */
export type BatchQueue = Queue<CheckBatchJobData, CheckBatchJobResult, typeof CHECK_BATCH_JOB>;
export type BatchWorker = Worker<CheckBatchJobData, CheckBatchJobResult, typeof CHECK_BATCH_JOB>;
export type BatchJob = Job<CheckBatchJobData, CheckBatchJobResult, typeof CHECK_BATCH_JOB>;

export function batchQueueOptions(keys: RedisKeys, shard: number, connection: ConnectionOptions) {
  return { prefix: keys.batchQueuePrefix(shard), connection };
}

/** One job per batch and session: adding one that is already queued is a no-op. */
export const batchJobId = (batchId: string, sessionId: string) => `${batchId}.${sessionId}`;

export const CHECK_BATCH_JOB_OPTIONS: DefaultJobOptions = {
  attempts: 1,
  removeOnComplete: { age: 24 * 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 1000 },
};
