import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from './config.js';

/**
 * Commands fail fast while Redis is down (no offline queue), so callers can answer 503 at once
 * instead of hanging; the client keeps reconnecting in the background.
 */
export function createRedis(redis: Config['redis'], overrides: RedisOptions = {}): Redis {
  return new Redis(redis.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 3_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    ...overrides,
  });
}

/** Options for BullMQ's blocking connections (workers, queue events): they must never give up. */
export function blockingRedisOptions(): RedisOptions {
  return { maxRetriesPerRequest: null, enableOfflineQueue: true };
}

export async function pingWithin(client: Redis, ms: number): Promise<boolean> {
  try {
    const result = await Promise.race([client.ping(), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms))]);
    return result === 'PONG';
  } catch {
    return false;
  }
}
