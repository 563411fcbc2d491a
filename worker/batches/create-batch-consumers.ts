import type { RedisClient } from '../../shared/redis.js';
import type { DataSource } from 'typeorm';
import { CheckAnswerCache } from '../../shared/checks/check-answers.js';
import type { Config } from '../../shared/config.js';
import type { JobSigner } from '../../shared/job-signing/job-signer.js';
import type { Logger } from '../../shared/logger.js';
import type { RedisKeys } from '../../shared/redis-keys.js';
import type { WhatsAppConnection } from '../driver/driver.js';
import type { BatchEvents } from './batch-events.js';
import { BatchConsumers } from './batch-consumers.js';
import { BatchWorkStore } from './batch-work-store.js';
import { CheckBatchRunner } from './check-batch-runner.js';
import { SessionRateLimiter } from './session-rate-limiter.js';

export interface BatchDeps {
  db: DataSource;
  /** Fail-fast client for commands (rate bucket, re-enqueueing). */
  redis: RedisClient;
  /** Never-give-up client for BullMQ's consumers. */
  bullConnection: RedisClient;
  keys: RedisKeys;
  /** The session's connection when this worker holds it online. */
  connectionOf: (sessionId: string) => WhatsAppConnection | undefined;
  logger: Logger;
  /** Signs the jobs this worker writes and checks the ones it runs. */
  signer: JobSigner;
  onChecked?: (numbers: number) => void;
  /** Progress and completion, reported from the transactions that record them (webhooks). */
  events?: BatchEvents;
  /** A job without the gateway's signature was refused. */
  onRefused?: () => void;
}

const SWEEP_MS = 30_000;
/**
 * A session's claim on a chunk outlives any WhatsApp query (Baileys gives up on a query after 60 s),
 * so a slow answer is never asked again by another session; a claim left by a dead worker is taken
 * back at once by the same session's recovered job, and by the pool's other sessions after this.
 */
const CLAIM_MS = 90_000;

/** The bulk-check side of a worker, wired from config; start/stop it per owned shard. */
export function createBatchConsumers(config: Config, deps: BatchDeps): BatchConsumers {
  const { batches, shards } = config;
  // A job's lock outlives a fenced lease, so a takeover never starts a batch still running elsewhere.
  const lockMs = Math.max(5_000, shards.leaseTtlMs);
  const logger = deps.logger.child({ component: 'batches' });
  const store = new BatchWorkStore(deps.db, deps.events);
  const limiter = new SessionRateLimiter(
    deps.redis,
    deps.keys,
    batches.ratePerMinute,
    batches.chunkSize,
    batches.dailyLimit,
  );
  const answers = new CheckAnswerCache(deps.db, config.checks.cacheTtlMs);
  const runner = new CheckBatchRunner(
    store,
    answers,
    limiter,
    deps.connectionOf,
    { ...batches, lockMs, claimMs: Math.max(CLAIM_MS, 2 * lockMs) },
    deps.signer,
    logger,
    deps.onChecked,
  );
  const prune = async () => {
    const removed = await answers.prune();
    if (removed > 0) logger.info({ removed }, 'removed cached answers older than CHECK_CACHE_TTL');
  };
  return new BatchConsumers(
    deps.bullConnection,
    deps.redis,
    deps.keys,
    store,
    runner,
    { shardCount: shards.count, concurrency: batches.concurrency, lockMs, sweepMs: SWEEP_MS },
    deps.signer,
    logger,
    prune,
    deps.onRefused,
  );
}
