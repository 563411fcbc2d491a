import { createHash } from 'node:crypto';
import type { RedisClient } from '../../shared/redis.js';
import { RateLimiterRedis, type RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { within } from '../../shared/within.js';

const WINDOW_SECONDS = 15 * 60;
/** The admin pages must not hang on a slow Redis: past this the throttle steps aside. */
const REDIS_BUDGET_MS = 250;

/**
 * Failed Bull Board logins (operator password, or a token on the form or in a header) counted per
 * client address and per operator user name in Redis, so every api process shares the count. Once
 * either has failed ADMIN_LOGIN_FAILURES times in 15 minutes, further attempts are refused with
 * 429 before the credentials are even compared, the right ones too, until the window ends. While
 * Redis is unreachable the throttle lets attempts through (and says so once): Bull Board needs
 * Redis anyway, and an operator must not be locked out by an outage.
 */
export class LoginThrottle {
  private readonly limiter: RateLimiterRedis | undefined;
  private failingOpen = false;

  constructor(
    redis: RedisClient,
    keyPrefix: string,
    private readonly failures: number,
    private readonly logger: Logger,
  ) {
    this.limiter =
      failures > 0
        ? new RateLimiterRedis({
            storeClient: redis,
            keyPrefix,
            points: failures,
            duration: WINDOW_SECONDS,
            rejectIfRedisNotReady: true,
          })
        : undefined;
  }

  /** Throws 429 rate_limited when the client, or the operator user name, has failed too often lately. */
  async check(client: string, user?: string): Promise<void> {
    if (!this.limiter) return;
    const limiter = this.limiter;
    const states = await this.guard(() => Promise.all(keysOf(client, user).map((key) => limiter.get(key))));
    const over = (states ?? []).filter((s): s is RateLimiterRes => s !== null && s.consumedPoints >= this.failures);
    if (over.length === 0) return;
    const retryAfterSeconds = Math.max(1, Math.ceil(Math.max(...over.map((s) => s.msBeforeNext)) / 1000));
    throw new AppError('rate_limited', `too many failed sign-ins; retry in ${retryAfterSeconds} s`, {
      retryAfterSeconds,
    });
  }

  async failed(client: string, user?: string): Promise<void> {
    if (!this.limiter) return;
    const limiter = this.limiter;
    // A rejection only says the limit is now reached; check() refuses the next attempt.
    await this.guard(() => Promise.allSettled(keysOf(client, user).map((key) => limiter.consume(key))));
  }

  /** The operator got in: earlier typos under that name no longer count (the client's count stays). */
  async succeeded(user: string): Promise<void> {
    if (!this.limiter) return;
    const limiter = this.limiter;
    await this.guard(() => limiter.delete(userKey(user)));
  }

  private async guard<T>(action: () => Promise<T>): Promise<T | undefined> {
    try {
      const result = await within(action(), REDIS_BUDGET_MS);
      if (this.failingOpen) this.logger.info('login throttle reaches Redis again');
      this.failingOpen = false;
      return result;
    } catch (err) {
      if (!this.failingOpen)
        this.logger.warn(
          { err: (err as Error).message },
          'login throttle cannot reach Redis; sign-in attempts are not counted',
        );
      this.failingOpen = true;
      return undefined;
    }
  }
}

/** User names come from the request, of any length: the key holds a digest. */
const userKey = (user: string) => `user:${createHash('sha256').update(user).digest('base64url')}`;
const keysOf = (client: string, user: string | undefined) =>
  user === undefined ? [`client:${client}`] : [`client:${client}`, userKey(user)];
