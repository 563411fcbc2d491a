/**
 * What a live call cannot beat: one Redis round trip (the path makes several), and the driver
 * call itself with no queue, no HTTP and no other process in between.
 */
import { Redis } from 'ioredis';
import { LiveClient } from '../../api/live/live-client.js';
import type { Config } from '../../shared/config.js';
import { createDataSource } from '../../shared/db/data-source.js';
import { JobSigningKey } from '../../shared/job-signing/job-signing-key.js';
import { createLogger } from '../../shared/logger.js';
import { RedisKeys } from '../../shared/redis-keys.js';
import { SimDriver } from '../../worker/driver/sim/sim-driver.js';
import type { SimWorld } from '../../worker/driver/sim/world.js';
import type { ConnectionUpdate } from '../../worker/driver/driver.js';
import { concurrentLoops, summarise, type LatencySummary } from './latency.js';
import { paceSchedule } from './paced-load.js';

/**
 * The live path without the HTTP api in front: the api's own LiveClient, in this process, sends
 * `about` through the shard queues to the running workers and waits for the pub/sub reply, paced
 * like the HTTP run. What is left between this and the HTTP run is Express, authentication,
 * session lookup and rate limiting.
 */
export async function queuePathPaced(
  config: Config,
  nextCall: () => { sessionId: string; jid: string },
  rate: number,
  durationS: number,
): Promise<LatencySummary & { failures: number }> {
  const redis = new Redis(config.redis.url, { maxRetriesPerRequest: 1 });
  const subscriber = new Redis(config.redis.url, { maxRetriesPerRequest: null });
  // The workers run only jobs signed with the gateway's key, which lives in its database.
  const db = createDataSource({ ...config.db, poolSize: 1 });
  await db.initialize();
  const live = new LiveClient(
    config,
    new RedisKeys(config.redis.prefix, config.shards.count),
    redis,
    subscriber,
    new JobSigningKey(config.jobSigningSecret, db),
    createLogger('warn', 'bench-live-client'),
  );
  try {
    await live.start();
    let failures = 0;
    const call = async () => {
      const { sessionId, jid } = nextCall();
      await live.run('contacts.about', sessionId, { jid }).catch(() => failures++);
    };
    await pacedCalls(call, rate, 1);
    failures = 0;
    return { ...(await pacedCalls(call, rate, durationS)), failures };
  } finally {
    await live.stop();
    await db.destroy();
    redis.disconnect();
    subscriber.disconnect();
  }
}

/** Calls due at start + i / rate whatever happened before; each latency runs from its due time. */
async function pacedCalls(work: () => Promise<unknown>, rate: number, durationS: number): Promise<LatencySummary> {
  const latencies: number[] = [];
  const inFlight: Promise<unknown>[] = [];
  const started = performance.now();
  await paceSchedule(rate, Math.round(rate * durationS), started, (dueAt) => {
    inFlight.push(work().then(() => latencies.push(performance.now() - dueAt)));
  });
  await Promise.all(inFlight);
  return summarise(latencies, (performance.now() - started) / 1000);
}

/** GET of a presence key on one ioredis connection, like the api's own client. */
export async function redisRoundTrip(
  redisUrl: string,
  key: string,
  concurrency: number,
  durationS: number,
): Promise<LatencySummary> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    await redis.get(key);
    await concurrentLoops(() => redis.get(key), concurrency, Math.min(1, durationS));
    return await concurrentLoops(() => redis.get(key), concurrency, durationS);
  } finally {
    redis.disconnect();
  }
}

/** fetchAbout on a sim connection held in this process, over the same world and contacts. */
export async function inProcessDriverCall(
  world: SimWorld,
  redisUrl: string,
  prefix: string,
  sessionId: string,
  nextJid: () => string,
  concurrency: number,
  durationS: number,
): Promise<LatencySummary> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const driver = new SimDriver({
    world,
    redis,
    subscriber: () => new Redis(redisUrl, { maxRetriesPerRequest: null }),
    prefix,
  });
  try {
    const connection = await driver.connect(sessionId);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the in-process sim session did not come online')), 10_000);
      connection.events.on('connection', (update: ConnectionUpdate) => {
        if (update.status !== 'online') return;
        clearTimeout(timer);
        resolve();
      });
    });
    await concurrentLoops(() => connection.fetchAbout(nextJid()), concurrency, Math.min(1, durationS));
    return await concurrentLoops(() => connection.fetchAbout(nextJid()), concurrency, durationS);
  } finally {
    await driver.dispose();
    redis.disconnect();
  }
}
