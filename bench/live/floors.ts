/**
 * What a live call cannot beat: one Redis round trip (the path makes several), and the driver
 * call itself with no queue, no HTTP and no other process in between.
 */
import { Redis } from 'ioredis';
import { SimDriver } from '../../worker/driver/sim/sim-driver.js';
import type { SimWorld } from '../../worker/driver/sim/world.js';
import type { ConnectionUpdate } from '../../worker/driver/driver.js';
import { concurrentLoops, type LatencySummary } from './latency.js';

/** GET of a presence key on one ioredis connection, like the api's own client. */
export async function redisRoundTrip(redisUrl: string, key: string, concurrency: number, durationS: number): Promise<LatencySummary> {
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
  const driver = new SimDriver({ world, redis, prefix });
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
