import type { RedisClient } from './redis.js';
import { isCluster } from './redis.js';

/**
 * Pub/sub that works on every topology. On a Cluster a plain PUBLISH is copied to every node;
 * sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7) keeps each channel on the node owning its slot.
 */
export async function publish(client: RedisClient, channel: string, message: string): Promise<void> {
  await (isCluster(client) ? client.spublish(channel, message) : client.publish(channel, message));
}

export async function subscribe(client: RedisClient, channel: string): Promise<void> {
  await (isCluster(client) ? client.ssubscribe(channel) : client.subscribe(channel));
}

export async function unsubscribe(client: RedisClient, channel: string): Promise<void> {
  await (isCluster(client) ? client.sunsubscribe(channel) : client.unsubscribe(channel));
}

export function onMessage(client: RedisClient, handler: (channel: string, message: string) => void): void {
  client.on(isCluster(client) ? 'smessage' : 'message', handler);
}

/**
 * Resolves once what was published before is on its way to the subscribers: Redis writes
 * everything a command queued before it reads the next, so the answer to a command on the same
 * node follows them. EXISTS of the channel's own name goes to the node owning its slot, which is
 * where a sharded message went.
 */
export async function flushed(client: RedisClient, channel: string): Promise<void> {
  await client.exists(channel);
}
