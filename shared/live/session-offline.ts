import { AppError } from '../errors.js';
import type { RedisClient } from '../redis.js';
import type { RedisKeys } from '../redis-keys.js';

/**
 * Why a live call cannot run on a session that is not connected here: it is moving to another
 * worker (503, retry in a moment), or it is offline (501, the contract's answer). Moving: marked as
 * handed over, or still shown present by a worker that died before the next owner took it up. Read
 * only once the call found no connection, so a connected session's call pays nothing for it.
 */
export async function sessionOfflineError(redis: RedisClient, keys: RedisKeys, sessionId: string): Promise<AppError> {
  // One slot: both keys carry the session's shard tag.
  if ((await redis.exists(keys.handover(sessionId), keys.presence(sessionId))) > 0)
    return new AppError(
      'unavailable',
      'the session is moving to another worker and reconnects there in a moment; try again in a few seconds',
      { sessionId },
    );
  return new AppError('not_implemented', 'session is not connected; live operations need a connected session', {
    sessionId,
  });
}
