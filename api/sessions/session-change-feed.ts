import type { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.js';
import { changedSessionOf } from '../../shared/session-changes.js';
import type { OwnershipCache } from './ownership-cache.js';

/**
 * Keeps an ownership cache in step with the session changes any api process announces on the
 * control channel. The cache is trusted only from the moment the subscription is confirmed until
 * the connection drops: announcements made while it is down are lost, so everything remembered
 * before is dropped with it.
 */
export function followSessionChanges(subscriber: Redis, channel: string, cache: OwnershipCache, logger: Logger): void {
  const subscribe = () => {
    subscriber.subscribe(channel).then(
      () => cache.trust(),
      (err: Error) => logger.warn({ err: err.message }, 'control channel subscribe failed; session lookups go to MySQL until it succeeds'),
    );
  };
  subscriber.on('message', (from: string, raw: string) => {
    if (from !== channel) return;
    const sessionId = changedSessionOf(raw);
    if (sessionId !== undefined) cache.forget(sessionId);
  });
  subscriber.on('close', () => cache.distrust());
  subscriber.on('ready', subscribe);
  if (subscriber.status === 'ready') subscribe();
}
