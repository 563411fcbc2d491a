import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { loadConfig } from '../shared/config.js';
import { connectWithRetry } from '../shared/db/connect.js';
import { createDataSource } from '../shared/db/data-source.js';
import { createLogger } from '../shared/logger.js';
import { blockingRedisOptions, createRedis } from '../shared/redis.js';
import { RedisKeys } from '../shared/redis-keys.js';
import { parseControlMessage } from '../shared/control-messages.js';
import { onMessage, subscribe } from '../shared/redis-pubsub.js';
import { shardOf } from '../shared/shards.js';
import { JobSigningKey } from '../shared/job-signing/job-signing-key.js';
import { createBatchConsumers } from './batches/create-batch-consumers.js';
import { SessionRateLimiter } from './batches/session-rate-limiter.js';
import { createDriver } from './driver/create-driver.js';
import { startHealthServer } from './health-server.js';
import { ContactIngestor } from './ingest/contact-ingestor.js';
import type { WriteCounts } from './ingest/ingest-writer.js';
import { sessionOfflineError } from '../shared/live/session-offline.js';
import { LiveExecutor } from './live/live-executor.js';
import { ShardConsumers } from './live/shard-consumers.js';
import { SessionManager } from './sessions/session-manager.js';
import { ShardLeases } from './shards/shard-leases.js';
import { WebhookDispatcher } from './webhooks/webhook-dispatcher.js';
import { WorkerMetrics } from './worker-metrics.js';

const config = loadConfig();
const workerId = config.worker.id ?? `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
const logger = createLogger(config.logLevel, 'worker').child({ workerId });
// A stray rejection in one session's socket code must not drop every session this worker holds.
process.on('unhandledRejection', (err) =>
  logger.error({ err }, 'unhandled rejection (a bug): the worker keeps its sessions'),
);
const keys = new RedisKeys(config.redis.prefix, config.shards.count);

const db = createDataSource(config.db);
const connection = connectWithRetry(db, logger);
await connection.ready;
// Every job is checked against it, so the worker takes no job before it has the key.
const signer = await new JobSigningKey(config.jobSigningSecret, db).signer();

// Lease and presence commands fail fast while Redis is down (the lease fence depends on it);
// BullMQ's consumers get their own never-give-up connection.
const redis = createRedis(config.redis);
const bullConnection = createRedis(config.redis, blockingRedisOptions());
for (const client of [redis, bullConnection])
  client.on('error', (err: Error) => logger.debug({ err: err.message }, 'redis error'));

const metrics = new WorkerMetrics(workerId, {
  online: () => sessions.onlineCount,
  shards: () => leases.shards.length,
  liveRunning: () => consumers.running,
});
// Every live query counts against the session's bulk-check budget (the same Redis bucket the batches pace themselves by).
const queryBudget = new SessionRateLimiter(
  redis,
  keys,
  config.batches.ratePerMinute,
  config.batches.chunkSize,
  config.batches.dailyLimit,
);
const driver = await createDriver(config, {
  db,
  redis,
  subscriber: () => createRedis(config.redis, blockingRedisOptions()),
  keys,
  logger,
  countQueries: (sessionId, numbers) =>
    void queryBudget
      .charge(sessionId, numbers)
      .catch((err: Error) =>
        logger.debug({ err: err.message, sessionId }, 'could not count a query against the session budget'),
      ),
  observer: { socketClosed: (reason) => metrics.whatsappDisconnects.inc({ reason }) },
});
const webhooks = new WebhookDispatcher(config, {
  db,
  redis,
  bullConnection,
  keys,
  workerId,
  logger,
  onDelivered: (outcome) => metrics.webhookDeliveries.inc({ outcome }),
});
const ingestor = new ContactIngestor(db, logger, {
  events: webhooks.sinks,
  onWritten: (counts) => {
    for (const kind of Object.keys(counts) as (keyof WriteCounts)[])
      if (counts[kind] > 0) metrics.ingestedRows.inc({ kind }, counts[kind]);
  },
});
const sessions = new SessionManager(
  driver,
  db,
  redis,
  keys,
  ingestor,
  {
    shardCount: config.shards.count,
    presenceTtlMs: config.live.presenceTtlMs,
    workerId,
    pairingWindowMs: config.pairing.windowMs,
    reconcileIntervalMs: config.reconcileIntervalMs,
    leaseOf: (shard) => leases.leaseOf(shard),
  },
  logger,
  webhooks.sinks,
);
/** A worker that may have lost a shard's lease acts on none of its sessions (the fence). */
const leaseHeld = (sessionId: string) => leases.leaseOf(shardOf(sessionId, config.shards.count)) !== undefined;
const executor = new LiveExecutor(
  (id, requires) => sessions.connectionOf(id, requires),
  leaseHeld,
  (id) => sessionOfflineError(redis, keys, id),
  redis,
  logger,
  (op, outcome, seconds) => metrics.liveOps.observe({ op, outcome }, seconds),
);
const consumers = new ShardConsumers(
  bullConnection,
  redis,
  (shard) => leases.leaseOf(shard),
  keys,
  executor,
  config.worker.concurrency,
  signer,
  logger,
  () => metrics.jobsRefused.inc({ queue: 'live' }),
);
const batches = createBatchConsumers(config, {
  db,
  redis,
  bullConnection,
  keys,
  connectionOf: (id) => (leaseHeld(id) ? sessions.connectionOf(id, 'online') : undefined),
  logger,
  signer,
  onChecked: (n) => metrics.batchNumbersChecked.inc(n),
  onRefused: () => metrics.jobsRefused.inc({ queue: 'batch' }),
  events: webhooks.sinks,
});
const leases = new ShardLeases(
  redis,
  keys,
  { workerId, shardCount: config.shards.count, leaseTtlMs: config.shards.leaseTtlMs },
  {
    acquire: async (shard) => {
      consumers.start(shard);
      batches.start(shard);
      await sessions.startShard(shard);
    },
    release: async (shard) => {
      await Promise.all([consumers.stop(shard), batches.stop(shard)]);
      await sessions.stopShard(shard);
    },
  },
  logger,
);

// The api announces created, deleted and pairing sessions here, so their owner acts on them before the next reconcile.
const control = createRedis(config.redis, blockingRedisOptions());
control.on('error', (err: Error) => logger.debug({ err: err.message }, 'redis control subscriber error'));
onMessage(control, (_channel: string, raw: string) => {
  const message = parseControlMessage(raw);
  if (message?.type === 'session.changed') void sessions.reconcile(message.sessionId);
});
void subscribe(control, keys.control()).catch((err: Error) =>
  logger.warn({ err: err.message }, 'control channel subscribe failed'),
);

// Leases are Redis commands that fail fast; start claiming once Redis has answered.
// Not events.once: it would reject on the first connection error (Redis failing over as we start).
if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
sessions.start();
leases.start();
webhooks.start();
const health = config.worker.metricsPort
  ? startHealthServer(
      config.worker.metricsPort,
      config.http.host,
      () => ({ workerId, shards: leases.shards, sessions: sessions.count, online: sessions.onlineCount }),
      async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
      config.metrics.token,
    )
  : undefined;
logger.info({ driver: driver.kind, shardCount: config.shards.count }, 'worker started');

let shuttingDown = false;
async function shutdown(signal: string): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  logger.info({ signal }, 'shutting down: finishing in-flight jobs and handing shards over');
  const forced = setTimeout(() => {
    logger.error('graceful shutdown took too long; exiting');
    process.exit(1);
  }, 30_000);
  forced.unref();
  control.disconnect();
  await leases.stop();
  await sessions.stop();
  await webhooks.stop();
  await driver.dispose?.();
  await ingestor.drain();
  health?.close();
  connection.stop();
  await Promise.allSettled([db.destroy(), redis.quit(), bullConnection.quit()]);
  logger.info('bye');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
