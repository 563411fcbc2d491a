import assert from 'node:assert/strict';
import { Cluster, Redis } from 'ioredis';
import { ConfigError, loadConfig } from '../shared/config.js';
import { createRedis } from '../shared/redis.js';
import { RedisKeys } from '../shared/redis-keys.js';
import { shardOf } from '../shared/shards.js';

const redisOf = (env: Record<string, string>) => loadConfig(env).redis;

describe('Redis settings (REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES)', () => {
  it('reads one server from REDIS_URL, with its user, password, database and TLS', () => {
    assert.deepEqual(redisOf({}).topology, { kind: 'single' });
    const r = redisOf({ REDIS_URL: 'rediss://gw:p%40ss@redis.internal:6380/2' });
    assert.deepEqual(
      { username: r.username, password: r.password, tls: r.tls, db: r.db },
      { username: 'gw', password: 'p@ss', tls: true, db: 2 },
    );
    assert.equal(redisOf({ REDIS_URL: 'redis://127.0.0.1:6379' }).tls, false);
  });

  it('reads a Sentinel set with its master name and password', () => {
    const r = redisOf({
      REDIS_SENTINELS: '10.0.0.1:26379, 10.0.0.2:26380,[::1]:26381',
      REDIS_SENTINEL_NAME: 'main',
      REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
    });
    assert.deepEqual(r.topology, {
      kind: 'sentinel',
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: '10.0.0.2', port: 26380 },
        { host: '::1', port: 26381 },
      ],
      name: 'main',
      sentinelPassword: 'sentinel-secret',
    });
  });

  it('reads Cluster nodes', () => {
    assert.deepEqual(redisOf({ REDIS_CLUSTER_NODES: 'a:7000,b:7001' }).topology, {
      kind: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
      ],
    });
  });

  it('refuses an entry that is not host:port, both topologies at once, another scheme, and a database on a Cluster', () => {
    for (const env of [
      { REDIS_SENTINELS: '10.0.0.1' },
      { REDIS_SENTINELS: '10.0.0.1:0' },
      { REDIS_CLUSTER_NODES: 'a:70000' },
      { REDIS_CLUSTER_NODES: ' , ' },
      { REDIS_SENTINELS: 'a:1', REDIS_CLUSTER_NODES: 'b:2' },
      { REDIS_URL: 'http://127.0.0.1:6379' },
      { REDIS_URL: 'redis://127.0.0.1:6379/3', REDIS_CLUSTER_NODES: 'a:7000' },
    ]) {
      assert.throws(() => loadConfig(env), ConfigError, JSON.stringify(env));
    }
  });

  it('makes a cluster client for REDIS_CLUSTER_NODES and a Sentinel-aware one for REDIS_SENTINELS', () => {
    const cluster = createRedis(redisOf({ REDIS_CLUSTER_NODES: '127.0.0.1:1' }), { lazyConnect: true });
    const sentinel = createRedis(redisOf({ REDIS_SENTINELS: '127.0.0.1:1', REDIS_SENTINEL_NAME: 'main' }), {
      lazyConnect: true,
    });
    try {
      assert.ok(cluster instanceof Cluster);
      assert.ok(sentinel instanceof Redis);
      assert.equal(sentinel.options.name, 'main');
      assert.deepEqual(sentinel.options.sentinels, [{ host: '127.0.0.1', port: 1 }]);
    } finally {
      cluster.disconnect();
      sentinel.disconnect();
    }
  });

  it("puts everything of one shard under the shard's hash tag, so it lies in one Cluster slot", () => {
    const keys = new RedisKeys('wag', 16);
    const sessionId = 'sess_slot_test';
    const tag = `{shard-${shardOf(sessionId, 16)}}`;
    const tagOf = (key: string) => /\{[^}]*\}/.exec(key)?.[0];
    for (const key of [
      keys.lease(shardOf(sessionId, 16)),
      keys.leaseEpoch(shardOf(sessionId, 16)),
      keys.presence(sessionId),
      keys.batchRateBucket(sessionId),
      keys.liveQueuePrefix(shardOf(sessionId, 16)),
      keys.batchQueuePrefix(shardOf(sessionId, 16)),
    ]) {
      assert.equal(tagOf(key), tag, key);
    }
    assert.equal(tagOf(keys.workers()), tagOf(keys.workerShardCounts()));
  });
});
