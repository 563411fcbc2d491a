import type { RedisClient } from '../../shared/redis.js';
import type { Logger } from '../../shared/logger.js';
import { parseControlMessage } from '../../shared/control-messages.js';
import type { PushedCache } from '../cache/pushed-cache.js';
import { onMessage, subscribe } from '../../shared/redis-pubsub.js';

export interface ControlledCaches {
  /** Session id → owning organization. */
  sessionOwners: PushedCache<string>;
  /** API key id → its row. */
  apiKeys: PushedCache<unknown>;
}

/**
 * Keeps the api's caches in step with what any process announces on the control channel. They are
 * trusted only from the moment the subscription is confirmed until the connection drops:
 * announcements made while it is down are lost, so everything remembered before is dropped with it.
 */
export function followControlChannel(
  subscriber: RedisClient,
  channel: string,
  caches: ControlledCaches,
  logger: Logger,
): void {
  const all = [caches.sessionOwners, caches.apiKeys];
  const follow = () => {
    subscribe(subscriber, channel).then(
      () => all.forEach((cache) => cache.trust()),
      (err: Error) =>
        logger.warn(
          { err: err.message },
          'control channel subscribe failed; sessions and API keys are read from MySQL until it succeeds',
        ),
    );
  };
  onMessage(subscriber, (from: string, raw: string) => {
    if (from !== channel) return;
    const message = parseControlMessage(raw);
    if (message?.type === 'session.changed') caches.sessionOwners.forget(message.sessionId);
    else if (message?.type === 'api_key.revoked') caches.apiKeys.forget(message.keyId);
  });
  subscriber.on('close', () => all.forEach((cache) => cache.distrust()));
  subscriber.on('ready', follow);
  if (subscriber.status === 'ready') follow();
}
