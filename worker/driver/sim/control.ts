/**
 * The sim's control channel: what a person's phone would do to a session (scan the QR, drop the
 * network, log the device out), published on Redis pub/sub so tests, benchmarks and demos can
 * drive sessions held by any worker process.
 */
import type { RedisClient } from '../../../shared/redis.js';
import { publish } from '../../../shared/redis-pubsub.js';
import { z } from 'zod';
import { SimStateStore } from './state-store.js';

export const simControlMessageSchema = z.object({
  sessionId: z.string().min(1),
  action: z.enum(['pair', 'disconnect', 'reconnect', 'logout']),
  /** 'pair' only: the phone the session pairs as, when the world does not list the session. */
  phone: z
    .string()
    .regex(/^[1-9]\d{6,14}$/)
    .optional(),
  /** 'disconnect' only: the reason reported in the 'offline' update (default 'connection_lost'). */
  reason: z.string().min(1).optional(),
});

export type SimControlMessage = z.infer<typeof simControlMessageSchema>;

export const simControlChannel = (prefix: string) => `${prefix}:sim:control`;

/**
 * Records the change in the shared state first (so it holds even when no worker holds the session
 * right now, or the one that does is between connections), then tells the holder to act on it.
 */
export async function simControl(redis: RedisClient, prefix: string, message: SimControlMessage): Promise<void> {
  const parsed = simControlMessageSchema.parse(message);
  const store = new SimStateStore(redis, prefix);
  switch (parsed.action) {
    case 'pair':
      await store.markPaired(parsed.sessionId, parsed.phone);
      break;
    case 'logout':
      await store.markUnpaired(parsed.sessionId);
      break;
    case 'disconnect':
      await store.setDown(parsed.sessionId, true);
      break;
    case 'reconnect':
      await store.setDown(parsed.sessionId, false);
      break;
  }
  await publish(redis, simControlChannel(prefix), JSON.stringify(parsed));
}
