import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisConfig } from './config.js';

/** A connection to whatever Redis the gateway is pointed at: one server, a Sentinel-managed master, or a Cluster. */
export type RedisClient = Redis | Cluster;

/**
 * Every Redis connection of every process is made here, from the one parsed config. Commands fail
 * fast while Redis is down (no offline queue), so callers can answer 503 at once instead of
 * hanging; the client keeps reconnecting in the background. `overrides` adjust one connection's
 * behaviour (blocking clients queue and retry) whatever the topology.
 */
export function createRedis(redis: RedisConfig, overrides: RedisOptions = {}): RedisClient {
  const { retryStrategy, enableOfflineQueue, lazyConnect, ...perConnection } = overrides;
  const common: RedisOptions = {
    maxRetriesPerRequest: 1,
    connectTimeout: 3_000,
    ...(redis.username !== undefined ? { username: redis.username } : {}),
    ...(redis.password !== undefined ? { password: redis.password } : {}),
    ...(redis.tls ? { tls: {} } : {}),
    // A master demoted by a failover answers writes with READONLY until the client reconnects to the new one.
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
    ...perConnection,
  };
  const retry = retryStrategy ?? ((attempt: number) => Math.min(attempt * 200, 2_000));
  const queueing = enableOfflineQueue ?? false;
  const topology = redis.topology;
  if (topology.kind === 'cluster') {
    return new Cluster(topology.nodes, {
      redisOptions: common,
      enableOfflineQueue: queueing,
      clusterRetryStrategy: retry,
      lazyConnect: lazyConnect ?? false,
      // SSUBSCRIBE/SPUBLISH: a message travels only within the shard that owns its channel's slot.
      shardedSubscribers: true,
      // A failover moves slots: follow them quickly rather than fail the command.
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
      slotsRefreshTimeout: 2_000,
    });
  }
  if (topology.kind === 'sentinel') {
    return new Redis({
      ...common,
      db: redis.db,
      sentinels: topology.sentinels,
      name: topology.name,
      ...(topology.sentinelPassword !== undefined ? { sentinelPassword: topology.sentinelPassword } : {}),
      ...(redis.tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
      sentinelRetryStrategy: retry,
      enableOfflineQueue: queueing,
      retryStrategy: retry,
      lazyConnect: lazyConnect ?? false,
    });
  }
  return new Redis(redis.url, {
    ...common,
    enableOfflineQueue: queueing,
    retryStrategy: retry,
    lazyConnect: lazyConnect ?? false,
  });
}

/** Options for BullMQ's blocking connections (workers, queue events) and subscribers: they must never give up. */
export function blockingRedisOptions(): RedisOptions {
  return { maxRetriesPerRequest: null, enableOfflineQueue: true };
}

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

/**
 * GET of many keys. MGET (and a pipeline) must stay within one slot on a Cluster, so there each
 * key is read on its own (ioredis sends them to their nodes together).
 */
export async function getMany(client: RedisClient, keys: string[]): Promise<(string | null)[]> {
  if (keys.length === 0) return [];
  if (isCluster(client)) return Promise.all(keys.map((key) => client.get(key)));
  return client.mget(keys);
}

export async function pingWithin(client: RedisClient, ms: number): Promise<boolean> {
  try {
    const result = await Promise.race([
      client.ping(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms)),
    ]);
    return result === 'PONG';
  } catch {
    return false;
  }
}
