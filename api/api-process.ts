import { once } from 'node:events';
import type { Config } from '../shared/config.js';
import { connectWithRetry, mysqlReachable } from '../shared/db/connect.js';
import { createDataSource } from '../shared/db/data-source.js';
import type { Logger } from '../shared/logger.js';
import { createRedis, pingWithin } from '../shared/redis.js';
import { RedisKeys } from '../shared/redis-keys.js';
import { JobSigningKey } from '../shared/job-signing/job-signing-key.js';
import { createApp } from './app.js';
import { createExpressServer } from './http/express-server.js';
import { LiveClient } from './live/live-client.js';
import { ApiMetrics } from './metrics/api-metrics.js';
import { PushedCache } from './cache/pushed-cache.js';
import { followControlChannel } from './control/control-feed.js';
import type { VerifiableKey } from './auth/api-key-verifier.js';
import { closeWatchedQueues, watchedQueues } from './queues/watched-queues.js';
import type { MetricsSource } from './cluster/cluster-metrics.js';

/** One api process: HTTP server, pools and caches, until SIGTERM or SIGINT drains it. */
export async function runApiProcess(config: Config, logger: Logger, metricsSource: MetricsSource): Promise<void> {
  // One request's stray rejection must not end the process serving every other request: logged
  // as the bug it is, and the process keeps serving.
  process.on('unhandledRejection', (err) =>
    logger.error({ err }, 'unhandled rejection (a bug): the api keeps serving'),
  );
  const db = createDataSource(config.db);
  const redis = createRedis(config.redis);
  redis.on('error', (err: Error) => logger.debug({ err: err.message }, 'redis error'));

  const subscriber = createRedis(config.redis, { enableOfflineQueue: true, maxRetriesPerRequest: null });
  subscriber.on('error', (err: Error) => logger.debug({ err: err.message }, 'redis subscriber error'));
  const keys = new RedisKeys(config.redis.prefix, config.shards.count);
  const queues = watchedQueues(keys, config.shards.count, redis, (err, label) =>
    logger.debug({ err: err.message, queue: label }, 'watched queue error'),
  );
  const metrics = new ApiMetrics(queues, logger);
  const signing = new JobSigningKey(config.jobSigningSecret, db);
  const live = new LiveClient(config, keys, redis, subscriber, signing, logger, (op, outcome, seconds) =>
    metrics.liveOps.observe({ op, outcome }, seconds),
  );
  void live.start();
  const ownership = new PushedCache<string>(config.sessionOwnerCacheMs);
  const apiKeyCache = new PushedCache<VerifiableKey>(config.apiKeys.cacheMs);
  followControlChannel(subscriber, keys.control(), { sessionOwners: ownership, apiKeys: apiKeyCache }, logger);

  const connection = connectWithRetry(db, logger);
  // Read the job signing key as soon as MySQL answers, rather than on the first live call.
  void connection.ready
    .then(() => signing.signer())
    .catch((err: Error) =>
      logger.warn({ err: err.message }, 'job signing key not read yet; the first job will read it'),
    );
  const { app, apiKeys } = createApp({
    config,
    logger,
    db,
    live,
    redis,
    keys,
    metrics,
    queues,
    ownership,
    apiKeyCache,
    signing,
    metricsText: metricsSource(metrics.registry),
    readiness: async () => {
      const [mysql, redisUp] = await Promise.all([mysqlReachable(db, 1500), pingWithin(redis, 1500)]);
      return { mysql, redis: redisUp };
    },
  });
  apiKeys.start();

  const server = createExpressServer(app).listen(config.http.port, config.http.host);
  await once(server, 'listening');
  const address = server.address();
  logger.info({ port: typeof address === 'object' && address ? address.port : config.http.port }, 'api listening');

  let shuttingDown = false;
  async function shutdown(signal: string): Promise<void> {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'shutting down: draining HTTP connections');
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const forced = setTimeout(() => server.closeAllConnections(), 10_000);
    await closed;
    clearTimeout(forced);
    connection.stop();
    await apiKeys.stop().catch(() => undefined);
    await live.stop();
    await closeWatchedQueues(queues);
    await Promise.allSettled([db.isInitialized ? db.destroy() : Promise.resolve(), redis.quit(), subscriber.quit()]);
    logger.info('bye');
    process.exit(0);
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
