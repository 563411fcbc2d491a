import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import type { Config } from '../../shared/config.js';
import type { JobSigner } from '../../shared/job-signing/job-signer.js';
import type { Logger } from '../../shared/logger.js';
import type { RedisKeys } from '../../shared/redis-keys.js';
import type { WhatsAppConnection } from '../driver/driver.js';
import { BatchConsumers } from './batch-consumers.js';
import { BatchWorkStore } from './batch-work-store.js';
import { CheckBatchRunner } from './check-batch-runner.js';
import { SessionRateLimiter } from './session-rate-limiter.js';

export interface BatchDeps {
  db: DataSource;
  /** Fail-fast client for commands (rate bucket, re-enqueueing). */
  redis: Redis;
  /** Never-give-up client for BullMQ's consumers. */
  bullConnection: Redis;
  keys: RedisKeys;
  /** The session's connection when this worker holds it online. */
  connectionOf: (sessionId: string) => WhatsAppConnection | undefined;
  logger: Logger;
  /** Signs the jobs this worker writes and checks the ones it runs. */
  signer: JobSigner;
  onChecked?: (numbers: number) => void;
  /** A job without the gateway's signature was refused. */
  onRefused?: () => void;
}

const SWEEP_MS = 30_000;

/** The bulk-check side of a worker, wired from config; start/stop it per owned shard. */
export function createBatchConsumers(config: Config, deps: BatchDeps): BatchConsumers {
  const { batches, shards } = config;
  // A job's lock outlives a fenced lease, so a takeover never starts a batch still running elsewhere.
  const lockMs = Math.max(5_000, shards.leaseTtlMs);
  const logger = deps.logger.child({ component: 'batches' });
  const store = new BatchWorkStore(deps.db);
  const limiter = new SessionRateLimiter(deps.redis, deps.keys, batches.ratePerMinute, batches.chunkSize);
  const runner = new CheckBatchRunner(store, limiter, deps.connectionOf, { ...batches, lockMs }, deps.signer, logger, deps.onChecked);
  return new BatchConsumers(deps.bullConnection, deps.redis, deps.keys, store, runner, { shardCount: shards.count, concurrency: batches.concurrency, lockMs, sweepMs: SWEEP_MS }, deps.signer, logger, deps.onRefused);
}
