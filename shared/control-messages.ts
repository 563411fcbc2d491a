import type { RedisClient } from './redis.js';
import { flushed, publish } from './redis-pubsub.js';

/**
 * What is announced on the control channel. Workers reconcile a changed session they hold; api
 * processes drop what they remember about the session or the key.
 */
export type ControlMessage =
  /** The api changed a session: created, paired, logged out, deleted. */
  | { type: 'session.changed'; sessionId: string }
  /** An API key was revoked: refuse it from the next request on. */
  | { type: 'api_key.revoked'; keyId: string };

export function sessionChangedMessage(sessionId: string): string {
  return JSON.stringify({ type: 'session.changed', sessionId } satisfies ControlMessage);
}

export function apiKeyRevokedMessage(keyId: string): string {
  return JSON.stringify({ type: 'api_key.revoked', keyId } satisfies ControlMessage);
}

/** The message, or undefined for anything that is not one. */
export function parseControlMessage(raw: string): ControlMessage | undefined {
  try {
    const message = JSON.parse(raw) as Record<string, unknown> | null;
    if (message?.['type'] === 'session.changed' && typeof message['sessionId'] === 'string')
      return { type: 'session.changed', sessionId: message['sessionId'] };
    if (message?.['type'] === 'api_key.revoked' && typeof message['keyId'] === 'string')
      return { type: 'api_key.revoked', keyId: message['keyId'] };
    return undefined;
  } catch {
    return undefined;
  }
}

/** Publishes one control message; the admin service is given one so revocations reach every api process. */
export type Announce = (message: string) => Promise<unknown>;

/**
 * Publishes on `channel` and resolves once the message is on its way to every subscriber: Redis
 * may answer PUBLISH before it has written the message to the subscribers' sockets.
 */
export function announcer(redis: RedisClient, channel: string): Announce {
  return async (message) => {
    await publish(redis, channel, message);
    await flushed(redis, channel);
  };
}
